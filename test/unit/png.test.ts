import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import {
  decodePngRgb,
  encodePng,
  PNG_MAX_DIMENSION,
  pngInternals,
  readPngText,
} from '../../main/engine/output/png.ts'

/** Seeded bytes (mulberry32), so every run tests the same images and a failure can be reproduced. */
function randomRgb(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3)
  let s = seed >>> 0
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = (t ^ (t >>> 14)) >>> 24
  }
  return out
}

/** Gradients with a little noise: the kind of image where Sub, Up, Average and Paeth actually win rows. */
function smoothRgb(width: number, height: number, seed: number): Uint8Array {
  const noise = randomRgb(width, height, seed)
  const out = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < 3; ch++) {
        const i = (y * width + x) * 3 + ch
        const base = 128 + 100 * Math.sin(x / 9 + ch) * Math.cos(y / 13)
        out[i] = (Math.round(base) + ((noise[i] as number) & 3)) & 0xff
      }
    }
  }
  return out
}

interface TestChunk {
  type: string
  offset: number
  length: number
}

/** An independent, minimal chunk walker (no CRC checks), to locate chunks for the tests. */
function listChunks(png: Uint8Array): TestChunk[] {
  const view = Buffer.from(png.buffer, png.byteOffset, png.byteLength)
  const chunks: TestChunk[] = []
  for (let offset = 8; offset < view.length; ) {
    const length = view.readUInt32BE(offset)
    chunks.push({ type: view.toString('latin1', offset + 4, offset + 8), offset, length })
    offset += 12 + length
  }
  return chunks
}

function chunkOf(png: Uint8Array, type: string): TestChunk {
  const chunk = listChunks(png).find((c) => c.type === type)
  if (chunk === undefined) throw new Error(`test: no ${type} chunk`)
  return chunk
}

/** A chunk built by the test, with its CRC from zlib (checked against the module's own table below). */
function rawChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(zlib.crc32(body) >>> 0, 8 + data.length)
  return out
}

/** The PNG with extra chunks inserted right after IHDR. */
function withChunks(png: Buffer, ...chunks: Buffer[]): Buffer {
  const afterIhdr = 8 + 12 + 13
  return Buffer.concat([png.subarray(0, afterIhdr), ...chunks, png.subarray(afterIhdr)])
}

/** A copy of the PNG with the IHDR byte at `index` (0-12) changed and the CRC fixed, so only the content is wrong. */
function withIhdrByte(png: Buffer, index: number, value: number): Buffer {
  const data = Buffer.from(png.subarray(16, 29))
  data[index] = value
  return Buffer.concat([png.subarray(0, 8), rawChunk('IHDR', data), png.subarray(33)])
}

/** The PNG with its IDAT replaced by the given scanline bytes (filter byte + row, per row), deflated. */
function withScanlines(png: Buffer, scanlines: Uint8Array): Buffer {
  const idat = chunkOf(png, 'IDAT')
  return Buffer.concat([
    png.subarray(0, idat.offset),
    rawChunk('IDAT', zlib.deflateSync(scanlines)),
    png.subarray(idat.offset + 12 + idat.length),
  ])
}

/** The filter type byte of every row. */
function rowFilters(png: Buffer, width: number, height: number): number[] {
  const idat = chunkOf(png, 'IDAT')
  const raw = zlib.inflateSync(png.subarray(idat.offset + 8, idat.offset + 8 + idat.length))
  return Array.from({ length: height }, (_, y) => raw[y * (width * 3 + 1)] as number)
}

const flipped = (png: Buffer, at: number): Buffer => {
  const copy = Buffer.from(png)
  copy[at] = (copy[at] as number) ^ 0x10
  return copy
}

const SIZES: [number, number][] = [
  [1, 1],
  [32, 32],
  [17, 5],
  [5, 17],
  [1, 40],
  [40, 1],
  [256, 256],
]

