/**
 * Gallery thumbnails: at most 128 px on the longest side, cached as PNG in .dd-studio/thumbs/ under a name
 * made from the image's id and mtime, so an edited or replaced file gets a fresh one. Small images (the 32x32
 * emoji) are enlarged by a whole factor with nearest neighbour, so pixel art stays crisp; larger ones are
 * reduced by averaging the source pixels each thumbnail pixel covers.
 */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { decodePngRgb, encodePng } from '../engine/output/png.ts'

export const THUMB_SIZE = 128
/** Above this the decode alone would take a lot of memory in main: such images are shown as they are. */
export const MAX_THUMB_SOURCE_PIXELS = 40_000_000

export interface RgbImage {
  width: number
  height: number
  rgb: Uint8Array
}

/** The thumbnail's pixels (8-bit RGB). */
export function thumbnailPixels(image: RgbImage, size = THUMB_SIZE): RgbImage {
  const { width, height, rgb } = image
  const longest = Math.max(width, height)
  if (longest <= size) {
    const factor = Math.max(1, Math.floor(size / longest))
    return scaleNearest(image, factor)
  }
  const scale = size / longest
  const outW = Math.max(1, Math.round(width * scale))
  const outH = Math.max(1, Math.round(height * scale))
  const out = new Uint8Array(outW * outH * 3)
  for (let y = 0; y < outH; y++) {
    const y0 = Math.floor((y * height) / outH)
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / outH))
    for (let x = 0; x < outW; x++) {
      const x0 = Math.floor((x * width) / outW)
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * width) / outW))
      let r = 0
      let g = 0
      let b = 0
      for (let sy = y0; sy < y1; sy++) {
        let i = (sy * width + x0) * 3
        for (let sx = x0; sx < x1; sx++, i += 3) {
          r += rgb[i] as number
          g += rgb[i + 1] as number
          b += rgb[i + 2] as number
        }
      }
      const n = (y1 - y0) * (x1 - x0)
      const o = (y * outW + x) * 3
      out[o] = Math.round(r / n)
      out[o + 1] = Math.round(g / n)
      out[o + 2] = Math.round(b / n)
    }
  }
  return { width: outW, height: outH, rgb: out }
}

/** Each source pixel becomes a factor x factor block. */
function scaleNearest(image: RgbImage, factor: number): RgbImage {
  if (factor === 1) return image
  const { width, height, rgb } = image
  const outW = width * factor
  const out = new Uint8Array(outW * height * factor * 3)
  for (let y = 0; y < height; y++) {
    const row = new Uint8Array(outW * 3)
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3
      for (let k = 0; k < factor; k++) row.set(rgb.subarray(s, s + 3), (x * factor + k) * 3)
    }
    for (let k = 0; k < factor; k++) out.set(row, (y * factor + k) * outW * 3)
  }
  return { width: outW, height: height * factor, rgb: out }
}

/** The cache file of one version of an image. */
export function thumbName(id: string, mtimeMs: number): string {
  const hash = createHash('sha256')
    .update(`${id}\0${Math.floor(mtimeMs)}`)
    .digest('hex')
    .slice(0, 40)
  return `${hash}.png`
}

export type ThumbOutcome =
  | { kind: 'thumb'; file: string }
  /** The image could not be made smaller here (a PNG format the decoder does not read, or a huge one). */
  | { kind: 'original'; reason: string }

/**
 * The thumbnail of `source`, from the cache or made now. `pending` collapses concurrent requests for the
 * same one (a gallery page asks for many at once).
 */
export async function ensureThumbnail(
  thumbsDir: string,
  id: string,
  source: string,
  mtimeMs: number,
  pending: Map<string, Promise<ThumbOutcome>>,
): Promise<ThumbOutcome> {
  const file = path.join(thumbsDir, thumbName(id, mtimeMs))
  try {
    await fs.access(file)
    return { kind: 'thumb', file }
  } catch {
    // not cached yet
  }
  const running = pending.get(file)
  if (running) return running
  const making = makeThumbnail(thumbsDir, source, file).finally(() => pending.delete(file))
  pending.set(file, making)
  return making
}

async function makeThumbnail(thumbsDir: string, source: string, file: string): Promise<ThumbOutcome> {
  const png = await fs.readFile(source)
  let image: RgbImage
  try {
    if (png.length >= 24) {
      const pixels = png.readUInt32BE(16) * png.readUInt32BE(20)
      if (pixels > MAX_THUMB_SOURCE_PIXELS)
        return { kind: 'original', reason: `${pixels} pixels is too large` }
    }
    image = decodePngRgb(png)
  } catch (err) {
    return { kind: 'original', reason: (err as Error).message }
  }
  const thumb = thumbnailPixels(image)
  const bytes = encodePng(thumb.rgb, thumb.width, thumb.height)
  // A cache file: a temporary name and a rename keep readers from seeing half of it; no fsync needed.
  await fs.mkdir(thumbsDir, { recursive: true })
  const tmp = path.join(thumbsDir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await fs.writeFile(tmp, bytes)
    await fs.rename(tmp, file)
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined)
    throw err
  }
  return { kind: 'thumb', file }
}

/** Removes cached thumbnails that belong to no current image version; answers how many went. */
export async function pruneThumbnails(thumbsDir: string, keep: ReadonlySet<string>): Promise<number> {
  let names: string[]
  try {
    names = await fs.readdir(thumbsDir)
  } catch {
    return 0
  }
  let removed = 0
  for (const name of names) {
    // Dot names are thumbnails being written right now.
    if (keep.has(name) || name.startsWith('.')) continue
    await fs.rm(path.join(thumbsDir, name), { force: true }).catch(() => undefined)
    removed++
  }
  return removed
}
