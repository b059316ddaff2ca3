/**
 * The gallery's search box (class names and prompts, pack, mode, seed) and filters: pack, class (not for a text
 * pack), mode, favorites only, and a date range.
 */
import { type PackSummary, SINGLE_MODES, type SingleMode } from '../../../../common/generation.ts'
import { modeLabel } from '../generate/modes.ts'
import { activeFilterCount, type GalleryFilters as Filters, NO_FILTERS } from './galleryFilters.ts'

const label = 'block text-[11px] font-medium text-zinc-700 dark:text-zinc-300'
const input =
  'w-full min-w-0 rounded-md border border-zinc-300 bg-white px-1.5 py-1 text-xs text-zinc-900 outline-none ' +
  'focus-visible:border-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-500/40 ' +
  'dark:border-zinc-700 dark:bg-zinc-950 dark:text-zinc-100 dark:[color-scheme:dark]'

interface Props {
  filters: Filters
  onChange(filters: Filters): void
  packs: PackSummary[] | null
}

export function GalleryFilters({ filters, onChange, packs }: Props) {
  const set = <K extends keyof Filters>(key: K, value: Filters[K]) => onChange({ ...filters, [key]: value })
  const usable = packs?.filter((p) => p.status === 'ready') ?? []
  // Classes of the chosen pack, or of the default pack: every image of one pack shares its class list.
  const classPack =
    usable.find((p) => p.id === filters.packId) ?? usable.find((p) => p.isDefault) ?? usable[0]
  // A text pack's images have prompts, which the search box finds, and no classes.
  const textPack = classPack?.conditioning === 'text' && filters.packId !== ''
  const active = activeFilterCount(filters)
  return (
    <search aria-label="Search and filter the gallery" className="flex flex-col gap-2 px-3 pb-2">
      <div className="flex items-end gap-2">
        <div className="min-w-0 flex-1">
          <label htmlFor="gallery-search" className={label}>
            Search
          </label>
          <input
            id="gallery-search"
            type="search"
            value={filters.text}
            onChange={(e) => set('text', e.target.value)}
            placeholder="Class, prompt, pack, mode or seed"
            autoComplete="off"
            className={input}
          />
        </div>
        <label htmlFor="gallery-favorites" className="flex items-center gap-1 pb-1 text-xs whitespace-nowrap">
          <input
            id="gallery-favorites"
            type="checkbox"
            checked={filters.favorite}
            onChange={(e) => set('favorite', e.target.checked)}
            className="accent-indigo-600"
          />
          Favorites only
        </label>
      </div>
      <div className="grid grid-cols-2 gap-2">
        <div>
          <label htmlFor="gallery-pack" className={label}>
            Pack
          </label>
          <select
            id="gallery-pack"
            value={filters.packId}
            onChange={(e) => onChange({ ...filters, packId: e.target.value, classIndex: '' })}
            className={input}
          >
            <option value="">Any pack</option>
            {(packs ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name ?? p.id}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="gallery-mode" className={label}>
            Mode
          </label>
          <select
            id="gallery-mode"
            value={filters.mode}
            onChange={(e) => set('mode', e.target.value as SingleMode | '')}
            className={input}
          >
            <option value="">Any mode</option>
            {SINGLE_MODES.map((m) => (
              <option key={m} value={m}>
                {modeLabel(m)}
              </option>
            ))}
          </select>
        </div>
        <div className="col-span-2">
          <label htmlFor="gallery-class" className={label}>
            Class
          </label>
          <select
            id="gallery-class"
            value={filters.classIndex}
            onChange={(e) => set('classIndex', e.target.value)}
            disabled={textPack}
            title={textPack ? 'This pack reads prompts: search them above.' : undefined}
            className={`${input} disabled:opacity-50`}
          >
            <option value="">Any class</option>
            {(classPack?.classes ?? []).map((c) => (
              <option key={c.index} value={String(c.index)}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="gallery-from" className={label}>
            From
          </label>
          <input
            id="gallery-from"
            type="date"
            value={filters.from}
            max={filters.to || undefined}
            onChange={(e) => set('from', e.target.value)}
            className={input}
          />
        </div>
        <div>
          <label htmlFor="gallery-to" className={label}>
            To
          </label>
          <input
            id="gallery-to"
            type="date"
            value={filters.to}
            min={filters.from || undefined}
            onChange={(e) => set('to', e.target.value)}
            className={input}
          />
        </div>
      </div>
      {(active > 0 || filters.text !== '') && (
        <button
          type="button"
          onClick={() => onChange(NO_FILTERS)}
          className="self-start rounded px-1.5 py-0.5 text-xs text-indigo-700 underline hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300 dark:hover:bg-indigo-950"
        >
          Clear search and filters
        </button>
      )}
    </search>
  )
}
