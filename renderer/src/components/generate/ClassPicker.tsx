/**
 * The class: a search box in front of a select (typing narrows the list and picks the first match; the arrow keys
 * in the search box step through the matches) and, when the pack has example images, the chosen class's
 * examples and a list of the matching classes with theirs, which the arrow keys move through like the select.
 */
import { type KeyboardEvent, useEffect, useRef, useState } from 'react'
import type { PackSummary } from '../../../../common/generation.ts'
import { type ExampleSheet, ExampleStrip } from './ClassExamples.tsx'
import { control, fieldLabel, hint } from './ui.ts'

interface Props {
  classes: PackSummary['classes']
  value: number
  onChange(index: number): void
  /** The pack's example sheet; null when it has none. */
  examples?: ExampleSheet | null
  disabled?: boolean
  error?: string | undefined
}

type ClassItem = PackSummary['classes'][number]

function matches(cls: ClassItem, query: string): boolean {
  const q = query.trim().toLowerCase()
  if (q === '') return true
  return cls.name.toLowerCase().includes(q) || String(cls.index) === q
}

const optionId = (index: number) => `class-option-${index}`

/** The class a navigation key moves to within `list`, or null when the key is not one of them. */
function moveTo(key: string, list: ClassItem[], current: ClassItem | undefined): ClassItem | null {
  if (list.length === 0) return null
  const at = current ? list.indexOf(current) : -1
  const last = list.length - 1
  const page = 5
  switch (key) {
    case 'ArrowDown':
      return list[at < 0 ? 0 : Math.min(at + 1, last)] ?? null
    case 'ArrowUp':
      return list[at < 0 ? 0 : Math.max(at - 1, 0)] ?? null
    case 'PageDown':
      return list[at < 0 ? 0 : Math.min(at + page, last)] ?? null
    case 'PageUp':
      return list[at < 0 ? 0 : Math.max(at - page, 0)] ?? null
    case 'Home':
      return list[0] ?? null
    case 'End':
      return list[last] ?? null
    default:
      return null
  }
}

