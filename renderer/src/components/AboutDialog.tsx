import notices from 'virtual:third-party-notices'
import { useEffect, useRef } from 'react'
import type { SystemInfo } from '../../../common/types.ts'

interface Props {
  open: boolean
  system: SystemInfo | null
  onClose(): void
}

export function AboutDialog({ open, system, onClose }: Props) {
  const ref = useRef<HTMLDialogElement>(null)

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    if (!open && dialog.open) dialog.close()
  }, [open])

  return (
    <dialog
      ref={ref}
      aria-labelledby="about-title"
      onClose={onClose}
      className="m-auto max-h-[85vh] w-[min(720px,92vw)] overflow-hidden rounded-xl border border-zinc-300 bg-white p-0 text-zinc-900 shadow-2xl backdrop:bg-black/60 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100"
    >
      <div className="flex max-h-[85vh] flex-col">
        <header className="flex items-start justify-between border-b border-zinc-200 p-5 dark:border-zinc-800">
          <div>
            <h2 id="about-title" className="text-lg font-semibold">
              DD Studio {system ? system.appVersion : ''}
            </h2>
            <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
              Images from noise in one or two steps with Distilled Decoding, on your own machine.
            </p>
          </div>
          <button
            type="button"
            onClick={onClose}
            className="rounded px-2 py-1 text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800"
          >
            Close
          </button>
        </header>
        <div className="overflow-y-auto p-5 text-sm">
          <section aria-labelledby="privacy-title" className="mb-5">
            <h3 id="privacy-title" className="mb-1 font-semibold">
              Privacy
            </h3>
            <p className="text-zinc-600 dark:text-zinc-400">
              No telemetry. DD Studio makes no network connections at run time: models run locally, and your
              prompts and images never leave this machine.
            </p>
          </section>
          {system && (
            <section aria-labelledby="runtime-title" className="mb-5">
              <h3 id="runtime-title" className="mb-1 font-semibold">
                Runtime
              </h3>
              <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-0.5 text-zinc-600 dark:text-zinc-400">
                <dt>Shell</dt>
                <dd>
                  {system.shell === 'electron'
                    ? `Electron ${system.electronVersion}`
                    : 'Browser (serve mode)'}
                </dd>
                <dt>onnxruntime</dt>
                <dd>{system.ortVersion}</dd>
                <dt>Node.js (inference host)</dt>
                <dd>{system.nodeVersion}</dd>
                <dt>Platform</dt>
                <dd>
                  {system.platform} {system.arch}
                </dd>
                {system.providers.map((p) => (
                  <div key={p.name} className="contents">
                    <dt>Provider {p.name}</dt>
                    <dd>
                      {p.available ? `works (${p.probeMs} ms to load and run)` : `unavailable: ${p.error}`}
                    </dd>
                  </div>
                ))}
              </dl>
            </section>
          )}
          <section aria-labelledby="data-title" className="mb-5">
            <h3 id="data-title" className="mb-1 font-semibold">
              Training data of the default model
            </h3>
            <ul className="list-disc pl-5 text-zinc-600 dark:text-zinc-400">
              {notices
                .filter((n) => n.kind === 'data')
                .map((n) => (
                  <li key={n.name}>{n.text}</li>
                ))}
            </ul>
          </section>
          <section aria-labelledby="notices-title">
            <h3 id="notices-title" className="mb-2 font-semibold">
              Third-party notices
            </h3>
            <ul className="space-y-1">
              {notices
                .filter((n) => n.kind === 'code')
                .map((n) => (
                  <li key={n.name}>
                    <details>
                      <summary className="cursor-pointer">
                        {n.name} {n.version} — {n.license}
                      </summary>
                      <pre className="mt-1 max-h-64 overflow-auto whitespace-pre-wrap rounded bg-zinc-100 p-2 font-mono text-xs dark:bg-zinc-950">
                        {n.text}
                      </pre>
                    </details>
                  </li>
                ))}
            </ul>
          </section>
        </div>
      </div>
    </dialog>
  )
}
