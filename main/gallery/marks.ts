/**
 * Favorites and ratings in .dd-studio/marks.json, next to the index: the index can be deleted and rebuilt from
 * the PNGs, and the marks, which the PNGs do not hold, come back from here. Written atomically on every change;
 * read as outside input (a damaged file is set aside, never silently overwritten).
 */
import fs from 'node:fs/promises'
import { z } from 'zod'
import { galleryIdSchema } from '../../common/gallery.ts'
import { writeFileAtomic } from '../app/atomicWrite.ts'
import type { Mark } from './galleryIndex.ts'

const MarksFileSchema = z.strictObject({
  version: z.literal(1),
  marks: z.record(
    galleryIdSchema,
    z.strictObject({
      favorite: z.boolean(),
      rating: z.number().int('must be an integer').min(0).max(5),
    }),
  ),
})

export type MarksLoad =
  | { status: 'ok'; marks: Map<string, Mark> }
  | { status: 'missing' }
  /** The damaged file was renamed to `aside`. */
  | { status: 'damaged'; problem: string; aside: string }

export function isMarked(mark: Mark): boolean {
  return mark.favorite || mark.rating > 0
}

export async function loadMarks(file: string): Promise<MarksLoad> {
  let raw: string
  try {
    raw = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' }
    throw err
  }
  let problem: string
  try {
    const parsed = MarksFileSchema.safeParse(JSON.parse(raw))
    if (parsed.success) {
      const marks = new Map<string, Mark>()
      for (const [id, mark] of Object.entries(parsed.data.marks)) if (isMarked(mark)) marks.set(id, mark)
      return { status: 'ok', marks }
    }
    problem = parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`)
      .join('; ')
  } catch (err) {
    problem = `not valid JSON (${(err as Error).message})`
  }
  const aside = `${file}.damaged-${Date.now()}`
  await fs.rename(file, aside)
  return { status: 'damaged', problem, aside }
}

/** Writes the marks (only images that have one), whole or not at all. */
export async function saveMarks(file: string, marks: ReadonlyMap<string, Mark>): Promise<void> {
  const entries = [...marks].filter(([, mark]) => isMarked(mark)).sort(([a], [b]) => (a < b ? -1 : 1))
  const body = { version: 1, marks: Object.fromEntries(entries) }
  await writeFileAtomic(file, `${JSON.stringify(body, null, 1)}\n`)
}