describe('encode and decode round trip', () => {
  it.each(SIZES)('%ix%i random and smooth images are pixel-exact', (width, height) => {
    for (const rgb of [randomRgb(width, height, width * 1000 + height), smoothRgb(width, height, 7)]) {
      const decoded = decodePngRgb(encodePng(rgb, width, height))
      expect(decoded.width).toBe(width)
      expect(decoded.height).toBe(height)
      expect(Buffer.from(decoded.rgb).equals(Buffer.from(rgb))).toBe(true)
    }
  })

  it('decodes each of the five filter types, used on every row', () => {
    for (const [width, height] of [
      [1, 1],
      [1, 6],
      [17, 5],
      [64, 48],
    ] as const) {
      const rgb = smoothRgb(width, height, 3)
      for (const filter of [0, 1, 2, 3, 4] as const) {
        const png = pngInternals.encodeWithFilter(rgb, width, height, filter)
        expect(rowFilters(png, width, height)).toEqual(new Array(height).fill(filter))
        expect(Buffer.from(decodePngRgb(png).rgb).equals(Buffer.from(rgb))).toBe(true)
      }
    }
  })

  it('chooses the filter per row: a predictor for gradients, whatever wins for flat and noisy rows', () => {
    const width = 64
    // Flat rows (None and Up both sum to 0 there, and ties go to None), then gradients.
    const rgb = Buffer.concat([new Uint8Array(width * 3 * 4), smoothRgb(width, 8, 1)])
    const filters = rowFilters(encodePng(rgb, width, 12), width, 12)
    expect(filters.slice(0, 4)).toEqual([0, 0, 0, 0])
    expect(filters.slice(4).every((f) => f !== 0)).toBe(true)
    expect(new Set(filters).size).toBeGreaterThanOrEqual(3)
  })

  it('compresses smooth images and barely grows noise', () => {
    const smooth = encodePng(smoothRgb(256, 256, 5), 256, 256)
    const noise = encodePng(randomRgb(256, 256, 5), 256, 256)
    expect(smooth.length).toBeLessThan(0.6 * 256 * 256 * 3)
    expect(noise.length).toBeLessThan(1.01 * 256 * 256 * 3 + 200)
  })

  it('accepts a Buffer and a Uint8Array view with an offset', () => {
    const rgb = randomRgb(4, 3, 9)
    const backing = new Uint8Array(rgb.length + 10)
    backing.set(rgb, 5)
    const view = backing.subarray(5, 5 + rgb.length)
    const expected = encodePng(rgb, 4, 3)
    expect(encodePng(view, 4, 3).equals(expected)).toBe(true)
    expect(encodePng(Buffer.from(rgb), 4, 3).equals(expected)).toBe(true)
    const pngView = new Uint8Array(expected.length + 3)
    pngView.set(expected, 3)
    expect(Buffer.from(decodePngRgb(pngView.subarray(3)).rgb).equals(Buffer.from(rgb))).toBe(true)
  })

  it('is fast: a 32x32 image encodes in well under a millisecond', () => {
    const rgb = randomRgb(32, 32, 2)
    const text = { parameters: JSON.stringify({ prompt: 'a cat', seed: 42 }) }
    for (let i = 0; i < 50; i++) encodePng(rgb, 32, 32, text) // warm up the JIT
    const runs = 200
    const start = performance.now()
    for (let i = 0; i < runs; i++) encodePng(rgb, 32, 32, text)
    // Typically ~0.1 ms; the bound is loose because the tests share the CPU with other work.
    expect((performance.now() - start) / runs).toBeLessThan(1)
  })
})

