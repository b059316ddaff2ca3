/**
 * A pack's example sheet (manifest `examples`, format revision 1.1): real training images per class that the
 * class picker shows. They are decoration, so a sheet that does not match its manifest entry costs the pack its
 * examples, not its use: checkExamples reports why, naming the field and the file, and the pack stays ready.
 * The sheet's bytes are still covered by `files` like every other file; loadPack's sha256 rule applies first.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { decodePngRgb } from '../output/png.ts'
import type { PackManifest } from './manifest.ts'

/** The examples of a ready pack, once the sheet has been found to match its manifest entry. */
export interface PackExamples {
  /** The sheet's file name inside the pack folder. */
  file: string
  /** Example images in each row. */
  perClass: number
  /** One cell's [width, height] in pixels. */
  cell: [number, number]
  /** One row per class; the row is the class index. */
  rows: number
  /** The sheet's sha256 from `files`: changes whenever the sheet does (used to version its URL). */
  sha256: string
}

/**
 * Larger sheets are refused unread: a sheet this size (e.g. 1000 classes of 4 cells at 64x64 is 16 M) is already
 * far more than a class picker can use, and decoding one holds every pixel in memory.
 */
export const MAX_SHEET_PIXELS = 32 * 1024 * 1024

export type ExamplesCheck = { examples: PackExamples | null; problems: string[] }

/**
 * Checks the manifest's examples entry against its sheet. Call it after every file in `files` has matched its
 * sha256 (as loadPack does): it only asks whether the sheet is what the entry describes.
 */
export async function checkExamples(dir: string, manifest: PackManifest): Promise<ExamplesCheck> {
  const entry = manifest.examples
  if (!entry) return { examples: null, problems: [] }
  const where = `manifest.json: examples: ${entry.file}`
  const listed = manifest.files[entry.file]
  if (!listed) return refuse(`${where} has no entry in files, so it cannot be checked`)

  if (manifest.conditioning.kind !== 'class')
    return refuse(`${where}: a sheet has a row per class, and a text pack has no classes`)
  const classes = manifest.conditioning.classes
  const [cellWidth, cellHeight] = entry.cell
  const width = entry.perClass * cellWidth
  const height = classes.length * cellHeight
  const outOfRange = classes.find((c) => c.index >= classes.length)
  if (outOfRange) {
    return refuse(
      `${where}: class ${outOfRange.index} has no row (rows are the class indices 0..${classes.length - 1})`,
    )
  }
  if (width * height > MAX_SHEET_PIXELS) {
    return refuse(`${where}: a ${width}x${height} sheet is over the ${MAX_SHEET_PIXELS}-pixel limit`)
  }

  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(path.join(dir, entry.file))
  } catch (err) {
    return refuse(`${where} cannot be read (${(err as Error).message})`)
  }
  const size = pngSize(bytes)
  if (!size) return refuse(`${where} is not a PNG image`)
  if (size.width !== width || size.height !== height) {
    const rows = size.height / cellHeight
    const rowNote = Number.isInteger(rows)
      ? `${rows} rows of ${cellHeight} px for ${classes.length} classes`
      : `not a whole number of ${cellHeight}-px rows`
    return refuse(
      `${where} is ${size.width}x${size.height} pixels (${rowNote}); perClass ${entry.perClass} and cell ` +
        `[${cellWidth}, ${cellHeight}] with one row per class need ${width}x${height}`,
    )
  }
  try {
    decodePngRgb(bytes)
  } catch (err) {
    // decodePngRgb names itself; the user needs the file and what an example sheet must be.
    const why = (err as Error).message.replace(/^decodePngRgb: /, '')
    return refuse(`${where} is not a usable 8-bit RGB PNG (${why})`)
  }
  return {
    examples: {
      file: entry.file,
      perClass: entry.perClass,
      cell: [cellWidth, cellHeight],
      rows: classes.length,
      sha256: listed.sha256,
    },
    problems: [],
  }
}

function refuse(problem: string): ExamplesCheck {
  return { examples: null, problems: [problem] }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Width and height from the IHDR chunk, which a PNG must start with; null when the bytes are no PNG. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return null
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null
  return { width: view.getUint32(16), height: view.getUint32(20) }
}
