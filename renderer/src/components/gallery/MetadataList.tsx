/**
 * How an image was made, as a definition list: pack, mode, class (or a text pack's prompt and negative prompt),
 * seed, the DD trajectory (t_list, split_t),
 * the hybrid range, the teacher's sampling, the execution providers and the timings. Shared by the lightbox
 * and the dropped-PNG dialog.
 */
import type { ReactNode } from 'react'
import type { Timings } from '../../../../common/generation.ts'
import type { DdStudioMetadata } from '../../../../common/parameters.ts'
import { modeLabel } from '../generate/modes.ts'
import { formatMs } from '../generate/ui.ts'

export function Row({ term, children, testId }: { term: string; children: ReactNode; testId?: string }) {
  return (
    <div className="grid grid-cols-[7rem_1fr] gap-2 py-1" data-testid={testId}>
      <dt className="text-zinc-600 dark:text-zinc-400">{term}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
    </div>
  )
}

const mono = 'font-mono text-xs'

/** Timings from a GalleryItem, or the metadata's own timingsMs (the same four numbers when DD Studio wrote it). */
function timingsOf(metadata: DdStudioMetadata, fromItem: Timings | null): Timings | null {
  if (fromItem) return fromItem
  const t = metadata.timingsMs
  if (!t || t.tokenMs === undefined || t.decodeMs === undefined || t.totalMs === undefined) return null
  return { tokenMs: t.tokenMs, decodeMs: t.decodeMs, otherMs: t.otherMs ?? 0, totalMs: t.totalMs }
}

export function MetadataRows({
  metadata,
  timings = null,
}: {
  metadata: DdStudioMetadata
  timings?: Timings | null
}) {
  const { teacher, hybrid, providers } = metadata
  const shownTimings = timingsOf(metadata, timings)
  return (
    <>
      <Row term="Pack" testId="meta-pack">
        {metadata.pack.id} <span className="text-zinc-600 dark:text-zinc-400">{metadata.pack.version}</span>
      </Row>
      <Row term="Mode" testId="meta-mode">
        {modeLabel(metadata.mode)} <span className={mono}>({metadata.mode})</span>
      </Row>
      {metadata.prompt ? (
        <>
          <Row term="Prompt" testId="meta-prompt">
            {metadata.prompt.text.trim() === '' ? (
              <em>empty: an unconditional image</em>
            ) : (
              <span className="whitespace-pre-wrap">{metadata.prompt.text}</span>
            )}
          </Row>
          {metadata.prompt.negative && (
            <Row term="Negative prompt" testId="meta-negative">
              <span className="whitespace-pre-wrap">{metadata.prompt.negative}</span>
            </Row>
          )}
        </>
      ) : (
        metadata.class && (
          <Row term="Class" testId="meta-class">
            {metadata.class.name} <span className={mono}>#{metadata.class.index}</span>
          </Row>
        )
      )}
      <Row term="Seed" testId="meta-seed">
        <span className={mono}>{metadata.seed}</span>
        {metadata.jobSeed !== undefined && metadata.jobSeed !== metadata.seed && (
          <span className="text-zinc-600 dark:text-zinc-400">
            {' '}
            (image {(metadata.index ?? 0) + 1} of a job with seed {metadata.jobSeed})
          </span>
        )}
      </Row>
      <Row term="t_list" testId="meta-tlist">
        <span className={mono}>{metadata.tList.join(', ')}</span>
      </Row>
      <Row term="split_t" testId="meta-split">
        <span className={mono}>{metadata.splitT}</span>
      </Row>
      <Row term="Hybrid" testId="meta-hybrid">
        <span className={mono}>
          {hybrid.start}–{hybrid.end}
          {metadata.steps?.unit === 'scale' ? ' (scales)' : ''}
          {hybrid.splitT !== undefined ? ` · split_t ${hybrid.splitT}` : ''}
        </span>
      </Row>
      <Row term="Teacher" testId="meta-teacher">
        <span className={mono}>
          CFG {teacher.cfgScale} · temperature {teacher.temperature} · top-k {teacher.topK} · top-p{' '}
          {teacher.topP}
        </span>
      </Row>
      {metadata.noise !== undefined && (
        <Row term="Noise">
          <span className={mono}>{metadata.noise}</span>
        </Row>
      )}
      <Row term="Providers" testId="meta-providers">
        {providers && Object.keys(providers).length > 0 ? (
          <span className={mono}>
            {Object.entries(providers)
              .map(([graph, provider]) => `${graph}: ${provider}`)
              .join(', ')}
          </span>
        ) : (
          'not recorded'
        )}
      </Row>
      <Row term="Timings" testId="meta-timings">
        {shownTimings ? (
          <span className={mono}>
            token {formatMs(shownTimings.tokenMs)} · decode {formatMs(shownTimings.decodeMs)} · total{' '}
            {formatMs(shownTimings.totalMs)}
          </span>
        ) : (
          'not recorded'
        )}
      </Row>
      <Row term="App">
        {metadata.app ?? 'DD Studio'} {metadata.appVersion}
      </Row>
    </>
  )
}

/** The A1111-style `parameters` text as it is in the file, for copying into other tools. */
export function ParametersText({ text, id }: { text: string | null; id: string }) {
  return (
    <section aria-labelledby={id} className="mt-3">
      <h3
        id={id}
        className="mb-1 text-xs font-semibold tracking-wide text-zinc-600 uppercase dark:text-zinc-400"
      >
        A1111 parameters
      </h3>
      {text ? (
        <pre
          data-testid="parameters-text"
          className="rounded-md border border-zinc-200 bg-zinc-50 p-2 font-mono text-xs break-words whitespace-pre-wrap dark:border-zinc-800 dark:bg-zinc-950"
        >
          {text}
        </pre>
      ) : (
        <p className="text-sm text-zinc-600 dark:text-zinc-400">This image has no parameters text.</p>
      )}
    </section>
  )
}