describe('text metadata', () => {
  const longJson = JSON.stringify({
    items: Array.from({ length: 2000 }, (_, i) => ({ i, prompt: `prompt ${i} ✨`, seed: i * 7919 })),
  })

  it('round-trips ASCII, Unicode, empty and 100 kB JSON values', () => {
    expect(longJson.length).toBeGreaterThan(100_000)
    const text = {
      parameters: JSON.stringify({ prompt: 'an astronaut riding a horse', seed: 42, steps: 1 }),
      prompt: '猫 🐱 كلب naïve e\u0301 \u{1f468}\u200d\u{1f469}\u200d\u{1f467}',
      'Größe und Maß': 'Latin-1 keyword',
      'with single spaces': 'line one\nline two\r\n\ttabbed',
      empty: '',
      big: longJson,
    }
    const png = encodePng(randomRgb(8, 8, 4), 8, 8, text)
    expect(readPngText(png)).toEqual(text)
    expect(Buffer.from(decodePngRgb(png).rgb).equals(Buffer.from(randomRgb(8, 8, 4)))).toBe(true)
  })

  it('writes uncompressed iTXt chunks between IHDR and IDAT', () => {
    const png = encodePng(randomRgb(2, 2, 1), 2, 2, { a: '1', b: 'ü' })
    expect(listChunks(png).map((c) => c.type)).toEqual(['IHDR', 'iTXt', 'iTXt', 'IDAT', 'IEND'])
    const itxt = chunkOf(png, 'iTXt')
    const data = png.subarray(itxt.offset + 8, itxt.offset + 8 + itxt.length)
    // keyword "a", NUL, compression flag 0, method 0, empty language + NUL, empty translated keyword + NUL, text
    expect([...data]).toEqual([0x61, 0, 0, 0, 0, 0, 0x31])
  })

  it('no text means no text chunks', () => {
    const png = encodePng(randomRgb(2, 2, 1), 2, 2)
    expect(listChunks(png).map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND'])
    expect(readPngText(png)).toEqual({})
    expect(readPngText(encodePng(randomRgb(2, 2, 1), 2, 2, {}))).toEqual({})
  })

  it('reads tEXt, zTXt and compressed iTXt (with language tag) written by others', () => {
    const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1')
    const png = withChunks(
      encodePng(randomRgb(3, 3, 1), 3, 3, { own: 'iTXt 🙂' }),
      rawChunk('tEXt', Buffer.concat([latin1('Title'), Buffer.of(0), latin1('Café crème')])),
      rawChunk(
        'zTXt',
        Buffer.concat([latin1('Comment'), Buffer.of(0, 0), zlib.deflateSync(latin1('«zipped» '.repeat(50)))]),
      ),
      rawChunk(
        'iTXt',
        Buffer.concat([
          latin1('Description'),
          Buffer.of(0, 1, 0),
          latin1('ja'),
          Buffer.of(0),
          Buffer.from('説明', 'utf8'),
          Buffer.of(0),
          zlib.deflateSync(Buffer.from('圧縮されたテキスト 🗜️', 'utf8')),
        ]),
      ),
      rawChunk('tIME', Buffer.of(0x07, 0xe9, 1, 2, 3, 4, 5)), // ancillary, not text: ignored
    )
    expect(readPngText(png)).toEqual({
      own: 'iTXt 🙂',
      Title: 'Café crème',
      Comment: '«zipped» '.repeat(50),
      Description: '圧縮されたテキスト 🗜️',
    })
    expect(decodePngRgb(png).width).toBe(3)
  })

  it('a repeated keyword: the later chunk wins', () => {
    const png = withChunks(
      encodePng(randomRgb(1, 1, 1), 1, 1, { k: 'later' }),
      rawChunk('tEXt', Buffer.from('k\0earlier')),
    )
    expect(readPngText(png)).toEqual({ k: 'later' })
  })

  it('rejects malformed text chunks, naming them', () => {
    const base = encodePng(randomRgb(1, 1, 1), 1, 1)
    expect(() => readPngText(withChunks(base, rawChunk('tEXt', Buffer.from('no separator'))))).toThrow(
      /tEXt chunk at byte 33 has no valid keyword/,
    )
    const badUtf8 = Buffer.concat([Buffer.from('key\0\0\0\0\0'), Buffer.of(0xc3, 0x28)])
    expect(() => readPngText(withChunks(base, rawChunk('iTXt', badUtf8)))).toThrow(
      /iTXt chunk "key".*not valid UTF-8/,
    )
    const badZlib = Buffer.concat([Buffer.from('key\0\0'), Buffer.from('not zlib')])
    expect(() => readPngText(withChunks(base, rawChunk('zTXt', badZlib)))).toThrow(
      /zTXt chunk "key".*not valid zlib/,
    )
  })
})

describe('invalid input is refused with an error naming the problem', () => {
  const rgb = randomRgb(2, 2, 1)

  it('width and height must be integers from 1 to 16384', () => {
    expect(PNG_MAX_DIMENSION).toBe(16384)
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 16385, '2' as unknown as number]) {
      expect(() => encodePng(rgb, bad, 2)).toThrow(/encodePng: width must be an integer from 1 to 16384, got/)
      expect(() => encodePng(rgb, 2, bad)).toThrow(
        /encodePng: height must be an integer from 1 to 16384, got/,
      )
    }
  })

  it('rgb must be a Uint8Array of exactly width * height * 3 bytes', () => {
    expect(() => encodePng(rgb.subarray(1), 2, 2)).toThrow(
      'encodePng: rgb has 11 bytes, expected width * height * 3 = 12 for 2x2',
    )
    expect(() => encodePng(new Uint8Array(13), 2, 2)).toThrow(/rgb has 13 bytes, expected/)
    expect(() => encodePng([1, 2, 3] as unknown as Uint8Array, 1, 1)).toThrow(
      'encodePng: rgb must be a Uint8Array',
    )
    expect(() => encodePng(new Uint16Array(3) as unknown as Uint8Array, 1, 1)).toThrow(/must be a Uint8Array/)
  })

  it('text keys must be valid PNG keywords', () => {
    const cases: [string, RegExp][] = [
      ['', /text key "" must be 1 to 79 characters long, has 0/],
      ['k'.repeat(80), /must be 1 to 79 characters long, has 80/],
      [' lead', /text key " lead" has a leading space/],
      ['trail ', /text key "trail " has a trailing space/],
      ['two  spaces', /text key "two {2}spaces" has consecutive spaces/],
      ['tab\there', /"\\t" \(U\+0009\) at 3 is not printable Latin-1/],
      ['nbsp\u00a0', /\(U\+00A0\) at 4 is not printable Latin-1/],
      ['emoji🙂', /at 5 is not printable Latin-1/],
      ['nul\0', /\(U\+0000\) at 3 is not printable Latin-1/],
    ]
    for (const [key, message] of cases) expect(() => encodePng(rgb, 2, 2, { [key]: 'v' })).toThrow(message)
    expect(() => encodePng(rgb, 2, 2, { ['k'.repeat(79)]: 'v', 'ÿ¡~ !': 'v' })).not.toThrow()
  })

  it('text values must be strings of valid Unicode without NUL', () => {
    expect(() => encodePng(rgb, 2, 2, { prompt: 'a\0b' })).toThrow(
      'text value of key "prompt" contains a NUL character',
    )
    expect(() => encodePng(rgb, 2, 2, { prompt: 'lone \ud800 surrogate' })).toThrow(
      /text value of key "prompt" contains an unpaired UTF-16 surrogate/,
    )
    expect(() => encodePng(rgb, 2, 2, { seed: 42 as unknown as string })).toThrow(
      'text value of key "seed" must be a string, got number',
    )
  })

  it('the decoder refuses what it does not support, saying what it found', () => {
    const png = encodePng(rgb, 2, 2)
    expect(() => decodePngRgb(withIhdrByte(png, 8, 16))).toThrow(
      'decodePngRgb: unsupported PNG: bit depth 16, colour type 2 (only 8-bit RGB, colour type 2, is supported)',
    )
    expect(() => decodePngRgb(withIhdrByte(png, 9, 6))).toThrow(/unsupported PNG: bit depth 8, colour type 6/)
    expect(() => decodePngRgb(withIhdrByte(png, 12, 1))).toThrow(
      /interlaced \(Adam7\) images are not supported/,
    )
    expect(() => decodePngRgb(withIhdrByte(png, 10, 1))).toThrow(/compression method 1/)
    expect(() => decodePngRgb(withIhdrByte(png, 3, 0))).toThrow(
      /width must be an integer from 1 to 16384, got 0/,
    )
    const critical = withChunks(png, rawChunk('ABCD', Buffer.of()))
    expect(() => decodePngRgb(critical)).toThrow('decodePngRgb: unsupported critical chunk ABCD at byte 33')
    expect(decodePngRgb(withChunks(png, rawChunk('abCD', Buffer.of()))).width).toBe(2) // ancillary: skipped
  })

  it('the decoder refuses bad image data', () => {
    const png = encodePng(rgb, 2, 2)
    const row = (filter: number): number[] => [filter, 1, 2, 3, 4, 5, 6]
    expect(() => decodePngRgb(withScanlines(png, Buffer.from([...row(0), ...row(5)])))).toThrow(
      'decodePngRgb: invalid filter type 5 on row 1',
    )
    expect(() => decodePngRgb(withScanlines(png, Buffer.from(row(0))))).toThrow(
      'decodePngRgb: image data is 7 bytes, a 2x2 image needs 14',
    )
    expect(() => decodePngRgb(withScanlines(png, Buffer.from([...row(0), ...row(0), 0])))).toThrow(
      /inflates to more than the 14 bytes a 2x2 image has/,
    )
    const noIdat = Buffer.concat([png.subarray(0, 33), rawChunk('IEND', Buffer.of())])
    expect(() => decodePngRgb(noIdat)).toThrow('decodePngRgb: no IDAT chunk')
  })

  it('both readers refuse files that are not PNGs or are cut short', () => {
    const png = encodePng(rgb, 2, 2, { k: 'v' })
    for (const read of [readPngText, decodePngRgb]) {
      expect(() => read(Buffer.from('GIF89a not a png'))).toThrow(/not a PNG file \(bad signature\)/)
      expect(() => read(png.subarray(0, 8))).toThrow(/truncated PNG: no chunks/)
      expect(() => read(png.subarray(0, png.length - 12))).toThrow(/truncated PNG: no IEND chunk/)
      expect(() => read(png.subarray(0, 45))).toThrow(/chunk iTXt at byte 33 claims 7 bytes, past the end/)
      expect(() => read(Buffer.concat([png.subarray(0, 8), png.subarray(33)]))).toThrow(
        /first chunk is iTXt, not IHDR/,
      )
    }
  })
})

