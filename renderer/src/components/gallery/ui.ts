/** Tailwind classes the gallery's dialogs share. */

export const actionButton =
  'rounded-md border border-zinc-300 px-2.5 py-1 text-sm hover:bg-zinc-100 focus-visible:outline-2 ' +
  'focus-visible:outline-indigo-500 disabled:cursor-not-allowed disabled:opacity-50 ' +
  'aria-pressed:border-amber-500 aria-pressed:bg-amber-50 aria-pressed:text-amber-800 ' +
  'dark:border-zinc-700 dark:hover:bg-zinc-800 dark:aria-pressed:bg-amber-950 dark:aria-pressed:text-amber-200'

/** The main action of a dialog ("Use these settings"). */
export const primaryAction = `${actionButton} border-indigo-500 font-medium text-indigo-700 dark:text-indigo-300`
