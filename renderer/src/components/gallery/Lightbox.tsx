/**
 * One image large, in a modal dialog: ← and → (or the buttons) move to the previous and next image of the
 * current view, Esc closes it. Beside it, how the image was made (MetadataList) and the A1111 parameters text;
 * under it, the actions: favorite (F), rating (0-5), delete (Delete, with an undo), copy, save as, reveal in
 * folder (desktop app only) and "Use these settings". In the desktop app the image itself drags out to other
 * apps as its file; in a browser, as the browser's own image drag.
 */
import { useEffect, useRef, useState } from 'react'
import type { GalleryItem } from '../../../../common/gallery.ts'
import type { GenerateRequest, PackSummary } from '../../../../common/generation.ts'
import { type DdStudioMetadata, parseMetadata } from '../../../../common/parameters.ts'
import { Dialog, DialogHeader } from '../Dialog.tsx'
import { copyImage } from './copyImage.ts'
import { itemName, itemSubject } from './GalleryCell.tsx'
import { MetadataRows, ParametersText, Row } from './MetadataList.tsx'
import { RatingControl } from './RatingControl.tsx'
import { usableSettings } from './settingsCheck.ts'
import { fileNameOf, imageUrl, REVEAL_UNAVAILABLE, useDesktopActions } from './shell.ts'
import { UndoToast } from './UndoToast.tsx'
import { actionButton, primaryAction } from './ui.ts'
import { describeItem, type GalleryActions } from './useGalleryActions.ts'

interface Props {
  open: boolean
  index: number
  total: number
  /** Undefined while its page loads. */
  item: GalleryItem | undefined
  onMove(index: number): void
  onClose(): void
  actions: GalleryActions
  packs: PackSummary[] | null
  galleryDir: string | null
  onUseSettings(request: GenerateRequest, from: string): void
}

/** Images this small (the emoji packs' 32 px) are shown with square pixels, never smoothed. */
const PIXELATED_UP_TO = 256

export function Lightbox(props: Props) {
  const { open, onClose, item, index, total } = props
  const subject = item ? itemSubject(item) : null
  const title = item
    ? subject !== null
      ? `${subject}${item.seed !== null ? `, seed ${item.seed}` : ''}`
      : fileNameOf(item.id)
    : 'Loading image…'
  return (
    <Dialog
      open={open}
      onClose={onClose}
      labelledBy="lightbox-title"
      describedBy="lightbox-position"
      width="w-[min(1120px,96vw)]"
      testId="lightbox"
      restoreFocus={false}
    >
      <DialogHeader id="lightbox-title" title={title} onClose={onClose}>
        <p id="lightbox-position" className="text-xs text-zinc-600 dark:text-zinc-400">
          Image {index + 1} of {total} · ← → move · F favorite · 0–5 rate · Delete deletes
        </p>
      </DialogHeader>
      <LightboxBody {...props} />
    </Dialog>
  )
}

