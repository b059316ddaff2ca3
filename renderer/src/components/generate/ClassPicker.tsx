/** A class select with a search box in front: typing narrows the list and picks the first match. */
import { useState } from 'react'
import type { PackSummary } from '../../../../common/generation.ts'
import { control, fieldLabel, hint } from './ui.ts'

interface Props {
  classes: PackSummary['classes']
  value: number
  onChange(index: number): void
  disabled?: boolean
  error?: string | undefined
}

function matches(cls: { index: number; name: string }, query: string): boolean {
  const q = query.trim().toLowerCase()
  if (q === '') return true
  return cls.name.toLowerCase().includes(q) || String(cls.index) === q
}

export function ClassPicker({ classes, value, onChange, disabled, error }: Props) {
  const [query, setQuery] = useState('')
  const filtered = classes.filter((c) => matches(c, query))
  const current = classes.find((c) => c.index === value)
  // The select always shows the class that will be used, even when the search hides it.
  const options = current && !filtered.includes(current) ? [current, ...filtered] : filtered

  function search(text: string) {
    setQuery(text)
    const first = classes.find((c) => matches(c, text))
    if (first && !(current && matches(current, text))) onChange(first.index)
  }

  return (
    <div className="flex flex-col gap-1">
      <label htmlFor="class-select" className={fieldLabel}>
        Class
      </label>
      <input
        id="class-search"
        type="search"
        value={query}
        disabled={disabled}
        onChange={(e) => search(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) {
            e.preventDefault()
            document.getElementById('class-select')?.focus()
          }
        }}
        placeholder="Search classes…"
        aria-label="Search classes"
        aria-controls="class-select"
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
    </div>
  )
}
