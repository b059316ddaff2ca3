/** About: version, the privacy statement, the runtime in use, the default model's data and third-party notices. */
import notices from 'virtual:third-party-notices'
import type { SystemInfo } from '../../../common/types.ts'
import { Dialog, DialogHeader } from './Dialog.tsx'

interface Props {
  open: boolean
  system: SystemInfo | null
  onClose(): void
}

export function AboutDialog({ open, system, onClose }: Props) {
  return (
    <Dialog open={open} onClose={onClose} labelledBy="about-title" width="w-[min(720px,92vw)]">
      <DialogHeader id="about-title" title={`DD Studio ${system ? system.appVersion : ''}`} onClose={onClose}>
        <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
          Images from noise in one or two steps with Distilled Decoding, on your own machine.
        </p>
      </DialogHeader>
      <div className="overflow-y-auto p-5 text-sm">
        <section aria-labelledby="privacy-title" className="mb-5">
          <h3 id="privacy-title" className="mb-1 font-semibold">
            Privacy
          </h3>
          <p data-testid="privacy-statement" className="text-zinc-600 dark:text-zinc-400">
            No telemetry: DD Studio sends no telemetry and makes no network requests. Models run locally, and
            your settings and images never leave this machine.
            {system?.shell === 'serve' &&
              ' In the browser, this page talks only to the DD Studio server that printed its address.'}
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
                {system.shell === 'electron' ? `Electron ${system.electronVersion}` : 'Browser (serve mode)'}
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
    </Dialog>
  )
}
