/** The three work areas of the shell. Their content grows with the engine and gallery. */
import type { HostStatus, Settings } from '../../../common/types.ts'

const panel = 'flex min-h-0 flex-col border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900'
const heading =
  'px-4 pt-4 pb-2 text-sm font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400'

export function GeneratePanel({ host }: { host: HostStatus | null }) {
  return (
    <section aria-labelledby="generate-title" className={`${panel} w-80 shrink-0 border-r`}>
      <h2 id="generate-title" className={heading}>
        Generate
      </h2>
      <div className="flex flex-1 flex-col gap-4 px-4 pb-4 text-sm">
        <div
          id="generate-unavailable"
          className="rounded-lg border border-dashed border-zinc-300 p-3 text-zinc-600 dark:border-zinc-700 dark:text-zinc-400"
        >
          Sampling is not part of this build yet. The default model pack (emoji32) ships in models/packs; the
          engine that runs it from this panel comes next.
        </div>
        <button
          type="button"
          disabled
          aria-describedby="generate-unavailable"
          className="mt-auto rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white disabled:cursor-not-allowed disabled:opacity-40"
        >
          Generate
        </button>
        {host?.state === 'failed' && (
          <p role="alert" className="text-red-600 dark:text-red-400">
            The inference host stopped: {host.message}
          </p>
        )}
      </div>
    </section>
  )
}

export function ResultCanvas() {
  return (
    <section
      aria-labelledby="result-title"
      className="flex min-w-0 flex-1 flex-col bg-zinc-50 dark:bg-zinc-950"
    >
      <h2 id="result-title" className="sr-only">
        Result
      </h2>
      <div className="flex flex-1 items-center justify-center p-8">
        <p className="max-w-sm text-center text-sm text-zinc-500">
          Generated images appear here, with how long token generation and decoding took.
        </p>
      </div>
    </section>
  )
}

export function GalleryPane({ settings }: { settings: Settings | null }) {
  return (
    <section aria-labelledby="gallery-title" className={`${panel} w-72 shrink-0 border-l`}>
      <h2 id="gallery-title" className={heading}>
        Gallery
      </h2>
      <div className="px-4 pb-4 text-sm text-zinc-600 dark:text-zinc-400">
        <p>No images yet.</p>
        {settings && (
          <p className="mt-2 break-all text-xs text-zinc-500" title="Gallery folder">
            Folder: {settings.galleryDir}
          </p>
        )}
      </div>
    </section>
  )
}

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
