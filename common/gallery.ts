/**
 * The gallery as the renderer sees it: saved images, the queries that browse them, and what the marks and the
 * trash do. The PNG files in the gallery folder are the source of truth; the index (main/gallery) is rebuilt
 * from them whenever it is missing or damaged.
 */
import { z } from 'zod'
import { SINGLE_MODES, type SingleMode, type Timings } from './generation.ts'

/** An image's id is its path relative to the gallery folder, with '/' separators (stable across rebuilds). */
export const galleryIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .refine((p) => !p.includes('\0') && !p.includes('\\'), 'must be a relative path with / separators')
  .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.' || s === ''), {
    message: 'must be a relative path inside the gallery (no leading /, no . or .. segments)',
  })
  .refine((p) => p.toLowerCase().endsWith('.png'), 'must name a .png file')

export const GALLERY_SORTS = ['newest', 'oldest'] as const
export type GallerySort = (typeof GALLERY_SORTS)[number]
export const MAX_GALLERY_PAGE = 500

const isoDate = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' })

export const GalleryQuerySchema = z.strictObject({
  /** Words that must all appear in the class name or prompt, pack id, mode or seed (case-insensitive). */
  text: z.string().trim().max(200, 'must be at most 200 characters').optional(),
  packId: z.string().min(1).max(64).optional(),
  classIndex: z.number().int('must be an integer').min(0).optional(),
  mode: z.enum(SINGLE_MODES).optional(),
  favorite: z.boolean().optional(),
  /** Created at or after / before these instants. */
  from: isoDate.optional(),
  to: isoDate.optional(),
  sort: z.enum(GALLERY_SORTS).optional(),
  offset: z.number().int('must be an integer').min(0).optional(),
  limit: z.number().int('must be an integer').min(1).max(MAX_GALLERY_PAGE).optional(),
})
export type GalleryQuery = z.infer<typeof GalleryQuerySchema>

export const GalleryMarkSchema = z
  .strictObject({
    ids: z.array(galleryIdSchema).min(1).max(MAX_GALLERY_PAGE),
    favorite: z.boolean().optional(),
    /** 0 clears the rating. */
    rating: z.number().int('must be an integer').min(0).max(5).optional(),
  })
  .refine((v) => v.favorite !== undefined || v.rating !== undefined, 'give favorite, rating or both')

export interface GalleryItem {
  id: string
  createdAt: string
  bytes: number
  width: number
  height: number
  /** From the image's own metadata; null for PNGs that DD Studio did not make. */
  packId: string | null
  packVersion: string | null
  mode: SingleMode | null
  classIndex: number | null
  className: string | null
  /** A text pack's image: the prompt it was made with (what the class name is for a class pack's); else null. */
  prompt: string | null
  seed: number | null
  timings: Timings | null
  favorite: boolean
  /** 0 (none) to 5. */
  rating: number
  /** The image's `dd-studio` metadata as written (JSON text), for the lightbox and "Use these settings". */
  metadata: string | null
  /** The A1111-style `parameters` text, when the PNG has one. */
  parameters: string | null
}

export interface GalleryPage {
  total: number
  items: GalleryItem[]
}

export interface GalleryDeleteResult {
  deleted: string[]
  /** Pass to gallery.undoDelete to put the images back (valid until the app quits). */
  undoToken: string
}

export interface GalleryRebuildResult {
  indexed: number
  added: number
  pruned: number
  ms: number
}

/** What changed, so an open gallery view can refresh without polling. */
export interface GalleryChange {
  added: string[]
  removed: string[]
  updated: string[]
}