export function ClassPicker({ classes, value, onChange, examples = null, disabled, error }: Props) {
  const [query, setQuery] = useState('')
  const listRef = useRef<HTMLDivElement>(null)
  const filtered = classes.filter((c) => matches(c, query))
  const current = classes.find((c) => c.index === value)
  // The select always shows the class that will be used, even when the search hides it.
  const options = current && !filtered.includes(current) ? [current, ...filtered] : filtered
  const sheet = !disabled && classes.length > 0 ? examples : null
  const showList = sheet !== null && filtered.length > 0
  const active = showList && current && filtered.includes(current) ? optionId(current.index) : undefined

  // Keeps the chosen class in sight in the list, whichever control chose it. Only the list scrolls: the
  // panel around it stays where the user left it.
  useEffect(() => {
    const list = listRef.current
    const row = list?.querySelector<HTMLElement>(`#${optionId(value)}`)
    if (!list || !row) return
    if (row.offsetTop < list.scrollTop) list.scrollTop = row.offsetTop
    else if (row.offsetTop + row.offsetHeight > list.scrollTop + list.clientHeight)
      list.scrollTop = row.offsetTop + row.offsetHeight - list.clientHeight
  }, [value])

  function search(text: string) {
    setQuery(text)
    const first = classes.find((c) => matches(c, text))
    if (first && !(current && matches(current, text))) onChange(first.index)
  }

  /** Arrow keys, Page Up/Down (and Home and End where they are not the caret's) over the matching classes. */
  function navigate(e: KeyboardEvent, homeAndEnd: boolean): void {
    if (e.altKey || e.ctrlKey || e.metaKey) return
    if (!homeAndEnd && (e.key === 'Home' || e.key === 'End')) return
    const next = moveTo(e.key, filtered, current)
    if (!next) return
    e.preventDefault()
    if (next !== current) onChange(next.index)
  }

  return (
    <div className="flex flex-col gap-1">
      <label htmlFor="class-select" className={fieldLabel}>
        Class
      </label>
      {/* biome-ignore lint/a11y/useAriaPropsSupportedByRole: aria-expanded is only set with the combobox role */}
      <input
        id="class-search"
        type="search"
        role={showList ? 'combobox' : undefined}
        value={query}
        disabled={disabled}
        onChange={(e) => search(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) {
            e.preventDefault()
            document.getElementById('class-select')?.focus()
            return
          }
          // Home and End stay with the text: they move the caret.
          navigate(e, false)
        }}
        placeholder="Search classes…"
        aria-label="Search classes"
        aria-controls={showList ? 'class-list' : 'class-select'}
        aria-expanded={showList ? true : undefined}
        aria-autocomplete={showList ? 'list' : undefined}
        aria-activedescendant={active}
        autoComplete="off"
        className={control}
      />
      <select
        id="class-select"
        data-testid="class-select"
        value={current ? String(current.index) : ''}
        disabled={disabled || classes.length === 0}
        onChange={(e) => onChange(Number(e.target.value))}
        aria-describedby="class-count"
        aria-invalid={error ? true : undefined}
        className={control}
      >
        {options.map((c) => (
          <option key={c.index} value={c.index}>
            {c.name}
          </option>
        ))}
      </select>
      <p id="class-count" className={hint} aria-live="polite">
        {query.trim() === ''
          ? `${classes.length} classes`
          : filtered.length === 0
            ? `No class matches “${query.trim()}”.`
            : `${filtered.length} of ${classes.length} classes match.`}
      </p>
      {error && <p className="text-xs text-red-600 dark:text-red-400">{error}</p>}
      {sheet && current && (
        <figure className="mt-1 flex flex-col gap-1" data-testid="class-examples">
          <ExampleStrip
            sheet={sheet}
            classIndex={current.index}
            scale={sheet.perClass * sheet.cell[0] * 2 <= 256 ? 2 : 1}
            label={`Training examples of ${current.name}`}
            testId="class-examples-selected"
          />
          <figcaption className={hint}>Training images of this class, from the pack.</figcaption>
        </figure>
      )}
      {sheet && showList && (
        <div
          ref={listRef}
          id="class-list"
          role="listbox"
          tabIndex={0}
          aria-label="Classes with example images"
          aria-activedescendant={active}
          data-testid="class-list"
          onKeyDown={(e) => navigate(e, true)}
          className="relative mt-1 flex max-h-56 flex-col overflow-y-auto rounded-md border border-zinc-300 p-0.5 outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/40 dark:border-zinc-700"
        >
          {filtered.map((c) => (
            // Clicks pick a class; the keyboard reaches every option through the list's arrow keys.
            // biome-ignore lint/a11y/useKeyWithClickEvents: the listbox handles the keys for its options
            <div
              key={c.index}
              id={optionId(c.index)}
              role="option"
              tabIndex={-1}
              aria-selected={c.index === value}
              aria-label={c.name}
              data-class-index={c.index}
              // The list keeps the focus (its active option is the chosen one), so the arrow keys go on from here.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => {
                onChange(c.index)
                listRef.current?.focus()
              }}
              className="flex cursor-pointer items-center gap-2 rounded px-1 py-0.5 text-xs text-zinc-800 hover:bg-zinc-100 aria-selected:bg-indigo-100 aria-selected:text-indigo-900 dark:text-zinc-200 dark:hover:bg-zinc-800 dark:aria-selected:bg-indigo-950 dark:aria-selected:text-indigo-100"
            >
              <ExampleStrip
                sheet={sheet}
                classIndex={c.index}
                scale={1}
                label={`Examples of ${c.name}`}
                lazyRoot={listRef}
              />
              <span className="min-w-0 break-words">{c.name}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  )
}
