/**
 * Reads the text chunks of a PNG in the browser (and in Node): what the renderer uses when a PNG is dropped onto
 * the window, to show its generation settings (ours or AUTOMATIC1111's) and offer "Use these settings".
 *
 * Checks the signature and every chunk's CRC, like main/engine/output/png.ts's readPngText, and returns the same
 * text for the same file; it needs no Node APIs: compressed text (zTXt, compressed iTXt) is inflated with the
 * web's DecompressionStream, which is why reading is async.
 */
import type { GenerateRequest } from './generation.ts'
import {
  type A1111Settings,
  type DdStudioMetadata,
  formatParameters,
  METADATA_KEY,
  PARAMETERS_KEY,
  parseMetadata,
  parseParameters,
  settingsFromA1111,
  settingsFromMetadata,
} from './parameters.ts'

/** The eight bytes every PNG file starts with (shared with main/engine/output/png.ts). */
export const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
/** The spec's limit on a chunk's length field. */
export const PNG_MAX_CHUNK_LENGTH = 0x7fffffff
/** Compressed text beyond this is refused, so a tiny zTXt/iTXt cannot inflate into gigabytes. */
export const PNG_MAX_INFLATED_TEXT = 64 * 1024 * 1024

/** Why a file could not be read: the drop handler turns each kind into its own message. */
export type PngTextErrorKind = 'not-png' | 'truncated' | 'corrupt' | 'malformed'

export class PngTextError extends Error {
  readonly kind: PngTextErrorKind
  constructor(kind: PngTextErrorKind, message: string) {
    super(message)
    this.name = 'PngTextError'
    this.kind = kind
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CRC-32 (ISO 3309, the polynomial PNG and zlib use)

let crcTable: Uint32Array | undefined

/** CRC-32 of `bytes`, as stored after each PNG chunk (over its type and data). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  const table = crcTable
  let c = 0xffffffff
  for (let i = start; i < end; i++) c = (table[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

// ---------------------------------------------------------------------------------------------------------------
// Text decoding

/** Latin-1 by hand: TextDecoder's 'latin1' is really windows-1252, which maps 0x80-0x9F to other characters. */
function latin1(bytes: Uint8Array): string {
  let out = ''
  // Spread in slices: one call per byte is slow, and one call for megabytes overflows the argument stack.
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192))
  return out
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true })
const utf8Lenient = new TextDecoder('utf-8')

