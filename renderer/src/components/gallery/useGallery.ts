/**
 * The gallery view's data: the filters, the pages of the current query, and the refreshes that keep them
 * current: every 'gallery.onChange' event (saves, marks, deletes, rebuilds, files added by hand), and each
 * finished job whose images were saved.
 */
import { useEffect, useState, useSyncExternalStore } from 'react'
import type { GenerationResult } from '../../../../common/generation.ts'
import { client } from '../../transport/client.ts'
import { type GalleryFilters, NO_FILTERS, queryOf } from './galleryFilters.ts'
import { GalleryPages } from './galleryPages.ts'

/** Typing in the search box asks the server once it pauses, not on every key. */
const SEARCH_DELAY_MS = 200
/** Change events come in bursts (a job's batch, a scan); one refresh covers a burst. */
const REFRESH_DELAY_MS = 50

export interface GalleryView {
  pages: GalleryPages
  /** Null until the first answer. */
  total: number | null
  loadError: string | null
  filters: GalleryFilters
  setFilters(filters: GalleryFilters): void
  /** Bumped on every new query, so the grid can go back to the top. */
  queryKey: string
}

/** `galleryDir`: the folder in the settings; when the user moves it, the view starts over. */
export function useGallery(lastResult: GenerationResult | null, galleryDir: string | null): GalleryView {
  const [pages] = useState(() => new GalleryPages((query) => client.gallery.list(query)))
  useSyncExternalStore(pages.subscribe, () => pages.revision)
  const [filters, setFilters] = useState<GalleryFilters>(NO_FILTERS)
  const text = useDebounced(filters.text, SEARCH_DELAY_MS)
  // The query as text: an effect then runs only when the query really changes.
  const queryKey = JSON.stringify(queryOf({ ...filters, text }))

  useEffect(() => {
    void galleryDir
    pages.setQuery(JSON.parse(queryKey))
  }, [pages, queryKey, galleryDir])

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null
    const unsubscribe = client.gallery.onChange(() => {
      if (timer !== null) return
      timer = setTimeout(() => {
        timer = null
        pages.refresh()
      }, REFRESH_DELAY_MS)
    })
    return () => {
      unsubscribe()
      if (timer !== null) clearTimeout(timer)
    }
  }, [pages])

  // The event normally comes first; this covers a transport that lost it (an SSE reconnect).
  const savedJob = lastResult?.images.some((image) => image.galleryId !== null) ? lastResult.jobId : null
  useEffect(() => {
    if (savedJob !== null) pages.refresh()
  }, [pages, savedJob])

  return { pages, total: pages.count, loadError: pages.loadError, filters, setFilters, queryKey }
}

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}
