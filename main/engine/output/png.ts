/**
 * A small PNG writer and reader for generated images: 8-bit RGB pixels plus generation metadata as text chunks.
 *
 * encodePng writes exactly one format (8-bit RGB, colour type 2, no interlace) with libpng's adaptive per-row
 * filter choice and node:zlib for deflate, so it needs no native dependency and encodes a 32x32 image in well
 * under a millisecond. Metadata goes into uncompressed iTXt chunks (UTF-8, so prompts in any script survive)
 * placed before IDAT, where readers that stop early still find them; entries that other tools expect as tEXt
 * (AUTOMATIC1111's `parameters`) can be written as tEXt instead. readPngText and decodePngRgb read it back;
 * both verify every chunk's CRC, so a damaged file fails loudly instead of yielding wrong metadata or pixels.
 * Written from the PNG specification (W3C, third edition).
 */
import zlib from 'node:zlib'
import {
  crc32 as crc32Js,
  PNG_MAX_CHUNK_LENGTH as MAX_CHUNK_LENGTH,
  PNG_MAX_INFLATED_TEXT as MAX_INFLATED_TEXT,
  PNG_SIGNATURE as SIGNATURE,
} from '../../../common/pngText.ts'

/** Larger images are not something this app generates; the cap also bounds what a decoder will allocate. */
export const PNG_MAX_DIMENSION = 16384

const BYTES_PER_PIXEL = 3

// ---------------------------------------------------------------------------------------------------------------
// CRC-32 (ISO 3309 / ITU-T V.42, the same polynomial as zlib's)

/**
 * Table-driven CRC-32, one byte per step (common/pngText.ts's, which the renderer also uses): the fallback for
 * Node builds without zlib.crc32 (added in 22.2).
 */
const crc32Table = (data: Uint8Array): number => crc32Js(data)

// The type declares zlib.crc32 unconditionally; the runtime check is for older Node/Electron builds, where the
// default import still succeeds (a named import would fail at link time) and the property is simply missing.
const crc32: (data: Uint8Array) => number =
  typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) >>> 0 : crc32Table

// ---------------------------------------------------------------------------------------------------------------
// Validation

function checkDimension(who: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > PNG_MAX_DIMENSION) {
    throw new Error(`${who}: ${name} must be an integer from 1 to ${PNG_MAX_DIMENSION}, got ${String(value)}`)
  }
  return value
}

/** Why a text keyword is not valid PNG, or undefined when it is. */
function keywordProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > 79) return `must be 1 to 79 characters long, has ${key.length}`
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    // Printable Latin-1: space through tilde and U+00A1 through U+00FF (no controls, no NBSP).
    if (!((c >= 0x20 && c <= 0x7e) || (c >= 0xa1 && c <= 0xff))) {
      return `character ${JSON.stringify(key[i])} (U+${c.toString(16).toUpperCase().padStart(4, '0')}) at ${i} is not printable Latin-1`
    }
  }
  if (key.startsWith(' ')) return 'has a leading space'
  if (key.endsWith(' ')) return 'has a trailing space'
  if (key.includes('  ')) return 'has consecutive spaces'
  return undefined
}

// With the u flag a well-formed surrogate pair is one code point, so this matches only unpaired surrogates,
// which UTF-8 cannot represent (Buffer would silently turn them into U+FFFD and the round trip would lie).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

function valueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${typeof value}`
  // Allowed by the letter of iTXt, but many readers (and every tEXt reader) stop at a NUL: refuse it.
  if (value.includes('\0')) return 'contains a NUL character'
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode'
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Filtering

/** PNG filter types, by byte value. A plain object rather than an enum, so Node can strip the types. */
const Filter = { None: 0, Sub: 1, Up: 2, Average: 3, Paeth: 4 } as const
type Filter = (typeof Filter)[keyof typeof Filter]

type FilterChoice = 'adaptive' | Filter

// The encoder's inner loop is branch-free: on noisy images the predictor choice and the sign of each filtered
// byte are coin flips, and mispredicted branches made it about three times slower. Two helpers, both inlined:
/** A byte difference wrapped to a signed 8-bit value, -128..127 (its low byte is the filtered byte). */
const toInt8 = (v: number): number => (v << 24) >> 24
/** |v| for an int32 without a branch: v >> 31 is 0 or -1. */
const absInt = (v: number): number => (v ^ (v >> 31)) - (v >> 31)

/**
 * Filters every scanline into `out` (1 + stride bytes per row). 'adaptive' picks, per row, the filter whose
 * output has the smallest sum of signed magnitudes, the heuristic libpng and the spec recommend for truecolour.
 * All five candidates are computed in one pass over the row, so the cost is one read of the image.
 */
function filterScanlines(rgb: Uint8Array, width: number, height: number, choice: FilterChoice): Buffer {
  const stride = width * BYTES_PER_PIXEL
  const out = Buffer.allocUnsafe(height * (stride + 1))
  // Row "above" the first row is defined as zeros.
  const zeros = new Uint8Array(stride)
  // Filtered rows for Sub, Up, Average and Paeth; None is the row itself.
  const cSub = new Uint8Array(stride)
  const cUp = new Uint8Array(stride)
  const cAvg = new Uint8Array(stride)
  const cPaeth = new Uint8Array(stride)

  for (let y = 0; y < height; y++) {
    const cur = rgb.subarray(y * stride, (y + 1) * stride)
    const prev = y === 0 ? zeros : rgb.subarray((y - 1) * stride, y * stride)
    let sNone = 0
    let sSub = 0
    let sUp = 0
    let sAvg = 0
    let sPaeth = 0
    for (let i = 0; i < stride; i++) {
      const x = cur[i] as number
      const b = prev[i] as number
      // The first pixel has no left neighbour: a and c are zero there.
      const a = i >= BYTES_PER_PIXEL ? (cur[i - BYTES_PER_PIXEL] as number) : 0
      const c = i >= BYTES_PER_PIXEL ? (prev[i - BYTES_PER_PIXEL] as number) : 0
      // Paeth: the neighbour closest to a + b - c, preferring a, then b, on ties. The masks are -1 where
      // "a loses" (pa > pb or pa > pc) and where "b loses to c" (pb > pc), 0 otherwise.
      const pa = Math.abs(b - c)
      const pb = Math.abs(a - c)
      const pc = Math.abs(a + b - 2 * c)
      const notA = ((pb - pa) | (pc - pa)) >> 31
      const notB = (pc - pb) >> 31
      const predictor = (a & ~notA) | (notA & ((b & ~notB) | (c & notB)))
      // The sums use the filtered bytes read as signed (libpng's "minimum sum of absolute differences").
      const vSub = toInt8(x - a)
      const vUp = toInt8(x - b)
      const vAvg = toInt8(x - ((a + b) >> 1))
      const vPaeth = toInt8(x - predictor)
      // Uint8Array stores keep the low byte, turning the signed values back into filtered bytes.
      cSub[i] = vSub
      cUp[i] = vUp
      cAvg[i] = vAvg
      cPaeth[i] = vPaeth
      sNone += absInt(toInt8(x))
      sSub += absInt(vSub)
      sUp += absInt(vUp)
      sAvg += absInt(vAvg)
      sPaeth += absInt(vPaeth)
    }
    let best: Filter
    if (choice === 'adaptive') {
      // Ties go to the simpler filter, as in libpng.
      best = Filter.None
      let bestSum = sNone
      if (sSub < bestSum) {
        best = Filter.Sub
        bestSum = sSub
      }
      if (sUp < bestSum) {
        best = Filter.Up
        bestSum = sUp
      }
      if (sAvg < bestSum) {
        best = Filter.Average
        bestSum = sAvg
      }
      if (sPaeth < bestSum) best = Filter.Paeth
    } else {
      best = choice
    }
    const rows = [cur, cSub, cUp, cAvg, cPaeth]
    const rowStart = y * (stride + 1)
    out[rowStart] = best
    out.set(rows[best] as Uint8Array, rowStart + 1)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

interface OutChunk {
  type: string
  data: Uint8Array
}

function ihdr(width: number, height: number): Uint8Array {
  const data = Buffer.alloc(13)
  data.writeUInt32BE(width, 0)
  data.writeUInt32BE(height, 4)
  data[8] = 8 // bit depth
  data[9] = 2 // colour type: truecolour (RGB)
  // compression method 0, filter method 0, interlace method 0: left as zeros
  return data
}

/** Uncompressed iTXt: keyword, NUL, compression flag 0, method 0, empty language tag + NUL, empty translation + NUL, text. */
function itxt(key: string, value: string): Uint8Array {
  const keyBytes = Buffer.from(key, 'latin1')
  const textLength = Buffer.byteLength(value, 'utf8')
  const data = Buffer.alloc(keyBytes.length + 5 + textLength) // zero-filled: the five separator bytes are 0
  keyBytes.copy(data, 0)
  data.write(value, keyBytes.length + 5, 'utf8')
  return data
}

/** tEXt: keyword, NUL, Latin-1 text. The caller has checked that every character is below U+0100. */
function textChunk(key: string, value: string): Uint8Array {
  return Buffer.from(`${key}\0${value}`, 'latin1')
}

/** True when every UTF-16 unit of `value` is a Latin-1 character (U+0000..U+00FF), so tEXt can hold it exactly. */
function isLatin1(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return false
  return true
}

function assemble(chunks: OutChunk[]): Buffer {
  let total = SIGNATURE.length
  for (const chunk of chunks) total += 12 + chunk.data.length
  const png = Buffer.allocUnsafe(total)
  png.set(SIGNATURE, 0)
  let offset = SIGNATURE.length
  for (const { type, data } of chunks) {
    png.writeUInt32BE(data.length, offset)
    png.write(type, offset + 4, 'latin1')
    png.set(data, offset + 8)
    // The CRC covers type and data, which sit next to each other here: one call, no copy.
    png.writeUInt32BE(crc32(png.subarray(offset + 4, offset + 8 + data.length)), offset + 8 + data.length)
    offset += 12 + data.length
  }
  return png
}

function encode(
  rgb: Uint8Array,
  width: number,
  height: number,
  text: Record<string, string> | undefined,
  latin1Text: Record<string, string> | undefined,
  choice: FilterChoice,
): Buffer {
  const who = 'encodePng'
  if (!(rgb instanceof Uint8Array)) throw new Error(`${who}: rgb must be a Uint8Array`)
  checkDimension(who, 'width', width)
  checkDimension(who, 'height', height)
  const expected = width * height * BYTES_PER_PIXEL
  if (rgb.length !== expected) {
    throw new Error(
      `${who}: rgb has ${rgb.length} bytes, expected width * height * 3 = ${expected} for ${width}x${height}`,
    )
  }

  const chunks: OutChunk[] = [{ type: 'IHDR', data: ihdr(width, height) }]
  const seen = new Set<string>()
  const addText = (argument: string, entries: Record<string, string> | undefined, preferTEXt: boolean) => {
    if (entries === undefined) return
    if (typeof entries !== 'object' || entries === null)
      throw new Error(`${who}: ${argument} must be an object of strings`)
    for (const [key, value] of Object.entries(entries)) {
      const keyError = keywordProblem(key)
      if (keyError !== undefined) throw new Error(`${who}: text key ${JSON.stringify(key)} ${keyError}`)
      // Two chunks with one keyword would leave readers to pick one; refuse rather than guess.
      if (seen.has(key)) throw new Error(`${who}: text key ${JSON.stringify(key)} is given twice`)
      seen.add(key)
      const valueError = valueProblem(value)
      if (valueError !== undefined)
        throw new Error(`${who}: text value of key ${JSON.stringify(key)} ${valueError}`)
      // Text outside Latin-1 cannot be stored in tEXt exactly: it goes into iTXt (UTF-8) under the same keyword,
      // which is what Pillow (and so AUTOMATIC1111) does, and what every reader of `parameters` handles.
      const asTEXt = preferTEXt && isLatin1(value)
      const data = asTEXt ? textChunk(key, value) : itxt(key, value)
      if (data.length > MAX_CHUNK_LENGTH)
        throw new Error(`${who}: text value of key ${JSON.stringify(key)} is too long`)
      chunks.push({ type: asTEXt ? 'tEXt' : 'iTXt', data })
    }
  }
  addText('text', text, false)
  addText('latin1Text', latin1Text, true)
  const idat = zlib.deflateSync(filterScanlines(rgb, width, height, choice))
  if (idat.length > MAX_CHUNK_LENGTH) throw new Error(`${who}: compressed image data exceeds one chunk`)
  chunks.push({ type: 'IDAT', data: idat }, { type: 'IEND', data: new Uint8Array(0) })
  return assemble(chunks)
}

/**
 * Encodes 8-bit RGB pixels (row-major, 3 bytes per pixel, no padding) as a PNG, with each entry of `text` as an
 * uncompressed iTXt chunk before the image data. Entries of `latin1Text` follow as tEXt chunks, for readers that
 * look for tEXt (AUTOMATIC1111's `parameters`); a value with characters outside Latin-1 is written as iTXt
 * instead, so no text is ever altered. Keys must be valid PNG keywords (1-79 printable Latin-1 characters, no
 * leading, trailing or consecutive spaces) and unique across both maps; values are any Unicode text without NUL.
 * Throws an Error naming the offending argument or key.
 */
export function encodePng(
  rgb: Uint8Array,
  width: number,
  height: number,
  text?: Record<string, string>,
  latin1Text?: Record<string, string>,
): Buffer {
  return encode(rgb, width, height, text, latin1Text, 'adaptive')
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

interface InChunk {
  type: string
  data: Uint8Array
  /** Byte offset of the chunk's length field, for error messages. */
  offset: number
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Splits a PNG into chunks from IHDR to IEND, checking the signature, the framing and every CRC.
 * Bytes after IEND are ignored, as most decoders do.
 */
function readChunks(who: string, png: Uint8Array): InChunk[] {
  if (!(png instanceof Uint8Array)) throw new Error(`${who}: png must be a Uint8Array`)
  if (png.length < SIGNATURE.length || SIGNATURE.some((byte, i) => png[i] !== byte)) {
    throw new Error(`${who}: not a PNG file (bad signature)`)
  }
  const bytes = asBuffer(png)
  const chunks: InChunk[] = []
  let offset = SIGNATURE.length
  for (;;) {
    if (offset + 8 > bytes.length) {
      throw new Error(
        `${who}: truncated PNG: ${chunks.length === 0 ? 'no chunks' : 'no IEND chunk'} (at byte ${offset})`,
      )
    }
    const length = bytes.readUInt32BE(offset)
    const typeBytes = bytes.subarray(offset + 4, offset + 8)
    if (!typeBytes.every((c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) {
      throw new Error(
        `${who}: invalid chunk type ${JSON.stringify(typeBytes.toString('latin1'))} at byte ${offset}`,
      )
    }
    const type = typeBytes.toString('latin1')
    if (length > MAX_CHUNK_LENGTH || offset + 12 + length > bytes.length) {
      throw new Error(
        `${who}: chunk ${type} at byte ${offset} claims ${length} bytes, past the end of the file (truncated?)`,
      )
    }
    const stored = bytes.readUInt32BE(offset + 8 + length)
    const computed = crc32(bytes.subarray(offset + 4, offset + 8 + length))
    if (stored !== computed) {
      const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`
      throw new Error(
        `${who}: CRC mismatch in chunk ${type} at byte ${offset} (stored ${hex(stored)}, computed ${hex(computed)}): the file is corrupt`,
      )
    }
    if (chunks.length === 0 && type !== 'IHDR') throw new Error(`${who}: first chunk is ${type}, not IHDR`)
    chunks.push({ type, data: bytes.subarray(offset + 8, offset + 8 + length), offset })
    offset += 12 + length
    if (type === 'IEND') return chunks
  }
}

