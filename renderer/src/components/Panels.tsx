/**
 * The panels' shared look and the host banner. The Generate panel and the result view live in ./generate/,
 * the gallery in ./gallery/.
 */
import type { HostStatus } from '../../../common/types.ts'

export const panel = 'flex min-h-0 flex-col border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900'
export const heading =
  'px-4 pt-4 pb-2 text-sm font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400'

export function HostBanner({ host, onRestart }: { host: HostStatus | null; onRestart(): void }) {
  if (!host || (host.state !== 'restarting' && host.state !== 'failed')) return null
  return (
    <div
      role="alert"
      className="flex items-center gap-3 border-b border-amber-300 bg-amber-50 px-4 py-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200"
    >
      <span>{host.message ?? 'The inference host is restarting.'}</span>
      {host.state === 'failed' && (
        <button
          type="button"
          onClick={onRestart}
          className="ml-auto rounded border border-current px-2 py-0.5 hover:bg-amber-100 dark:hover:bg-amber-900"
        >
          Restart inference host
        </button>
      )}
    </div>
  )
}
