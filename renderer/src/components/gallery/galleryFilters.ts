/** The gallery's filters as the form holds them, and the gallery.list query they make. */
import type { GalleryQuery } from '../../../../common/gallery.ts'
import type { SingleMode } from '../../../../common/generation.ts'

export interface GalleryFilters {
  text: string
  /** '' means any. */
  packId: string
  /** A class index as text; '' means any. */
  classIndex: string
  mode: SingleMode | ''
  favorite: boolean
  /** Local dates (YYYY-MM-DD, as <input type="date"> gives them); '' means no bound. */
  from: string
  to: string
}

export const NO_FILTERS: GalleryFilters = {
  text: '',
  packId: '',
  classIndex: '',
  mode: '',
  favorite: false,
  from: '',
  to: '',
}

/** The instant a local date starts, or (end) the last millisecond of it, as the ISO text the query takes. */
export function dayBound(date: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined
  const at = new Date(`${date}T${end ? '23:59:59.999' : '00:00:00'}`)
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString()
}

/** Newest first, with only the filters that are set. */
export function queryOf(filters: GalleryFilters): GalleryQuery {
  const query: GalleryQuery = { sort: 'newest' }
  const text = filters.text.trim().slice(0, 200)
  if (text !== '') query.text = text
  if (filters.packId !== '') query.packId = filters.packId
  if (/^\d+$/.test(filters.classIndex)) query.classIndex = Number(filters.classIndex)
  if (filters.mode !== '') query.mode = filters.mode
  if (filters.favorite) query.favorite = true
  const from = dayBound(filters.from, false)
  const to = dayBound(filters.to, true)
  if (from) query.from = from
  if (to) query.to = to
  return query
}

/** How many filters besides the text are set, for the "Clear filters" button. */
export function activeFilterCount(filters: GalleryFilters): number {
  return (Object.keys(NO_FILTERS) as (keyof GalleryFilters)[]).filter(
    (key) => key !== 'text' && filters[key] !== NO_FILTERS[key],
  ).length
}