describe('corruption is caught by the chunk CRCs', () => {
  const rgb = smoothRgb(16, 16, 2)
  const png = encodePng(rgb, 16, 16, { parameters: '{"seed":42}' })

  it('a changed byte in IDAT, iTXt or IHDR names the chunk', () => {
    const idat = chunkOf(png, 'IDAT')
    const itxt = chunkOf(png, 'iTXt')
    const middleOfIdat = flipped(png, idat.offset + 8 + (idat.length >> 1))
    for (const read of [readPngText, decodePngRgb]) {
      expect(() => read(middleOfIdat)).toThrow(
        /CRC mismatch in chunk IDAT at byte \d+ \(stored 0x[0-9a-f]{8}, computed/,
      )
      expect(() => read(flipped(png, itxt.offset + 8 + 2))).toThrow(/CRC mismatch in chunk iTXt at byte 33/)
      expect(() => read(flipped(png, 8 + 8 + 13))).toThrow(/CRC mismatch in chunk IHDR at byte 8/) // the CRC itself
    }
  })

  it('flipping any single byte after the signature makes decoding fail', () => {
    const small = encodePng(randomRgb(2, 2, 1), 2, 2, { k: 'v' })
    for (let at = 8; at < small.length; at++) {
      expect(() => decodePngRgb(flipped(small, at)), `byte ${at}`).toThrow(/decodePngRgb: /)
    }
  })

  it('the table CRC matches zlib.crc32', () => {
    expect(pngInternals.crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926) // the standard check value
    expect(pngInternals.crc32Table(new Uint8Array(0))).toBe(0)
    for (const length of [1, 13, 1000, 65536]) {
      const bytes = randomRgb(length, 1, length).subarray(0, length)
      expect(pngInternals.crc32Table(bytes)).toBe(zlib.crc32(bytes) >>> 0)
    }
    // Node >= 22.2 (and 20.15) has zlib.crc32; the table is only the fallback.
    expect(pngInternals.usesZlibCrc32).toBe(true)
  })
})

// An independent decoder and encoder: Pillow, through the system Python (python3-pil).
const PYTHON = '/usr/bin/python3'
const pilProbe = spawnSync(PYTHON, ['-c', 'import PIL.Image, PIL.PngImagePlugin'], { encoding: 'utf8' })
const pilMissing =
  pilProbe.error !== undefined
    ? `${PYTHON} cannot be run (${pilProbe.error.message})`
    : pilProbe.status !== 0
      ? `${PYTHON} has no PIL (python3-pil): ${pilProbe.stderr.trim().split('\n').at(-1) ?? ''}`
      : undefined
if (pilMissing !== undefined) console.warn(`png.test.ts: skipping the Pillow cross-checks: ${pilMissing}`)

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-png-test-'))
afterAll(() => fs.rmSync(tempDir, { recursive: true, force: true }))

function runPython(script: string, args: string[]): unknown {
  const run = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (run.status !== 0) throw new Error(`python failed (${run.status}): ${run.stderr}`)
  return JSON.parse(run.stdout)
}

// verify() checks the chunk CRCs and structure; the second open decodes every pixel.
const PIL_READ = `
import hashlib, json, sys
from PIL import Image
out = []
for p in sys.argv[1:]:
    with Image.open(p) as im:
        im.verify()
    with Image.open(p) as im:
        im.load()
        w, h = im.size
        corners = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w // 2, h // 2)]
        out.append({"format": im.format, "size": [w, h], "mode": im.mode, "text": dict(im.text),
                    "pixels": [list(im.getpixel(xy)) for xy in corners],
                    "sha256": hashlib.sha256(im.tobytes()).hexdigest()})
print(json.dumps(out))
`

// Writes raw RGB as a PNG with a tEXt (Latin-1), a zTXt and a compressed iTXt carrying a language tag.
const PIL_WRITE = `
import sys
from PIL import Image, PngImagePlugin
w, h = int(sys.argv[3]), int(sys.argv[4])
with open(sys.argv[1], "rb") as f:
    im = Image.frombytes("RGB", (w, h), f.read())
info = PngImagePlugin.PngInfo()
info.add_text("Title", "Caf\\u00e9")
info.add_text("Comment", "zipped " * 40, zip=True)
info.add_itxt("Description", "\\u5727\\u7e2e \\U0001f5dc", lang="ja", tkey="\\u8aac\\u660e", zip=True)
im.save(sys.argv[2], pnginfo=info)
print("[]")
`

interface PilInfo {
  format: string
  size: [number, number]
  mode: string
  text: Record<string, string>
  pixels: number[][]
  sha256: string
}

function pixelAt(rgb: Uint8Array, width: number, x: number, y: number): number[] {
  return Array.from(rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3))
}

