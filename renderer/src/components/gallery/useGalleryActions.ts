/**
 * What the grid and the lightbox can do to an image: favorite, rate, delete (with an undo that lasts until the
 * app quits, and at most 30 minutes in the desktop app, whose deletes then go to the system trash) and undo.
 * Each answer is put into the pages at once, before the refresh that the change event brings, so the view
 * reacts without waiting for the server to list again.
 */
import { useCallback, useState } from 'react'
import type { GalleryItem } from '../../../../common/gallery.ts'
import { client } from '../../transport/client.ts'
import { itemSubject } from './GalleryCell.tsx'
import type { GalleryPages } from './galleryPages.ts'

/** The last delete, which the toast offers to undo, or a short message. */
export type Toast =
  | { kind: 'deleted'; undoToken: string; text: string }
  | { kind: 'message'; text: string; error: boolean }

export interface GalleryActions {
  toast: Toast | null
  dismissToast(): void
  toggleFavorite(item: GalleryItem): Promise<void>
  rate(item: GalleryItem, rating: number): Promise<void>
  /** Answers whether the image is gone. */
  remove(item: GalleryItem): Promise<boolean>
  undo(): Promise<void>
}

/**
 * How an image is called in messages: "noto / Animals, seed 42" (a text pack's image: its prompt), or its file
 * name for a foreign PNG.
 */
export function describeItem(item: GalleryItem): string {
  const subject = itemSubject(item)
  if (subject !== null && item.seed !== null) return `${subject}, seed ${item.seed}`
  return item.id.slice(item.id.lastIndexOf('/') + 1)
}

export function useGalleryActions(pages: GalleryPages): GalleryActions {
  const [toast, setToast] = useState<Toast | null>(null)
  const fail = useCallback((text: string) => setToast({ kind: 'message', text, error: true }), [])

  const mark = useCallback(
    async (item: GalleryItem, change: { favorite?: boolean; rating?: number }) => {
      const answer = await client.gallery.mark({ ids: [item.id], ...change })
      if (answer.ok) pages.replace(answer.value)
      else fail(`Could not mark ${describeItem(item)}: ${answer.error.message}`)
    },
    [pages, fail],
  )

  const toggleFavorite = useCallback((item: GalleryItem) => mark(item, { favorite: !item.favorite }), [mark])
  const rate = useCallback((item: GalleryItem, rating: number) => mark(item, { rating }), [mark])

  const remove = useCallback(
    async (item: GalleryItem) => {
      const answer = await client.gallery.delete({ ids: [item.id] })
      if (!answer.ok) {
        fail(`Could not delete ${describeItem(item)}: ${answer.error.message}`)
        return false
      }
      pages.remove(answer.value.deleted)
      setToast({ kind: 'deleted', undoToken: answer.value.undoToken, text: `Deleted ${describeItem(item)}.` })
      return true
    },
    [pages, fail],
  )

  const undo = useCallback(async () => {
    if (toast?.kind !== 'deleted') return
    const answer = await client.gallery.undoDelete({ undoToken: toast.undoToken })
    if (!answer.ok) {
      fail(`Could not undo the delete: ${answer.error.message}`)
      return
    }
    pages.refresh()
    const restored = answer.value[0]
    setToast({
      kind: 'message',
      text: restored ? `Restored ${describeItem(restored)}.` : 'Nothing was left to restore.',
      error: false,
    })
  }, [toast, pages, fail])

  const dismissToast = useCallback(() => setToast(null), [])

  return { toast, dismissToast, toggleFavorite, rate, remove, undo }
}
