import { describe, expect, it } from 'vitest'
import { BYTES_TAG, decodeBase64, encodeBase64, fromWireJson, toWireJson } from '../../common/wire.ts'

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

describe("serve mode's wire format (common/wire.ts)", () => {
  it('base64 agrees with Node for every length and padding, both ways', () => {
    for (let length = 0; length < 70; length++) {
      const data = bytes(length, length + 1)
      const expected = Buffer.from(data).toString('base64')
      expect(encodeBase64(data), `length ${length}`).toBe(expected)
      expect(decodeBase64(expected), `length ${length}`).toEqual(data)
    }
    const large = bytes(100_003, 7)
    expect(encodeBase64(large)).toBe(Buffer.from(large).toString('base64'))
    expect(decodeBase64(Buffer.from(large).toString('base64'))).toEqual(large)
    expect(encodeBase64(Uint8Array.of(0, 255, 254, 253))).toBe('AP/+/Q==')
  })

  it('refuses malformed base64', () => {
    for (const bad of ['abc', 'ab=c', '====', 'a!bc', 'abcd\u00e9fgh', 'a=bc']) {
      expect(() => decodeBase64(bad), bad).toThrow(/base64/)
    }
  })

  it('sends a Uint8Array (and a Buffer) as {"$bytes": base64}, never as {"0": …}', () => {
    const png = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10)
    const text = toWireJson({ ok: true, value: { images: [{ png, index: 0 }], buf: Buffer.from([1, 2, 3]) } })
    expect(JSON.parse(text)).toEqual({
      ok: true,
      value: { images: [{ png: { [BYTES_TAG]: 'iVBORw0KGgo=' }, index: 0 }], buf: { [BYTES_TAG]: 'AQID' } },
    })
    expect(text).not.toContain('"0":')
  })

  it('a round trip gives back Uint8Arrays, views included, and leaves everything else alone', () => {
    const backing = bytes(32, 3)
    const view = backing.subarray(5, 17)
    const value = {
      png: view,
      empty: new Uint8Array(0),
      list: [bytes(3, 1), 'text', 4, null, true],
      nested: { deeper: { data: bytes(10, 2) } },
      lookalike: { [BYTES_TAG]: 'AQID', other: 1 },
      notString: { [BYTES_TAG]: 5 },
    }
    const back = fromWireJson(toWireJson(value)) as typeof value
    expect(back.png).toBeInstanceOf(Uint8Array)
    expect(back.png).toEqual(Uint8Array.from(view))
    expect(back.empty).toEqual(new Uint8Array(0))
    expect(back.list[0]).toEqual(bytes(3, 1))
    expect(back.list.slice(1)).toEqual(['text', 4, null, true])
    expect(back.nested.deeper.data).toEqual(bytes(10, 2))
    expect(back.lookalike).toEqual({ [BYTES_TAG]: 'AQID', other: 1 })
    expect(back.notString).toEqual({ [BYTES_TAG]: 5 })
    // The root itself may be bytes.
    expect(fromWireJson(toWireJson(Uint8Array.of(9, 8)))).toEqual(Uint8Array.of(9, 8))
  })

  it('throws on bad JSON or bad base64 inside, instead of handing over garbage', () => {
    expect(() => fromWireJson('{"ok": ')).toThrow()
    expect(() => fromWireJson(`{"png": {"${BYTES_TAG}": "not base64!"}}`)).toThrow(/base64/)
  })
})
