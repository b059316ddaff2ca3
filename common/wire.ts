/**
 * The JSON wire format of serve mode's HTTP API, used for its answers and its Server-Sent Events by the server
 * (main/serve/httpServer.ts) and the renderer's HTTP transport alike. JSON has no bytes, and JSON.stringify
 * would turn a Uint8Array into {"0": 137, "1": 80, …}; so every Uint8Array (a Buffer too), e.g. the `png` of a
 * GeneratedImage, travels as {"$bytes": "<base64>"} and is turned back into a Uint8Array on the client. The
 * renderer thus receives the same types over HTTP as over Electron IPC (structured clone).
 *
 * Requests carry no bytes and are plain JSON. An answer can therefore not contain a real object whose only key
 * is "$bytes" with a string value: no contract type has one.
 */

export const BYTES_TAG = '$bytes'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const VALUE_OF = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUE_OF[ALPHABET.charCodeAt(i)] = i

export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = []
  let line = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number
    const b = i + 1 < bytes.length ? (bytes[i + 1] as number) : 0
    const c = i + 2 < bytes.length ? (bytes[i + 2] as number) : 0
    const triple = (a << 16) | (b << 8) | c
    line +=
      ALPHABET.charAt(triple >> 18) +
      ALPHABET.charAt((triple >> 12) & 63) +
      (i + 1 < bytes.length ? ALPHABET.charAt((triple >> 6) & 63) : '=') +
      (i + 2 < bytes.length ? ALPHABET.charAt(triple & 63) : '=')
    // Keep the pieces short: repeated concatenation of one huge string is slow in some engines.
    if (line.length >= 4096) {
      parts.push(line)
      line = ''
    }
  }
  parts.push(line)
  return parts.join('')
}

export function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error('base64: the length is not a multiple of 4')
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const out = new Uint8Array((text.length / 4) * 3 - padding)
  const valueAt = (at: number): number => {
    // The padding at the very end stands for zero bits.
    if (at >= text.length - padding) return 0
    const code = text.charCodeAt(at)
    const value = code < 128 ? (VALUE_OF[code] as number) : -1
    if (value < 0) throw new Error(`base64: invalid character at ${at}`)
    return value
  }
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    const triple = (valueAt(i) << 18) | (valueAt(i + 1) << 12) | (valueAt(i + 2) << 6) | valueAt(i + 3)
    out[o++] = triple >> 16
    if (o < out.length) out[o++] = (triple >> 8) & 255
    if (o < out.length) out[o++] = triple & 255
  }
  return out
}

/** JSON.stringify, with every Uint8Array as {"$bytes": base64}. */
export function toWireJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, converted: unknown) {
    // A Buffer's toJSON has already run on `converted`; the holder still has the Buffer itself.
    const original = (this as Record<string, unknown>)[key]
    if (original instanceof Uint8Array) return { [BYTES_TAG]: encodeBase64(original) }
    return converted
  })
}

function isBytes(value: unknown): value is { [BYTES_TAG]: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const keys = Object.keys(value)
  return (
    keys.length === 1 &&
    keys[0] === BYTES_TAG &&
    typeof (value as Record<string, unknown>)[BYTES_TAG] === 'string'
  )
}

/** JSON.parse, turning every {"$bytes": base64} back into a Uint8Array. Throws on bad JSON or bad base64. */
export function fromWireJson(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => (isBytes(value) ? decodeBase64(value[BYTES_TAG]) : value))
}
