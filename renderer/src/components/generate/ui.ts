/** Tailwind classes the Generate panel and the result view share, in the shell's zinc/indigo look. */

export const fieldLabel = 'block text-xs font-medium text-zinc-700 dark:text-zinc-300'

export const control =
  'w-full rounded-md border border-zinc-300 bg-white px-2 py-1.5 text-sm text-zinc-900 outline-none ' +
  'focus-visible:border-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-500/40 ' +
  'aria-[invalid=true]:border-red-500 disabled:opacity-50 ' +
  'dark:border-zinc-700 dark:bg-zinc-950 dark:text-zinc-100 dark:aria-[invalid=true]:border-red-400'

export const iconButton =
  'shrink-0 rounded-md border border-zinc-300 px-2 py-1.5 text-sm hover:bg-zinc-100 ' +
  'focus-visible:outline-2 focus-visible:outline-indigo-500 ' +
  'aria-pressed:border-indigo-500 aria-pressed:bg-indigo-50 aria-pressed:text-indigo-700 ' +
  'dark:border-zinc-700 dark:hover:bg-zinc-800 dark:aria-pressed:bg-indigo-950 dark:aria-pressed:text-indigo-300'

export const hint = 'mt-1 text-xs text-zinc-500 dark:text-zinc-400'

export const fieldError = 'mt-1 text-xs text-red-600 dark:text-red-400'

export const alertBox =
  'rounded-lg border border-red-300 bg-red-50 p-2 text-sm text-red-800 ' +
  'dark:border-red-800 dark:bg-red-950/60 dark:text-red-200'

export const noticeBox =
  'rounded-lg border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900 ' +
  'dark:border-amber-700 dark:bg-amber-950/60 dark:text-amber-200'

/** Milliseconds as people read them: 0.42 ms, 3.1 ms, 148 ms, 2.4 s. */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(0)} s`
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`
  if (ms >= 100) return `${ms.toFixed(0)} ms`
  if (ms >= 1) return `${ms.toFixed(1)} ms`
  return `${ms.toFixed(2)} ms`
}

export function formatPercent(share: number): string {
  const pct = share * 100
  return `${pct >= 99.95 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)}%`
}

/** "about 3 s left", "about 1 min 20 s left". */
export function formatEta(ms: number | null): string {
  if (ms === null) return 'estimating time left…'
  const s = Math.max(1, Math.round(ms / 1000))
  if (s < 60) return `about ${s} s left`
  return `about ${Math.floor(s / 60)} min ${s % 60} s left`
}

export const infoBox =
  'rounded-lg border border-indigo-300 bg-indigo-50 p-2 text-sm text-indigo-900 ' +
  'dark:border-indigo-800 dark:bg-indigo-950/60 dark:text-indigo-100'

/** A small secondary button beside a field (the prompt's History and Surprise me). */
export const smallButton =
  'rounded-md border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 focus-visible:outline-2 ' +
  'focus-visible:outline-indigo-500 disabled:opacity-50 aria-expanded:border-indigo-500 ' +
  'dark:border-zinc-700 dark:hover:bg-zinc-800'