function LightboxBody({
  index,
  total,
  item,
  onMove,
  actions,
  packs,
  galleryDir,
  onUseSettings,
  onClose,
}: Props) {
  const [note, setNote] = useState<{ text: string; error: boolean } | null>(null)
  const desktop = useDesktopActions()
  const metadata = parsed(item?.metadata ?? null)
  const usable = usableSettings(item?.metadata ?? null, packs)
  const hasPrevious = index > 0
  const hasNext = index < total - 1

  // A message about the previous image would be wrong on this one.
  const shownId = item?.id
  useEffect(() => {
    void shownId
    setNote(null)
  }, [shownId])

  // The keys act while the focus is anywhere in the lightbox (the window's own shortcuts stand aside while a
  // dialog is open). A ref keeps the listener current without adding it again on every render.
  const keys = useRef<(e: KeyboardEvent) => void>(() => undefined)
  keys.current = (e: KeyboardEvent) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return
    if (!(e.target instanceof Element) || !e.target.closest('dialog[aria-labelledby="lightbox-title"]'))
      return
    // Arrow keys choose among the rating's radio buttons while one has the focus.
    const inRadio = e.target instanceof HTMLInputElement && e.target.type === 'radio'
    if (e.key === 'ArrowLeft' && !inRadio) {
      if (hasPrevious) onMove(index - 1)
    } else if (e.key === 'ArrowRight' && !inRadio) {
      if (hasNext) onMove(index + 1)
    } else if (item && (e.key === 'f' || e.key === 'F')) {
      void actions.toggleFavorite(item)
    } else if (item && (e.key === 'Delete' || e.key === 'Backspace')) {
      void actions.remove(item)
    } else if (item && /^[0-5]$/.test(e.key)) {
      void actions.rate(item, Number(e.key))
    } else {
      return
    }
    e.preventDefault()
  }
  useEffect(() => {
    const listener = (e: KeyboardEvent) => keys.current(e)
    window.addEventListener('keydown', listener)
    return () => window.removeEventListener('keydown', listener)
  }, [])

  async function copy(id: string) {
    const outcome = await copyImage(imageUrl(id))
    setNote({ text: outcome.message, error: !outcome.ok })
  }

  async function reveal(id: string) {
    const problem = await desktop.revealInFolder?.(id)
    if (problem) setNote({ text: problem, error: true })
  }

  return (
    <div className="flex min-h-0 flex-1 flex-col md:flex-row">
      <div className="flex min-w-0 flex-1 flex-col items-center gap-3 overflow-y-auto bg-zinc-100 p-4 dark:bg-zinc-950">
        <div className="flex w-full items-center justify-center gap-2">
          <button
            type="button"
            onClick={() => onMove(index - 1)}
            disabled={!hasPrevious}
            aria-label="Previous image"
            aria-keyshortcuts="ArrowLeft"
            className={actionButton}
          >
            ←
          </button>
          <div className="flex min-w-0 flex-1 justify-center">
            {item ? (
              <LargeImage item={item} startDrag={desktop.startDrag} />
            ) : (
              <div className="flex aspect-square w-[min(100%,52vh)] items-center justify-center text-sm">
                Loading…
              </div>
            )}
          </div>
          <button
            type="button"
            onClick={() => onMove(index + 1)}
            disabled={!hasNext}
            aria-label="Next image"
            aria-keyshortcuts="ArrowRight"
            className={actionButton}
          >
            →
          </button>
        </div>
        {item && (
          <div className="flex flex-wrap items-center justify-center gap-2" data-testid="lightbox-actions">
            <button
              type="button"
              onClick={() => void actions.toggleFavorite(item)}
              aria-pressed={item.favorite}
              aria-keyshortcuts="F"
              data-testid="lightbox-favorite"
              className={actionButton}
            >
              {item.favorite ? '★ Favorite' : '☆ Favorite'}
            </button>
            <RatingControl value={item.rating} onChange={(n) => void actions.rate(item, n)} />
            <button
              type="button"
              onClick={() => void actions.remove(item)}
              aria-keyshortcuts="Delete"
              data-testid="lightbox-delete"
              className={actionButton}
            >
              Delete
            </button>
            <button type="button" onClick={() => void copy(item.id)} className={actionButton}>
              Copy image
            </button>
            <a
              href={imageUrl(item.id)}
              download={fileNameOf(item.id)}
              data-testid="lightbox-save"
              className={actionButton}
            >
              Save as…
            </a>
            {desktop.revealInFolder && (
              <button type="button" onClick={() => void reveal(item.id)} className={actionButton}>
                Reveal in folder
              </button>
            )}
            <button
              type="button"
              data-testid="use-settings"
              disabled={!usable.ok}
              aria-describedby={usable.ok ? undefined : 'use-settings-why'}
              onClick={() => {
                if (!usable.ok) return
                onUseSettings(usable.request, describeItem(item))
                onClose()
              }}
              className={primaryAction}
            >
              Use these settings
            </button>
          </div>
        )}
        {!usable.ok && item && (
          <p id="use-settings-why" className="text-xs text-zinc-600 dark:text-zinc-400">
            “Use these settings” is off: {usable.reason}
          </p>
        )}
        {note && (
          <p
            role={note.error ? 'alert' : 'status'}
            data-testid="lightbox-note"
            className={`text-sm ${note.error ? 'text-red-700 dark:text-red-300' : 'text-emerald-700 dark:text-emerald-300'}`}
          >
            {note.text}
          </p>
        )}
        <div className="w-full max-w-md">
          <UndoToast
            toast={actions.toast}
            onUndo={() => void actions.undo()}
            onDismiss={actions.dismissToast}
          />
        </div>
      </div>
      {item && (
        <section
          aria-label="Image details"
          // Focusable, so keyboard users can scroll the details when they run long.
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
          tabIndex={0}
          data-testid="lightbox-details"
          className="w-full shrink-0 overflow-y-auto border-t border-zinc-200 p-4 text-sm focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-indigo-500 md:w-80 md:border-t-0 md:border-l dark:border-zinc-800"
        >
          <dl>
            {metadata.value ? (
              <MetadataRows metadata={metadata.value} timings={item.timings} />
            ) : (
              <Row term="Settings">{metadata.problem}</Row>
            )}
            <Row term="Size">
              {item.width}×{item.height} px · {formatBytes(item.bytes)}
            </Row>
            <Row term="Created">{new Date(item.createdAt).toLocaleString()}</Row>
            <Row term="File" testId="meta-file">
              <span className="font-mono text-xs">{galleryDir ? `${galleryDir}/${item.id}` : item.id}</span>
              {!desktop.revealInFolder && (
                <span className="mt-0.5 block text-xs text-zinc-600 dark:text-zinc-400">
                  {REVEAL_UNAVAILABLE}
                </span>
              )}
            </Row>
          </dl>
          <ParametersText text={item.parameters} id="lightbox-parameters-title" />
        </section>
      )}
    </div>
  )
}

function LargeImage({ item, startDrag }: { item: GalleryItem; startDrag(id: string): boolean }) {
  const small = Math.max(item.width, item.height) <= PIXELATED_UP_TO
  return (
    <img
      key={item.id}
      src={imageUrl(item.id)}
      alt={itemName(item)}
      data-testid="lightbox-image"
      data-id={item.id}
      // Where the shell drags the file itself, the browser's own drag (of the image's URL) is not wanted.
      onDragStart={(e) => {
        if (startDrag(item.id)) e.preventDefault()
      }}
      width={item.width}
      height={item.height}
      // Scaled to fit; small images by square pixels (the 'pixelated' class), large ones smoothly.
      className={`aspect-auto h-auto max-h-[52vh] w-[min(100%,52vh)] rounded border border-zinc-300 bg-white object-contain dark:border-zinc-700 dark:bg-zinc-900 ${small ? 'pixelated' : ''}`}
      style={{ aspectRatio: `${item.width} / ${item.height}` }}
    />
  )
}

function parsed(
  json: string | null,
): { value: DdStudioMetadata; problem: null } | { value: null; problem: string } {
  if (json === null) return { value: null, problem: 'None: this PNG was not made by DD Studio.' }
  try {
    return { value: parseMetadata(json), problem: null }
  } catch (error) {
    return { value: null, problem: (error as Error).message }
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
