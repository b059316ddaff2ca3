/**
 * The gallery on the right of the window: search and filters, the virtualized grid of saved images (newest
 * first), the lightbox, and the toast that undoes a delete. It keeps which image is selected; the grid and the
 * lightbox both move that selection, so closing the lightbox leaves the grid on the image last shown.
 */
import { useEffect, useRef, useState } from 'react'
import type { GenerateRequest, GenerationResult, PackSummary } from '../../../../common/generation.ts'
import type { Settings } from '../../../../common/types.ts'
import { heading, panel } from '../Panels.tsx'
import { GalleryFilters } from './GalleryFilters.tsx'
import { activeFilterCount } from './galleryFilters.ts'
import { Lightbox } from './Lightbox.tsx'
import { UndoToast } from './UndoToast.tsx'
import { useGallery } from './useGallery.ts'
import { useGalleryActions } from './useGalleryActions.ts'
import { type GridKeyAction, VirtualGrid } from './VirtualGrid.tsx'

interface Props {
  settings: Settings | null
  packs: PackSummary[] | null
  /** The last finished job: its saved images are listed at once. */
  lastResult: GenerationResult | null
  onUseSettings(request: GenerateRequest, from: string): void
}

export function GalleryPane({ settings, packs, lastResult, onUseSettings }: Props) {
  const view = useGallery(lastResult, settings?.galleryDir ?? null)
  const { pages, total } = view
  const actions = useGalleryActions(pages)
  const [selected, setSelected] = useState(0)
  const [lightboxOpen, setLightboxOpen] = useState(false)
  const [focusRequest, setFocusRequest] = useState(0)
  const [revealRequest, setRevealRequest] = useState(0)
  const count = total ?? 0

  // While the lightbox is open, its image is followed by id when images arrive or go before it (a job
  // finished, a delete), so it keeps showing the same image; a deleted one leaves it on the image after it.
  // The grid alone keeps its place instead: a selection that jumps as images arrive would pull the view along.
  const selectedId = useRef<string | null>(null)
  const current = pages.at(selected)
  useEffect(() => {
    const wanted = selectedId.current
    if (lightboxOpen && wanted !== null && current?.id !== wanted) {
      const moved = pages.indexOf(wanted)
      if (moved >= 0) {
        setSelected(moved)
        return
      }
    }
    selectedId.current = current?.id ?? null
  })

  // A new query starts at the top.
  useEffect(() => {
    void view.queryKey
    selectedId.current = null
    setSelected(0)
  }, [view.queryKey])

  // Deleting the last images leaves the selection past the end: bring it back, or close an empty lightbox.
  useEffect(() => {
    if (total === null) return
    if (total === 0) setLightboxOpen(false)
    else if (selected >= total) setSelected(total - 1)
  }, [selected, total])

  function select(index: number) {
    selectedId.current = pages.at(index)?.id ?? null
    setSelected(index)
  }

  function gridAction(action: GridKeyAction, index: number) {
    const item = pages.at(index)
    if (!item) return
    if (action.kind === 'favorite') void actions.toggleFavorite(item)
    else if (action.kind === 'delete') void actions.remove(item)
    else void actions.rate(item, action.rating)
  }

  return (
    <section aria-labelledby="gallery-title" className={`${panel} w-[23rem] shrink-0 border-l`}>
      <div className="flex items-baseline justify-between pr-4">
        <h2 id="gallery-title" className={heading}>
          Gallery
        </h2>
        <p
          data-testid="gallery-count"
          aria-live="polite"
          className="text-xs text-zinc-600 dark:text-zinc-400"
        >
          {total === null
            ? 'Loading…'
            : `${count.toLocaleString('en-US')} ${count === 1 ? 'image' : 'images'}`}
        </p>
      </div>
      <GalleryFilters filters={view.filters} onChange={view.setFilters} packs={packs} />
      {view.loadError && (
        <p
          role="alert"
          className="mx-3 mb-2 rounded border border-red-300 p-2 text-xs text-red-800 dark:text-red-200"
        >
          The gallery could not be listed: {view.loadError}{' '}
          <button type="button" className="underline" onClick={() => pages.refresh()}>
            Try again
          </button>
        </p>
      )}
      {total === 0 ? (
        <EmptyGallery
          filtered={view.filters.text.trim() !== '' || activeFilterCount(view.filters) > 0}
          galleryDir={settings?.galleryDir ?? null}
        />
      ) : (
        <VirtualGrid
          pages={pages}
          total={count}
          selected={Math.min(selected, Math.max(0, count - 1))}
          onSelect={select}
          onOpen={(index) => {
            select(index)
            setLightboxOpen(true)
          }}
          onAction={gridAction}
          revealRequest={revealRequest}
          focusRequest={focusRequest}
          resetKey={view.queryKey}
        />
      )}
      {!lightboxOpen && (
        <div className="px-3 pb-3">
          <UndoToast
            toast={actions.toast}
            onUndo={() => void actions.undo()}
            onDismiss={actions.dismissToast}
          />
        </div>
      )}
      <Lightbox
        open={lightboxOpen}
        index={selected}
        total={count}
        item={current}
        onMove={(index) => {
          select(index)
          setRevealRequest((n) => n + 1)
        }}
        onClose={() => {
          setLightboxOpen(false)
          setFocusRequest((n) => n + 1)
        }}
        actions={actions}
        packs={packs}
        galleryDir={settings?.galleryDir ?? null}
        onUseSettings={onUseSettings}
      />
    </section>
  )
}

function EmptyGallery({ filtered, galleryDir }: { filtered: boolean; galleryDir: string | null }) {
  return (
    <div className="px-4 pb-4 text-sm text-zinc-600 dark:text-zinc-400" data-testid="gallery-empty">
      <p>
        {filtered
          ? 'No image matches the search and filters.'
          : 'No images yet: generated images are saved here.'}
      </p>
      {galleryDir && !filtered && (
        <p className="mt-2 text-xs break-all" title="Gallery folder">
          Folder: {galleryDir}
        </p>
      )}
    </div>
  )
}
