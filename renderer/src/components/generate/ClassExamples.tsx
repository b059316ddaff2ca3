/**
 * A pack's example images in the class picker: cells of one sprite sheet (a row per class, `perClass` training
 * images in each), drawn as CSS backgrounds so the sheet is fetched once for every class. Square pixels at any
 * scale; rows in a scrolling list only set their background once they come near view.
 */
import { type RefObject, useEffect, useRef, useState } from 'react'
import type { PackSummary } from '../../../../common/generation.ts'
import { shellKind } from '../../transport/client.ts'

/** A pack's example sheet with the address it is fetched from. */
export interface ExampleSheet {
  url: string
  perClass: number
  cell: [number, number]
  rows: number
}

/**
 * The sheet of a pack that has one: dd-gallery://pack-examples/<id> in the desktop app, /pack-examples/<id> in
 * serve mode; the version makes a replaced sheet a new address instead of a stale cached image.
 */
export function exampleSheetOf(pack: PackSummary | null): ExampleSheet | null {
  if (!pack?.examples) return null
  const { perClass, cell, rows, version } = pack.examples
  const id = encodeURIComponent(pack.id)
  const query = `?v=${encodeURIComponent(version)}`
  const url =
    shellKind === 'electron' ? `dd-gallery://pack-examples/${id}${query}` : `/pack-examples/${id}${query}`
  return { url, perClass, cell, rows }
}

interface StripProps {
  sheet: ExampleSheet
  classIndex: number
  /** Screen pixels per sheet pixel (whole numbers keep the pixels square). */
  scale: number
  /** What the strip shows, for assistive technology ("Training examples of noto / Flags"). */
  label: string
  /**
   * The scrolling element the strip sits in: the background is set once the strip is within reach of its
   * visible part. Without it the strip shows at once.
   */
  lazyRoot?: RefObject<HTMLElement | null>
  testId?: string
  /** Decoration next to text that already names the class (a row of the class list): hidden from assistive technology. */
  decorative?: boolean
}

/** One class's row of the sheet, as `perClass` cells side by side. */
export function ExampleStrip({ sheet, classIndex, scale, label, lazyRoot, testId, decorative }: StripProps) {
  const ref = useRef<HTMLSpanElement>(null)
  const seen = useSeen(ref, lazyRoot)
  const [cellWidth, cellHeight] = sheet.cell
  const width = cellWidth * scale
  const height = cellHeight * scale
  return (
    <span
      ref={ref}
      {...(decorative ? { 'aria-hidden': true } : { role: 'img', 'aria-label': label })}
      data-testid={testId}
      data-loaded={seen ? 'true' : 'false'}
      className="flex shrink-0 gap-0.5"
    >
      {Array.from({ length: sheet.perClass }, (_, column) => (
        <span
          // The cells never reorder: the column is their identity.
          // biome-ignore lint/suspicious/noArrayIndexKey: see above
          key={column}
          data-example-cell={column}
          className="block shrink-0 rounded-sm bg-zinc-100 bg-no-repeat [image-rendering:pixelated] dark:bg-zinc-800"
          style={{
            width,
            height,
            backgroundImage: seen ? `url("${sheet.url}")` : undefined,
            backgroundSize: `${sheet.perClass * width}px ${sheet.rows * height}px`,
            backgroundPosition: `-${column * width}px -${classIndex * height}px`,
          }}
        />
      ))}
    </span>
  )
}

/** True once the element has come within 100 px of its root's visible area (at once when there is no root). */
function useSeen(
  ref: RefObject<HTMLElement | null>,
  root: RefObject<HTMLElement | null> | undefined,
): boolean {
  const [seen, setSeen] = useState(!root)
  useEffect(() => {
    const element = ref.current
    if (seen || !element) return
    if (typeof IntersectionObserver === 'undefined') {
      setSeen(true)
      return
    }
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setSeen(true)
          observer.disconnect()
        }
      },
      { root: root?.current ?? null, rootMargin: '100px' },
    )
    observer.observe(element)
    return () => observer.disconnect()
  }, [ref, root, seen])
  return seen
}