/** Splits a text chunk's keyword off; returns it and the offset just past its NUL. */
function splitKeyword(who: string, chunk: InChunk): [string, number] {
  const nul = chunk.data.indexOf(0)
  if (nul < 1 || nul > 79) {
    throw new Error(
      `${who}: ${chunk.type} chunk at byte ${chunk.offset} has no valid keyword (1 to 79 bytes, NUL-terminated)`,
    )
  }
  return [asBuffer(chunk.data.subarray(0, nul)).toString('latin1'), nul + 1]
}

function inflateText(who: string, chunk: InChunk, key: string, compressed: Uint8Array): Buffer {
  try {
    return zlib.inflateSync(compressed, { maxOutputLength: MAX_INFLATED_TEXT })
  } catch (error) {
    const why =
      error instanceof RangeError
        ? `inflates to more than ${MAX_INFLATED_TEXT} bytes`
        : 'is not valid zlib data'
    throw new Error(
      `${who}: ${chunk.type} chunk ${JSON.stringify(key)} at byte ${chunk.offset}: compressed text ${why}`,
    )
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The text metadata of a PNG: every tEXt, zTXt and iTXt entry (compressed or not), keyed by keyword. Should a
 * keyword repeat, the later chunk wins. Verifies the signature and every chunk's CRC, and throws an Error naming
 * the chunk when one is corrupt or malformed.
 */
export function readPngText(png: Uint8Array): Record<string, string> {
  const who = 'readPngText'
  const text: Record<string, string> = {}
  for (const chunk of readChunks(who, png)) {
    const { type, data } = chunk
    if (type === 'tEXt') {
      const [key, start] = splitKeyword(who, chunk)
      text[key] = asBuffer(data.subarray(start)).toString('latin1')
    } else if (type === 'zTXt') {
      const [key, start] = splitKeyword(who, chunk)
      if (data[start] !== 0)
        throw new Error(`${who}: zTXt chunk ${JSON.stringify(key)}: unknown compression method`)
      text[key] = inflateText(who, chunk, key, data.subarray(start + 1)).toString('latin1')
    } else if (type === 'iTXt') {
      const [key, start] = splitKeyword(who, chunk)
      const flag = data[start]
      const method = data[start + 1]
      const languageEnd = data.indexOf(0, start + 2)
      const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1)
      if (flag === undefined || method === undefined || translatedEnd < 0) {
        throw new Error(`${who}: iTXt chunk ${JSON.stringify(key)} at byte ${chunk.offset} is truncated`)
      }
      if (flag > 1 || (flag === 1 && method !== 0)) {
        throw new Error(
          `${who}: iTXt chunk ${JSON.stringify(key)}: unknown compression flag ${flag} or method ${method}`,
        )
      }
      const body = data.subarray(translatedEnd + 1)
      const raw = flag === 1 ? inflateText(who, chunk, key, body) : body
      try {
        text[key] = utf8.decode(raw)
      } catch {
        throw new Error(
          `${who}: iTXt chunk ${JSON.stringify(key)} at byte ${chunk.offset}: text is not valid UTF-8`,
        )
      }
    }
  }
  return text
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

/** Reverses the five filters in place, row by row: each row's prediction uses the already-restored row above. */
function unfilter(who: string, filtered: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * BYTES_PER_PIXEL
  const rgb = new Uint8Array(width * height * BYTES_PER_PIXEL)
  const zeros = new Uint8Array(stride)
  for (let y = 0; y < height; y++) {
    const src = filtered.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const type = filtered[y * (stride + 1)] as number
    const cur = rgb.subarray(y * stride, (y + 1) * stride)
    const prev = y === 0 ? zeros : rgb.subarray((y - 1) * stride, y * stride)
    const bpp = BYTES_PER_PIXEL
    switch (type) {
      case Filter.None:
        cur.set(src)
        break
      case Filter.Sub:
        for (let i = 0; i < stride; i++)
          cur[i] = (src[i] as number) + (i >= bpp ? (cur[i - bpp] as number) : 0)
        break
      case Filter.Up:
        for (let i = 0; i < stride; i++) cur[i] = (src[i] as number) + (prev[i] as number)
        break
      case Filter.Average:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? (cur[i - bpp] as number) : 0
          cur[i] = (src[i] as number) + ((a + (prev[i] as number)) >> 1)
        }
        break
      case Filter.Paeth:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? (cur[i - bpp] as number) : 0
          const b = prev[i] as number
          const c = i >= bpp ? (prev[i - bpp] as number) : 0
          const pa = Math.abs(b - c)
          const pb = Math.abs(a - c)
          const pc = Math.abs(a + b - 2 * c)
          cur[i] = (src[i] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
        }
        break
      default:
        throw new Error(`${who}: invalid filter type ${type} on row ${y}`)
    }
    // Uint8Array stores wrap modulo 256, which is exactly the filters' byte arithmetic.
  }
  return rgb
}

/** Chunks a decoder must understand (uppercase first letter) that may appear in an 8-bit RGB PNG. */
const KNOWN_CRITICAL = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND'])

/**
 * Decodes an 8-bit RGB, non-interlaced PNG (what encodePng writes, with any of the five filters) into row-major
 * RGB bytes. Verifies every CRC; throws an Error naming the problem for corrupt files and for any other format
 * (bit depth, colour type, interlacing), which this decoder does not support.
 */
export function decodePngRgb(png: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const who = 'decodePngRgb'
  const chunks = readChunks(who, png)
  const header = asBuffer((chunks[0] as InChunk).data)
  if (header.length !== 13) throw new Error(`${who}: IHDR has ${header.length} bytes, expected 13`)
  const width = header.readUInt32BE(0)
  const height = header.readUInt32BE(4)
  const bitDepth = header[8]
  const colourType = header[9]
  const compression = header[10]
  const filterMethod = header[11]
  const interlace = header[12]
  checkDimension(who, 'width', width)
  checkDimension(who, 'height', height)
  if (bitDepth !== 8 || colourType !== 2) {
    throw new Error(
      `${who}: unsupported PNG: bit depth ${bitDepth}, colour type ${colourType} (only 8-bit RGB, colour type 2, is supported)`,
    )
  }
  if (compression !== 0 || filterMethod !== 0) {
    throw new Error(
      `${who}: unsupported PNG: compression method ${compression}, filter method ${filterMethod}`,
    )
  }
  if (interlace !== 0) throw new Error(`${who}: unsupported PNG: interlaced (Adam7) images are not supported`)

  const idat: Uint8Array[] = []
  for (const chunk of chunks) {
    if (chunk.type === 'IDAT') idat.push(chunk.data)
    else if (!KNOWN_CRITICAL.has(chunk.type) && (chunk.type.charCodeAt(0) & 0x20) === 0) {
      throw new Error(`${who}: unsupported critical chunk ${chunk.type} at byte ${chunk.offset}`)
    }
  }
  if (idat.length === 0) throw new Error(`${who}: no IDAT chunk`)

  const expected = height * (width * BYTES_PER_PIXEL + 1)
  let filtered: Buffer
  try {
    filtered = zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: expected })
  } catch (error) {
    if (error instanceof RangeError) {
      throw new Error(
        `${who}: image data inflates to more than the ${expected} bytes a ${width}x${height} image has`,
      )
    }
    throw new Error(`${who}: image data is not a valid zlib stream (${(error as Error).message})`)
  }
  if (filtered.length !== expected) {
    throw new Error(
      `${who}: image data is ${filtered.length} bytes, a ${width}x${height} image needs ${expected}`,
    )
  }
  return { width, height, rgb: unfilter(who, filtered, width, height) }
}

/** For tests: the table CRC (to check it against zlib's) and encoding with one fixed filter for every row. */
export const pngInternals = {
  crc32Table,
  usesZlibCrc32: typeof zlib.crc32 === 'function',
  encodeWithFilter(rgb: Uint8Array, width: number, height: number, filter: 0 | 1 | 2 | 3 | 4): Buffer {
    return encode(rgb, width, height, undefined, undefined, filter)
  },
}
