/** A 0-5 star rating as a radio group: five stars, and "none" to clear it. Keys 0-5 set it too (the lightbox). */

const OPTIONS = [0, 1, 2, 3, 4, 5] as const

export function RatingControl({ value, onChange }: { value: number; onChange(rating: number): void }) {
  return (
    <fieldset className="flex items-center gap-0.5" data-testid="rating">
      <legend className="sr-only">Rating</legend>
      {OPTIONS.map((n) => (
        <label
          key={n}
          title={n === 0 ? 'No rating (0)' : `${n} of 5 (${n})`}
          className="cursor-pointer rounded px-0.5 has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-indigo-500"
        >
          <input
            type="radio"
            name="lightbox-rating"
            value={n}
            checked={value === n}
            onChange={() => onChange(n)}
            aria-label={n === 0 ? 'No rating' : `${n} ${n === 1 ? 'star' : 'stars'}`}
            className="sr-only"
          />
          <span
            aria-hidden="true"
            className={
              n === 0
                ? `text-xs ${value === 0 ? 'text-zinc-900 dark:text-zinc-100' : 'text-zinc-500'}`
                : `text-lg leading-none ${n <= value ? 'text-amber-500' : 'text-zinc-400 dark:text-zinc-600'}`
            }
          >
            {n === 0 ? 'none' : '★'}
          </span>
        </label>
      ))}
    </fieldset>
  )
}
