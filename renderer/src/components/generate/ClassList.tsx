/**
 * The class explorer's list: the classes that match the search, best first, each with its index, its name, its
 * other names and (when the pack has them) its example images. Virtualized, so a pack of 1000 classes costs
 * the same as one of 10 on every keystroke: rows have one fixed height, and only those in view (a few more
 * around them, and always the chosen one, which aria-activedescendant points at) are in the DOM; each option
 * says its place in the whole list (aria-posinset / aria-setsize).
 *
 * An option's accessible name is its text: the number, the name and the other names, in the order they are shown.
 * It is a listbox that keeps the focus itself: its active option is the chosen class, and the keys that move
 * it are handled by the caller (the same keys work from the search box).
 */
import { type KeyboardEvent, type RefObject, useLayoutEffect, useState } from 'react'
import type { ClassSearchHit } from '../../../../common/classMatch.ts'
import { type ExampleSheet, ExampleStrip } from './ClassExamples.tsx'
import { otherNames } from './classSearch.ts'

/** The list's height at most, in px (Tailwind's max-h-56). */
export const LIST_HEIGHT = 224
/** Rows rendered beyond the view on each side. */
const OVERSCAN = 4

export const optionId = (index: number) => `class-option-${index}`

/** Two lines of text, or a strip of example images when they are taller. */
export function rowHeight(sheet: ExampleSheet | null): number {
  return Math.max(38, sheet ? sheet.cell[1] + 6 : 0)
}

interface Props {
  hits: ClassSearchHit[]
  /** The chosen class's index. */
  value: number
  onPick(index: number): void
  onKeyDown(e: KeyboardEvent): void
  sheet: ExampleSheet | null
  listRef: RefObject<HTMLDivElement | null>
}

export function ClassList({ hits, value, onPick, onKeyDown, sheet, listRef }: Props) {
  const row = rowHeight(sheet)
  const [scrollTop, setScrollTop] = useState(0)
  const chosenAt = hits.findIndex((h) => h.index === value)

  // Keeps the chosen class in sight, whichever control chose it and whenever the matches change. Only the list
  // scrolls: the panel around it stays where the user left it. Before paint, so no frame shows the wrong rows.
  useLayoutEffect(() => {
    const list = listRef.current
    if (!list) return
    // A shorter list than the last one: back within it (the browser may move it without a scroll event).
    let top = Math.min(list.scrollTop, Math.max(0, hits.length * row - list.clientHeight))
    if (chosenAt >= 0) {
      const at = chosenAt * row
      if (at < top) top = at
      else if (at + row > top + list.clientHeight) top = at + row - list.clientHeight
    }
    list.scrollTop = top
    setScrollTop(top)
  }, [chosenAt, row, hits, listRef])

  // A shorter list than the last one scrolls back by itself, maybe without a scroll event.
  const top = Math.min(scrollTop, Math.max(0, hits.length * row - LIST_HEIGHT))
  const first = Math.max(0, Math.floor(top / row) - OVERSCAN)
  const last = Math.min(hits.length, Math.ceil((top + LIST_HEIGHT) / row) + OVERSCAN)
  const shown: number[] = []
  for (let i = first; i < last; i++) shown.push(i)
  if (chosenAt >= 0 && (chosenAt < first || chosenAt >= last)) shown.push(chosenAt)

  return (
    <div
      ref={listRef}
      id="class-list"
      role="listbox"
      tabIndex={0}
      aria-label={sheet ? 'Classes with example images' : 'Classes'}
      aria-activedescendant={chosenAt >= 0 ? optionId(value) : undefined}
      data-testid="class-list"
      onKeyDown={onKeyDown}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      style={{ maxHeight: LIST_HEIGHT }}
      className="relative mt-1 overflow-y-auto rounded-md border border-zinc-300 outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/40 dark:border-zinc-700"
    >
      <div style={{ height: hits.length * row }} className="relative">
        {shown.map((at) => {
          const hit = hits[at] as ClassSearchHit
          const others = otherNames(hit.name, hit.synonyms, hit.synonym)
          return (
            // Clicks pick a class; the keyboard reaches every option through the list's keys.
            // biome-ignore lint/a11y/useKeyWithClickEvents: the listbox handles the keys for its options
            <div
              key={hit.index}
              id={optionId(hit.index)}
              role="option"
              tabIndex={-1}
              aria-selected={hit.index === value}
              aria-setsize={hits.length}
              aria-posinset={at + 1}
              data-class-index={hit.index}
              // The list keeps the focus (its active option is the chosen one), so the keys go on from here.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => {
                onPick(hit.index)
                listRef.current?.focus()
              }}
              style={{ top: at * row, height: row }}
              className="absolute inset-x-0 flex cursor-pointer items-center gap-2 px-1.5 text-xs text-zinc-800 hover:bg-zinc-100 aria-selected:bg-indigo-100 aria-selected:text-indigo-900 dark:text-zinc-200 dark:hover:bg-zinc-800 dark:aria-selected:bg-indigo-950 dark:aria-selected:text-indigo-100"
            >
              <span className="w-8 shrink-0 text-right font-mono text-[11px] tabular-nums text-zinc-600 dark:text-zinc-400">
                {hit.index}
              </span>
              {sheet && (
                <ExampleStrip
                  sheet={sheet}
                  classIndex={hit.index}
                  scale={1}
                  label={`Examples of ${hit.name}`}
                  lazyRoot={listRef}
                  decorative
                />
              )}
              <span className="flex min-w-0 flex-1 flex-col">
                <span className="truncate">{hit.name}</span>
                {others.length > 0 && (
                  <span className="truncate text-[11px] text-zinc-600 dark:text-zinc-400">
                    {others.join(', ')}
                  </span>
                )}
              </span>
            </div>
          )
        })}
      </div>
    </div>
  )
}
