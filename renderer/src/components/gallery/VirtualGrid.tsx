/**
 * The gallery's grid, virtualized: cells have one fixed size, so the rows in view follow from the scroll
 * position alone, and only those (plus a few above and below, and the selected one) are in the DOM, whatever
 * the gallery's size. Pages are fetched as rows come into view (GalleryPages).
 *
 * It is an ARIA grid with one tab stop: the selected cell. Arrow keys, Home/End and Page Up/Down move the
 * selection (and the focus, scrolling it into view); Enter opens the image; F, Delete (or Backspace, the
 * Mac's delete key) and 0-5 act on it.
 */
import { type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from 'react'
import { GalleryCell } from './GalleryCell.tsx'
import type { GalleryPages } from './galleryPages.ts'

/** Width and height of a cell, in px: a 72 px button and its gap. */
export const CELL_PX = 80
/** Rows rendered beyond the view on each side, so a fast scroll shows cells rather than a gap. */
const OVERSCAN_ROWS = 2
/** The view counts as settled this long after its last scroll event. */
const SETTLE_MS = 120

export type GridKeyAction = { kind: 'favorite' } | { kind: 'delete' } | { kind: 'rate'; rating: number }

interface Props {
  pages: GalleryPages
  total: number
  selected: number
  onSelect(index: number): void
  onOpen(index: number): void
  onAction(action: GridKeyAction, index: number): void
  /** Changes when the selected cell should be scrolled into view (the lightbox moved to it). */
  revealRequest: number
  /** Changes when the focus should go to the selected cell (the lightbox closed on it). */
  focusRequest: number
  /** Changes with the query: the grid goes back to the top. */
  resetKey: string
}

export function VirtualGrid(props: Props) {
  const { pages, total, selected, onSelect, onOpen, onAction, revealRequest, focusRequest, resetKey } = props
  const scroller = useRef<HTMLDivElement>(null)
  const [size, setSize] = useState({ width: 0, height: 0 })
  const [firstRow, setFirstRow] = useState(0)
  const pendingFocus = useRef(false)
  // While the view moves fast, cells that come into view wait with their thumbnails until it settles, so a
  // fling through thousands of images asks the server only for the ones the user stops on.
  const [scrolling, setScrolling] = useState(false)
  const settleTimer = useRef<ReturnType<typeof setTimeout> | null>(null)

  function onScroll(top: number) {
    setFirstRow(Math.floor(top / CELL_PX))
    setScrolling(true)
    if (settleTimer.current !== null) clearTimeout(settleTimer.current)
    settleTimer.current = setTimeout(() => {
      settleTimer.current = null
      setScrolling(false)
    }, SETTLE_MS)
  }
  useEffect(
    () => () => {
      if (settleTimer.current !== null) clearTimeout(settleTimer.current)
    },
    [],
  )

  const columns = Math.max(1, Math.floor(size.width / CELL_PX))
  const rows = Math.ceil(total / columns)
  const rowsInView = Math.ceil(size.height / CELL_PX) + 1
  const fromRow = Math.max(0, firstRow - OVERSCAN_ROWS)
  const toRow = Math.min(rows - 1, firstRow + rowsInView + OVERSCAN_ROWS)
  const selectedRow = Math.floor(selected / columns)

  useLayoutEffect(() => {
    const element = scroller.current
    if (!element) return
    const observer = new ResizeObserver(([entry]) => {
      if (!entry) return
      const { width, height } = entry.contentRect
      setSize((s) => (s.width === width && s.height === height ? s : { width, height }))
    })
    observer.observe(element)
    return () => observer.disconnect()
  }, [])

  // The pages the rendered rows need (the range changes only when a row boundary is crossed).
  const firstIndex = fromRow * columns
  const lastIndex = (toRow + 1) * columns - 1
  useEffect(() => {
    pages.show(firstIndex, lastIndex)
  }, [pages, firstIndex, lastIndex])

  useEffect(() => {
    void resetKey
    if (scroller.current) scroller.current.scrollTop = 0
    setFirstRow(0)
  }, [resetKey])

  /** Scrolls just enough for the cell's row to be in view. */
  function reveal(index: number) {
    const element = scroller.current
    if (!element) return
    const top = Math.floor(index / columns) * CELL_PX
    if (top < element.scrollTop) element.scrollTop = top
    else if (top + CELL_PX > element.scrollTop + element.clientHeight)
      element.scrollTop = top + CELL_PX - element.clientHeight
  }

  // The lightbox moved behind its dialog: the grid follows, which also brings the image's page in. Only such a
  // request scrolls; a selection that shifts because images arrived must not pull the view away.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a new request scrolls
  useEffect(() => {
    if (revealRequest > 0) reveal(selected)
  }, [revealRequest])

  function focusSelected() {
    scroller.current
      ?.querySelector<HTMLButtonElement>(`button[data-index="${selected}"]`)
      ?.focus({ preventScroll: true })
  }

  // biome-ignore lint/correctness/useExhaustiveDependencies: only a new request moves the focus
  useEffect(() => {
    if (focusRequest === 0) return
    reveal(selected)
    focusSelected()
  }, [focusRequest])

  // After a keyboard move, the newly selected cell is rendered (the selected one always is): focus it.
  useLayoutEffect(() => {
    if (!pendingFocus.current) return
    pendingFocus.current = false
    focusSelected()
  })

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    if (e.ctrlKey || e.metaKey || e.altKey || total === 0) return
    // Keys act on the focused cell, which is the selected one unless something else moved the focus (the
    // browser gives it back to the cell a dialog was opened from).
    const focused = Number((e.target as HTMLElement).dataset.index ?? Number.NaN)
    const from = Number.isInteger(focused) ? focused : selected
    const pageJump = Math.max(1, rowsInView - 1) * columns
    const moves: Record<string, number> = {
      ArrowRight: from + 1,
      ArrowLeft: from - 1,
      ArrowDown: from + columns,
      ArrowUp: from - columns,
      Home: 0,
      End: total - 1,
      PageDown: from + pageJump,
      PageUp: from - pageJump,
    }
    const target = moves[e.key]
    if (target !== undefined) {
      e.preventDefault()
      const next = Math.min(total - 1, Math.max(0, target))
      onSelect(next)
      reveal(next)
      pendingFocus.current = true
      return
    }
    if (e.key === 'f' || e.key === 'F') onAction({ kind: 'favorite' }, from)
    else if (e.key === 'Delete' || e.key === 'Backspace') onAction({ kind: 'delete' }, from)
    else if (/^[0-5]$/.test(e.key)) onAction({ kind: 'rate', rating: Number(e.key) }, from)
    else return
    e.preventDefault()
    if (from !== selected) onSelect(from)
  }

  const rendered: number[] = []
  for (let row = fromRow; row <= toRow; row++) rendered.push(row)
  // The selected cell keeps the focus while the user scrolls away with the mouse wheel: it stays rendered.
  if (selectedRow < rows && (selectedRow < fromRow || selectedRow > toRow)) rendered.push(selectedRow)

  return (
    <div
      ref={scroller}
      data-testid="gallery-scroll"
      onScroll={(e) => onScroll(e.currentTarget.scrollTop)}
      className="min-h-0 flex-1 overflow-y-auto px-2"
    >
      {/* biome-ignore lint/a11y/useSemanticElements: a table cannot be virtualized; the ARIA grid pattern can */}
      <div
        role="grid"
        aria-label="Images"
        aria-rowcount={rows}
        aria-colcount={columns}
        data-testid="gallery-grid"
        onKeyDown={onKeyDown}
        className="relative mx-auto"
        style={{ height: rows * CELL_PX, width: columns * CELL_PX }}
      >
        {rendered.map((row) => {
          const cells = []
          for (let index = row * columns; index < Math.min(total, (row + 1) * columns); index++) {
            cells.push(
              // biome-ignore lint/a11y/useSemanticElements: see the grid above
              // biome-ignore lint/a11y/useFocusableInteractive: the button inside takes the focus
              <div
                key={index}
                role="gridcell"
                aria-colindex={index - row * columns + 1}
                aria-selected={index === selected}
                className="flex items-center justify-center"
                style={{ width: CELL_PX, height: CELL_PX }}
              >
                <GalleryCell
                  item={pages.at(index)}
                  index={index}
                  total={total}
                  selected={index === selected}
                  deferImage={scrolling}
                  onOpen={onOpen}
                />
              </div>,
            )
          }
          return (
            // biome-ignore lint/a11y/useSemanticElements: see the grid above
            // biome-ignore lint/a11y/useFocusableInteractive: rows hold the focusable cells
            <div
              key={row}
              role="row"
              aria-rowindex={row + 1}
              className="absolute top-0 left-0 flex"
              style={{ transform: `translateY(${row * CELL_PX}px)` }}
            >
              {cells}
            </div>
          )
        })}
      </div>
    </div>
  )
}
