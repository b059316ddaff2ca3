/**
 * What the index keeps about one PNG, read from the file itself: its size from IHDR, and its text chunks: the
 * `dd-studio` JSON the engine writes and an A1111-style `parameters` text. The files come from outside (the
 * user may drop any PNG into the folder), so every field is checked; a field that is missing or malformed is
 * null rather than a reason to drop the image. Only a file that is not a readable PNG is refused.
 */
import { z } from 'zod'
import type { GalleryItem } from '../../common/gallery.ts'
import { MAX_PROMPT_CHARS, SINGLE_MODES } from '../../common/generation.ts'
import { METADATA_KEY, PARAMETERS_KEY } from '../../common/parameters.ts'
import { PNG_SIGNATURE } from '../../common/pngText.ts'
import { PNG_MAX_DIMENSION, readPngText } from '../engine/output/png.ts'

/** Text kept in the index per image; longer metadata is not ours and is not worth a database row. */
export const MAX_TEXT_CHARS = 64 * 1024

/** The fields of a gallery item that come from the PNG itself (the rest are the file's and the user's). */
export type PngFacts = Pick<
  GalleryItem,
  | 'width'
  | 'height'
  | 'packId'
  | 'packVersion'
  | 'mode'
  | 'classIndex'
  | 'className'
  | 'prompt'
  | 'seed'
  | 'timings'
  | 'metadata'
  | 'parameters'
>

const nonNegative = z.number().finite().min(0)
const TimingsSchema = z.object({
  tokenMs: nonNegative,
  decodeMs: nonNegative,
  otherMs: nonNegative,
  totalMs: nonNegative,
})

/** Each field on its own, so one bad field does not hide the others. */
const fields = {
  packId: z.string().min(1).max(64),
  packVersion: z.string().min(1).max(64),
  mode: z.enum(SINGLE_MODES),
  classIndex: z.number().int().min(0).max(1_000_000),
  className: z.string().max(200),
  prompt: z.string().max(MAX_PROMPT_CHARS),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  timings: TimingsSchema,
}

function pick<T>(schema: z.ZodType<T>, value: unknown): T | null {
  const parsed = schema.safeParse(value)
  return parsed.success ? parsed.data : null
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}

/** Width and height from the IHDR chunk, which the PNG specification puts first. */
function dimensions(png: Uint8Array): { width: number; height: number } {
  if (png.length < 33 || PNG_SIGNATURE.some((b, i) => png[i] !== b))
    throw new Error('not a PNG file (bad signature)')
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  const type = String.fromCharCode(png[12] as number, png[13] as number, png[14] as number, png[15] as number)
  if (view.getUint32(8) !== 13 || type !== 'IHDR') throw new Error('the first chunk is not a 13-byte IHDR')
  const width = view.getUint32(16)
  const height = view.getUint32(20)
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (value < 1 || value > PNG_MAX_DIMENSION)
      throw new Error(`IHDR ${name} ${value} is outside 1..${PNG_MAX_DIMENSION}`)
  }
  return { width, height }
}

function boundedText(text: string | undefined): string | null {
  if (text === undefined || text.length > MAX_TEXT_CHARS) return null
  return text
}

/**
 * Reads the facts of one PNG. Throws an Error (prefixed with `where`, the file) when the bytes are not a PNG
 * whose chunks all check out; metadata problems never throw.
 */
export function readPngFacts(png: Uint8Array, where: string): PngFacts {
  let size: { width: number; height: number }
  let text: Record<string, string>
  try {
    size = dimensions(png)
    text = readPngText(png)
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`)
  }
  const metadata = boundedText(text[METADATA_KEY])
  const parameters = boundedText(text[PARAMETERS_KEY])
  let meta: unknown = null
  if (metadata !== null) {
    try {
      meta = JSON.parse(metadata)
    } catch {
      meta = null
    }
  }
  const pack = field(meta, 'pack')
  const cls = field(meta, 'class')
  return {
    ...size,
    packId: pick(fields.packId, field(pack, 'id')),
    packVersion: pick(fields.packVersion, field(pack, 'version')),
    mode: pick(fields.mode, field(meta, 'mode')),
    classIndex: pick(fields.classIndex, field(cls, 'index')),
    className: pick(fields.className, field(cls, 'name')),
    prompt: pick(fields.prompt, field(field(meta, 'prompt'), 'text')),
    seed: pick(fields.seed, field(meta, 'seed')),
    timings: pick(fields.timings, field(meta, 'timingsMs')),
    // Keep the JSON only when it parsed: the lightbox and "Use these settings" read it back.
    metadata: meta !== null && typeof meta === 'object' ? metadata : null,
    parameters,
  }
}
