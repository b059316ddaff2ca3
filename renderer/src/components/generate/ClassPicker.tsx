/**
 * The class explorer. A search box (names, synonyms or a class number; results ranked, common/classMatch.ts)
 * controls a list of the matching classes with their index, other names and, when the pack has them, example
 * images (ClassList, virtualized for 1000 classes); typing picks the best match unless the chosen class still
 * matches, and the arrow keys, Page Up/Down (and Home/End in the list) move the choice through the matches from
 * the search box or the list. A select keeps the class that will be used in sight even when the search hides
 * it, and the chosen class is named with its number, its other names and its example images.
 */
import { type KeyboardEvent, useMemo, useRef, useState } from 'react'
import { type ClassSearchHit, searchClasses } from '../../../../common/classMatch.ts'
import type { PackSummary } from '../../../../common/generation.ts'
import { type ExampleSheet, ExampleStrip } from './ClassExamples.tsx'
import { ClassList, LIST_HEIGHT, optionId, rowHeight } from './ClassList.tsx'
import { classLabel, otherNames, preparedClassesOf } from './classSearch.ts'
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

/** The position a navigation key moves to in a list of `count`, or null when the key is not one of them. */
function moveTo(key: string, count: number, at: number, page: number): number | null {
  if (count === 0) return null
  const last = count - 1
  switch (key) {
    case 'ArrowDown':
      return at < 0 ? 0 : Math.min(at + 1, last)
    case 'ArrowUp':
      return at < 0 ? 0 : Math.max(at - 1, 0)
    case 'PageDown':
      return at < 0 ? 0 : Math.min(at + page, last)
    case 'PageUp':
      return at < 0 ? 0 : Math.max(at - page, 0)
    case 'Home':
      return 0
    case 'End':
      return last
    default:
      return null
  }
}

export function ClassPicker({ classes, value, onChange, examples = null, disabled, error }: Props) {
  const prepared = preparedClassesOf(classes)
  // The hits are kept with the text they are for: searched once per keystroke, in the handler.
  const [search, setSearch] = useState<{ query: string; hits: ClassSearchHit[] } | null>(null)
  const query = search?.query ?? ''
  const everyClass = useMemo(() => searchClasses(prepared, ''), [prepared])
  const hits = search?.hits ?? everyClass
  const listRef = useRef<HTMLDivElement>(null)
  const current = prepared.byIndex.get(value)
  const chosenAt = hits.findIndex((h) => h.index === value)
  // The select always shows the class that will be used, even when the search hides it.
  const options: { index: number; name: string }[] = current && chosenAt < 0 ? [current, ...hits] : hits
  const sheet = !disabled && classes.length > 0 ? examples : null
  const showList = !disabled && hits.length > 0
  const active = showList && chosenAt >= 0 ? optionId(value) : undefined
  const page = Math.max(1, Math.floor(LIST_HEIGHT / rowHeight(sheet)) - 1)

  function find(text: string) {
    const found = searchClasses(prepared, text)
    setSearch({ query: text, hits: found })
    const best = found[0]
    if (best && !found.some((h) => h.index === value)) onChange(best.index)
  }

  /** Arrow keys, Page Up/Down (and Home and End where they are not the caret's) over the matching classes. */
  function navigate(e: KeyboardEvent, homeAndEnd: boolean): void {
    if (e.altKey || e.ctrlKey || e.metaKey) return
    if (!homeAndEnd && (e.key === 'Home' || e.key === 'End')) return
    const next = moveTo(e.key, hits.length, chosenAt, page)
    if (next === null) return
    e.preventDefault()
    const hit = hits[next]
    if (hit && hit.index !== value) onChange(hit.index)
  }

  const others = current ? otherNames(current.name, current.synonyms) : []
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
        onChange={(e) => find(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) {
            e.preventDefault()
            document.getElementById('class-select')?.focus()
            return
          }
          // Home and End stay with the text: they move the caret.
          navigate(e, false)
        }}
        placeholder={classes.length > 50 ? 'Name, synonym or number…' : 'Search classes…'}
        aria-label="Search classes"
        aria-controls={showList ? 'class-list' : 'class-select'}
        aria-expanded={showList ? true : undefined}
        aria-autocomplete={showList ? 'list' : undefined}
        aria-activedescendant={active}
        aria-describedby="class-count"
        autoComplete="off"
        spellCheck={false}
        className={control}
      />
      <select
        id="class-select"
        data-testid="class-select"
        value={current ? String(current.index) : ''}
        disabled={disabled || classes.length === 0}
        onChange={(e) => onChange(Number(e.target.value))}
        aria-describedby="class-chosen"
        aria-invalid={error ? true : undefined}
        className={control}
      >
        {options.map((c) => (
          <option key={c.index} value={c.index}>
            {c.name}
          </option>
        ))}
      </select>
      {current && (
        <p id="class-chosen" data-testid="class-chosen" className={hint}>
          <span className="font-medium text-zinc-700 dark:text-zinc-300">
            {classLabel(current.index, current.name)}
          </span>
          {others.length > 0 && <span> · also {others.join(', ')}</span>}
        </p>
      )}
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
      <p id="class-count" data-testid="class-count" className={hint} aria-live="polite">
        {query.trim() === ''
          ? `${classes.length} classes`
          : hits.length === 0
            ? `No class matches “${query.trim()}”.`
            : `${hits.length} of ${classes.length} classes match, best first.`}
      </p>
      {showList && (
        <ClassList
          hits={hits}
          value={value}
          onPick={onChange}
          onKeyDown={(e) => navigate(e, true)}
          sheet={sheet}
          listRef={listRef}
        />
      )}
    </div>
  )
}
