/**
 * One image of the gallery grid: a button named by its class (or prompt), mode and seed, showing the cached
 * thumbnail.
 */
import { useState } from 'react'
import type { GalleryItem } from '../../../../common/gallery.ts'
import { modeLabel } from '../generate/modes.ts'
import { fileNameOf, thumbUrl, useDesktopActions } from './shell.ts'

/** The thumbnail's size on screen: half the cached 128 px, so small images keep whole, square pixels. */
export const THUMB_PX = 64

/**
 * What an image shows, in words: its class name, or the prompt of a text pack's image (an empty prompt made an
 * unconditional image); null when its metadata says neither.
 */
export function itemSubject(item: GalleryItem): string | null {
  if (item.prompt !== null) return item.prompt.trim() === '' ? 'no prompt (unconditional)' : item.prompt
  return item.className
}

/** What a screen reader (and the tooltip) says for an image. */
export function itemName(item: GalleryItem): string {
  const subject = itemSubject(item)
  const parts =
    subject === null && item.mode === null && item.seed === null
      ? [fileNameOf(item.id), 'no DD Studio settings']
      : [
          subject ?? 'unknown class',
          item.mode ? modeLabel(item.mode) : 'unknown mode',
          item.seed !== null ? `seed ${item.seed}` : 'unknown seed',
        ]
  if (item.favorite) parts.push('favorite')
  if (item.rating > 0) parts.push(`rated ${item.rating} of 5`)
  return parts.join(', ')
}

interface Props {
  item: GalleryItem | undefined
  index: number
  total: number
  selected: boolean
  /** The grid is scrolling fast: a cell that has not shown its thumbnail yet waits until it settles. */
  deferImage: boolean
  onOpen(index: number): void
}

export function GalleryCell({ item, index, total, selected, deferImage, onOpen }: Props) {
  // Once shown, a thumbnail stays while the grid scrolls on.
  const [showImage, setShowImage] = useState(!deferImage)
  const desktop = useDesktopActions()
  if (!showImage && !deferImage) setShowImage(true)
  const name = item ? itemName(item) : `Image ${index + 1} of ${total}, loading`
  return (
    <button
      type="button"
      data-testid="gallery-cell"
      data-index={index}
      data-id={item?.id}
      tabIndex={selected ? 0 : -1}
      aria-label={name}
      title={name}
      onClick={() => onOpen(index)}
      onDragStart={(e) => {
        // Where the shell drags the file itself, the browser's own drag (of the image's URL) is not wanted.
        if (item && desktop.startDrag(item.id)) e.preventDefault()
      }}
      className={`relative flex size-[72px] items-center justify-center rounded-md border-2 bg-zinc-100 focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500 dark:bg-zinc-800 ${
        selected ? 'border-indigo-500' : 'border-transparent hover:border-zinc-300 dark:hover:border-zinc-600'
      }`}
    >
      {item && showImage && (
        <img
          src={thumbUrl(item.id)}
          alt=""
          width={THUMB_PX}
          height={THUMB_PX}
          decoding="async"
          className={`size-16 object-contain ${Math.max(item.width, item.height) <= 128 ? 'pixelated' : ''}`}
        />
      )}
      {item?.favorite && (
        <span
          aria-hidden="true"
          data-testid="favorite-badge"
          className="absolute top-0.5 right-1 text-sm text-amber-400 drop-shadow"
        >
          ★
        </span>
      )}
    </button>
  )
}