describe('Pillow agrees', () => {
  it.skipIf(pilMissing !== undefined)('decodes our PNGs: size, mode, iTXt text and every pixel', () => {
    const text = {
      parameters: JSON.stringify({ prompt: 'ein Hund 🐕, 猫', seed: 4_294_967_295, steps: 2 }),
      Größe: 'ü',
      big: 'x'.repeat(100_000),
    }
    const images: { width: number; height: number; rgb: Uint8Array; png: Buffer }[] = []
    for (const [width, height] of [
      [1, 1],
      [17, 5],
      [256, 256],
    ] as const) {
      const rgb = smoothRgb(width, height, width)
      images.push({ width, height, rgb, png: encodePng(rgb, width, height, text) })
    }
    // One image per forced filter type too, so Pillow checks our output of each filter.
    const rgb = randomRgb(33, 9, 3)
    for (const filter of [0, 1, 2, 3, 4] as const) {
      images.push({ width: 33, height: 9, rgb, png: pngInternals.encodeWithFilter(rgb, 33, 9, filter) })
    }
    const files = images.map((image, i) => {
      const file = path.join(tempDir, `ours-${i}.png`)
      fs.writeFileSync(file, image.png)
      return file
    })
    const infos = runPython(PIL_READ, files) as PilInfo[]
    expect(infos).toHaveLength(images.length)
    images.forEach(({ width, height, rgb: pixels, png }, i) => {
      const info = infos[i] as PilInfo
      expect(info.format).toBe('PNG')
      expect(info.size).toEqual([width, height])
      expect(info.mode).toBe('RGB')
      expect(info.text).toEqual(readPngText(png))
      const corners = [
        [0, 0],
        [width - 1, 0],
        [0, height - 1],
        [width - 1, height - 1],
        [width >> 1, height >> 1],
      ] as const
      expect(info.pixels).toEqual(corners.map(([x, y]) => pixelAt(pixels, width, x, y)))
      expect(info.sha256).toBe(createHash('sha256').update(pixels).digest('hex'))
    })
    expect((infos[0] as PilInfo).text).toEqual(text)
  })

  it.skipIf(pilMissing !== undefined)('we decode Pillow’s PNGs and read its tEXt, zTXt and iTXt', () => {
    const [width, height] = [45, 30]
    const rgb = smoothRgb(width, height, 11)
    const rawFile = path.join(tempDir, 'pil-in.rgb')
    const pngFile = path.join(tempDir, 'pil-out.png')
    fs.writeFileSync(rawFile, rgb)
    runPython(PIL_WRITE, [rawFile, pngFile, String(width), String(height)])
    const png = fs.readFileSync(pngFile)
    const decoded = decodePngRgb(png)
    expect([decoded.width, decoded.height]).toEqual([width, height])
    expect(Buffer.from(decoded.rgb).equals(Buffer.from(rgb))).toBe(true)
    expect(readPngText(png)).toEqual({
      Title: 'Café',
      Comment: 'zipped '.repeat(40),
      Description: '圧縮 🗜',
    })
    expect(new Set(listChunks(png).map((c) => c.type))).toEqual(
      new Set(['IHDR', 'tEXt', 'zTXt', 'iTXt', 'IDAT', 'IEND']),
    )
  })
})