async function inflate(data: Uint8Array, limit: number): Promise<Uint8Array | 'too-large' | 'invalid'> {
  const stream = new DecompressionStream('deflate') // zlib framing, as PNG uses
  const writer = stream.writable.getWriter()
  const reader = stream.readable.getReader()
  // Not awaited: the stream holds the write back until the reader drains it. Errors surface through the reader.
  const writing = writer.write(data.slice()).then(() => writer.close())
  writing.catch(() => undefined)
  const parts: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > limit) {
        await reader.cancel().catch(() => undefined)
        return 'too-large'
      }
      parts.push(value)
    }
  } catch {
    return 'invalid'
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Chunks

export interface PngTextEntry {
  keyword: string
  text: string
  chunk: 'tEXt' | 'zTXt' | 'iTXt'
  compressed: boolean
  /** Byte offset of the chunk (its length field) in the file. */
  offset: number
  /** iTXt's language tag and translated keyword; '' for tEXt and zTXt. */
  language: string
  translatedKeyword: string
}

export interface PngTextInfo {
  width: number
  height: number
  /** Every text chunk, in file order. */
  entries: PngTextEntry[]
  /** Keyword to text; should a keyword repeat, the later chunk wins (as in readPngText). */
  text: Record<string, string>
}

interface RawChunk {
  type: string
  offset: number
  data: Uint8Array
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] as number) << 24) |
      ((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number)) >>>
    0
  )
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`

/** Splits the file into chunks from IHDR to IEND, checking framing and CRCs; bytes after IEND are ignored. */
function readChunks(bytes: Uint8Array): RawChunk[] {
  if (bytes.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((byte, i) => bytes[i] !== byte)) {
    throw new PngTextError('not-png', 'not a PNG file (bad signature)')
  }
  const chunks: RawChunk[] = []
  let offset = PNG_SIGNATURE.length
  for (;;) {
    if (offset + 8 > bytes.length) {
      throw new PngTextError(
        'truncated',
        `truncated PNG: the file ends at byte ${bytes.length}, before ${chunks.length === 0 ? 'any chunk' : 'the IEND chunk'}`,
      )
    }
    const length = readUint32(bytes, offset)
    const typeBytes = bytes.subarray(offset + 4, offset + 8)
    if (!typeBytes.every((c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) {
      throw new PngTextError(
        'corrupt',
        `the chunk at byte ${offset} has an invalid type ${JSON.stringify(latin1(typeBytes))}: the file is corrupt`,
      )
    }
    const type = latin1(typeBytes)
    if (length > PNG_MAX_CHUNK_LENGTH || offset + 12 + length > bytes.length) {
      throw new PngTextError(
        'truncated',
        `truncated PNG: chunk ${type} at byte ${offset} claims ${length} bytes, past the end of the file (${bytes.length} bytes)`,
      )
    }
    const stored = readUint32(bytes, offset + 8 + length)
    const computed = crc32(bytes, offset + 4, offset + 8 + length)
    if (stored !== computed) {
      throw new PngTextError(
        'corrupt',
        `chunk ${type} at byte ${offset} is corrupt (CRC mismatch: stored ${hex(stored)}, computed ${hex(computed)})`,
      )
    }
    if (chunks.length === 0 && type !== 'IHDR') {
      throw new PngTextError('malformed', `the first chunk is ${type}, not IHDR`)
    }
    chunks.push({ type, offset, data: bytes.subarray(offset + 8, offset + 8 + length) })
    offset += 12 + length
    if (type === 'IEND') return chunks
  }
}

function malformed(chunk: RawChunk, keyword: string | null, problem: string): PngTextError {
  const name = keyword === null ? '' : ` ${JSON.stringify(keyword)}`
  return new PngTextError('malformed', `${chunk.type} chunk${name} at byte ${chunk.offset} ${problem}`)
}

/** The chunk's keyword and the index just past its NUL. */
function keywordOf(chunk: RawChunk): [string, number] {
  const nul = chunk.data.indexOf(0)
  if (nul < 1 || nul > 79)
    throw malformed(chunk, null, 'has no valid keyword (1 to 79 bytes, NUL-terminated)')
  return [latin1(chunk.data.subarray(0, nul)), nul + 1]
}

async function inflateText(chunk: RawChunk, keyword: string, data: Uint8Array): Promise<Uint8Array> {
  const result = await inflate(data, PNG_MAX_INFLATED_TEXT)
  if (result === 'too-large')
    throw malformed(chunk, keyword, `inflates to more than ${PNG_MAX_INFLATED_TEXT} bytes`)
  if (result === 'invalid') throw malformed(chunk, keyword, 'has compressed text that is not valid zlib data')
  return result
}

async function textEntry(chunk: RawChunk): Promise<PngTextEntry | null> {
  const base = { chunk: chunk.type, offset: chunk.offset, language: '', translatedKeyword: '' }
  const { data } = chunk
  if (chunk.type === 'tEXt') {
    const [keyword, start] = keywordOf(chunk)
    return { ...base, chunk: 'tEXt', keyword, text: latin1(data.subarray(start)), compressed: false }
  }
  if (chunk.type === 'zTXt') {
    const [keyword, start] = keywordOf(chunk)
    if (data[start] !== 0) throw malformed(chunk, keyword, 'uses an unknown compression method')
    const text = latin1(await inflateText(chunk, keyword, data.subarray(start + 1)))
    return { ...base, chunk: 'zTXt', keyword, text, compressed: true }
  }
  if (chunk.type === 'iTXt') {
    const [keyword, start] = keywordOf(chunk)
    const flag = data[start]
    const method = data[start + 1]
    const languageEnd = data.indexOf(0, start + 2)
    const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1)
    if (flag === undefined || method === undefined || translatedEnd < 0) {
      throw malformed(chunk, keyword, 'is truncated')
    }
    if (flag > 1 || (flag === 1 && method !== 0)) {
      throw malformed(chunk, keyword, `has an unknown compression flag ${flag} or method ${method}`)
    }
    const body = data.subarray(translatedEnd + 1)
    const raw = flag === 1 ? await inflateText(chunk, keyword, body) : body
    let text: string
    try {
      text = utf8Strict.decode(raw)
    } catch {
      throw malformed(chunk, keyword, 'has text that is not valid UTF-8')
    }
    return {
      ...base,
      chunk: 'iTXt',
      keyword,
      text,
      compressed: flag === 1,
      language: latin1(data.subarray(start + 2, languageEnd)),
      translatedKeyword: utf8Lenient.decode(data.subarray(languageEnd + 1, translatedEnd)),
    }
  }
  return null
}

/**
 * The image size and every tEXt, zTXt and iTXt entry of a PNG. Throws a PngTextError (kind 'not-png',
 * 'truncated', 'corrupt' or 'malformed') naming the chunk and byte offset when the file cannot be trusted.
 */
export async function readPngTextChunks(png: Uint8Array | ArrayBuffer): Promise<PngTextInfo> {
  const bytes = png instanceof ArrayBuffer ? new Uint8Array(png) : png
  if (!(bytes instanceof Uint8Array)) throw new TypeError('readPngTextChunks: png must be a Uint8Array')
  const chunks = readChunks(bytes)
  const header = chunks[0] as RawChunk
  if (header.data.length !== 13) {
    throw new PngTextError('malformed', `IHDR has ${header.data.length} bytes, expected 13`)
  }
  const entries: PngTextEntry[] = []
  const text: Record<string, string> = {}
  for (const chunk of chunks) {
    const entry = await textEntry(chunk)
    if (entry === null) continue
    entries.push(entry)
    text[entry.keyword] = entry.text
  }
  return { width: readUint32(header.data, 0), height: readUint32(header.data, 4), entries, text }
}

// ---------------------------------------------------------------------------------------------------------------
// A dropped image

export type DroppedImageParameters =
  | {
      /** Made by DD Studio: `settings` is a request that remakes this very image. */
      source: 'dd-studio'
      /** The image's `parameters` text, or the same written from its metadata when it has none. */
      text: string
      settings: GenerateRequest
      metadata: DdStudioMetadata
      problems: string[]
    }
  | {
      /** AUTOMATIC1111-style `parameters` (any tool): what maps onto DD settings, and what does not. */
      source: 'a1111'
      text: string
      settings: A1111Settings
      problems: string[]
    }
  | {
      /** Nothing usable: `problems` says why in words for the user; `text` is any unreadable parameters text. */
      source: 'none'
      text: string
      settings: null
      problems: string[]
    }

function unreadable(error: unknown): string {
  const detail = (error as Error).message
  if (!(error instanceof PngTextError)) return `This image could not be read: ${detail}`
  switch (error.kind) {
    case 'not-png':
      return 'This file is not a PNG image. Settings can be read from PNG files saved by DD Studio or by tools that write AUTOMATIC1111-style parameters.'
    case 'truncated':
      return `This PNG is incomplete (the file was cut short), so its settings cannot be read: ${detail}.`
    case 'corrupt':
      return `This PNG is damaged, so its settings cannot be trusted: ${detail}.`
    case 'malformed':
      return `This PNG has a malformed part, so its settings cannot be read: ${detail}.`
  }
}

/** The value of `key`, or of the same keyword in another case (some tools capitalise it). */
function lookup(text: Record<string, string>, key: string): string | undefined {
  if (text[key] !== undefined) return text[key]
  const other = Object.keys(text).find((k) => k.toLowerCase() === key)
  return other === undefined ? undefined : text[other]
}

/**
 * Everything the drop handler needs from a dropped file: our own metadata when the image has it (exact), else
 * the A1111-style parameters, else a message saying why there is nothing to use. Never throws: problems with
 * the file or its metadata come back in `problems`, written for the user.
 */
export async function readDroppedImageParameters(
  bytes: Uint8Array | ArrayBuffer,
): Promise<DroppedImageParameters> {
  let info: PngTextInfo
  try {
    info = await readPngTextChunks(bytes)
  } catch (error) {
    return { source: 'none', text: '', settings: null, problems: [unreadable(error)] }
  }
  const problems: string[] = []
  const parameters = lookup(info.text, PARAMETERS_KEY)
  const ours = info.text[METADATA_KEY]

  if (ours !== undefined) {
    try {
      const metadata = parseMetadata(ours)
      const settings = settingsFromMetadata(metadata)
      const text = parameters ?? formatParameters(metadata, { width: info.width, height: info.height })
      return { source: 'dd-studio', text, settings, metadata, problems }
    } catch (error) {
      problems.push(`The DD Studio metadata in this image is unusable: ${(error as Error).message}.`)
    }
  }

  if (parameters !== undefined) {
    try {
      const settings = settingsFromA1111(parseParameters(parameters))
      return { source: 'a1111', text: parameters, settings, problems: [...problems, ...settings.problems] }
    } catch (error) {
      problems.push(
        `The image's parameters text is not in the AUTOMATIC1111 format: ${(error as Error).message}.`,
      )
      return { source: 'none', text: parameters, settings: null, problems }
    }
  }

  if (ours === undefined) {
    const keywords = Object.keys(info.text)
    problems.push(
      keywords.length === 0
        ? 'This PNG carries no generation settings: it has no text metadata at all.'
        : `This PNG carries no generation settings DD Studio can read (its text entries: ${keywords.join(', ')}).`,
    )
  }
  return { source: 'none', text: '', settings: null, problems }
}
