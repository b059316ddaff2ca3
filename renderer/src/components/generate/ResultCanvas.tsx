/**
 * The last job's images: a grid for one mode, or for a compare job a table with one column per mode and one
 * row per seed, each column topped by its timings and token agreement with the exact teacher and ended by a
 * per-position disagreement heatmap (which can also be laid over the images). A 1-step image can be promoted:
 * re-run on the same seed, so the same noise, in a higher-quality mode; the result then shows next to its
 * draft. Every image has a Save as link: the way to keep it when main could not save it to the gallery, which a
 * notice under the header then explains. Images are tiny pixel grids, so they are scaled up without smoothing.
 * A text pack's job is headed by its prompt (and negative prompt), with what the pack made of them.
 */
import { useId, useState } from 'react'
import type {
  GeneratedImage,
  GenerationResult,
  ModeSpeed,
  SingleMode,
  Timings,
} from '../../../../common/generation.ts'
import { type Draft, type Generation, subjectOf } from '../../app/useGeneration.ts'
import { useSpeeds } from '../../app/useSpeeds.ts'
import { GalleryErrorNotice } from './GalleryErrorNotice.tsx'
import { DisagreementHeatmap, DisagreementOverlay, HeatmapLegend } from './Heatmap.tsx'
import { modeLabel, PROMOTE_MODES, speedText } from './modes.ts'
import { usePngUrl } from './pngUrl.ts'
import { formatMs, formatPercent } from './ui.ts'

export function ResultCanvas({ generation }: { generation: Generation }) {
  const { result, job, draft } = generation
  // For the Promote choices: what each mode costs here.
  const speeds = useSpeeds(result?.packId ?? null, result?.jobId ?? null)
  const promoted = draft && result?.images.length === 1 ? draft : null
  return (
    <section
      aria-labelledby="result-title"
      aria-busy={job !== null}
      className="flex min-w-0 flex-1 flex-col bg-zinc-50 dark:bg-zinc-950"
    >
      <h2 id="result-title" className="sr-only">
        Result
      </h2>
      {result ? (
        <div
          data-testid="result"
          data-job-id={result.jobId}
          className={`min-h-0 flex-1 overflow-auto p-5 transition-opacity ${job ? 'opacity-60' : ''}`}
        >
          <ResultHeader result={result} promoted={promoted !== null} />
          <GalleryErrorNotice result={result} />
          {promoted ? (
            <PromotedPair
              result={result}
              draft={promoted}
              promote={{
                busy: job !== null,
                speeds,
                run: (image, mode) => void generation.promote(result, image, mode),
              }}
            />
          ) : result.modes.length > 1 ? (
            <CompareTable result={result} />
          ) : (
            <ImageGrid
              result={result}
              promote={
                result.modes[0] === '1step'
                  ? {
                      busy: job !== null,
                      speeds,
                      run: (image, mode) => void generation.promote(result, image, mode),
                    }
                  : null
              }
            />
          )}
        </div>
      ) : (
        <div className="flex flex-1 items-center justify-center p-8">
          <p className="max-w-sm text-center text-sm text-zinc-500">
            {job
              ? `Generating ${job.n} ${job.n === 1 ? 'image' : 'images'}…`
              : 'Generated images appear here, with how long token generation and decoding took.'}
          </p>
        </div>
      )}
    </section>
  )
}

function ResultHeader({ result, promoted }: { result: GenerationResult; promoted: boolean }) {
  const n = result.images.length / Math.max(1, result.modes.length)
  const single = result.modes.length === 1 ? result.modes[0] : undefined
  const { prompt } = result
  return (
    <header className="mb-4 flex flex-wrap items-baseline gap-x-3 gap-y-1">
      <h3
        data-testid="result-subject"
        className={`text-base font-semibold ${prompt ? 'break-words whitespace-pre-wrap' : ''}`}
      >
        {prompt && prompt.text.trim() !== '' ? `“${prompt.text}”` : subjectOf(result)}
      </h3>
      <p className="text-xs text-zinc-600 dark:text-zinc-400">
        {single ? modeLabel(single) : `Compare: ${result.modes.map(modeLabel).join(', ')}`} · {n}{' '}
        {n === 1 ? 'image' : 'images'} · first seed <span className="font-mono">{result.seed}</span> · pack{' '}
        {result.packId} on {result.provider}
        {promoted && ' · promoted from a 1-step draft'}
      </p>
      {prompt?.negative && (
        <p data-testid="result-negative" className="basis-full text-xs break-words whitespace-pre-wrap">
          <span className="text-zinc-600 dark:text-zinc-400">Negative prompt:</span> {prompt.negative}
        </p>
      )}
      {result.promptNotes.length > 0 && (
        <ul
          data-testid="result-prompt-notes"
          aria-label="What the pack made of the prompt"
          className="basis-full text-xs text-amber-800 dark:text-amber-300"
        >
          {result.promptNotes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
    </header>
  )
}

function TimingsText({ timings, stacked = false }: { timings: Timings; stacked?: boolean }) {
  const parts = [
    `token ${formatMs(timings.tokenMs)}`,
    `decode ${formatMs(timings.decodeMs)}`,
    `total ${formatMs(timings.totalMs)}`,
  ]
  return (
    <span
      data-testid="timings"
      className={`flex font-mono text-[11px] text-zinc-600 dark:text-zinc-400 ${stacked ? 'flex-col' : 'flex-wrap gap-x-2'}`}
      title={`Per image, averaged over the batch: token generation ${formatMs(timings.tokenMs)}, decoding ${formatMs(timings.decodeMs)}, other ${formatMs(timings.otherMs)}, total ${formatMs(timings.totalMs)}`}
    >
      {parts.map((p, i) => (
        <span key={p} className="whitespace-nowrap">
          {i > 0 ? ' ' : ''}
          {p}
        </span>
      ))}
    </span>
  )
}

interface ResultImageProps {
  image: GeneratedImage
  /** What it shows (class name or prompt), for its text alternative. */
  subject: string
  size: number
  /** Per token position, where this image differs from the exact teacher's, drawn over it. */
  overlay?: number[] | null
  testId?: string
}

function ResultImage({ image, subject, size, overlay, testId = 'result-image' }: ResultImageProps) {
  const url = usePngUrl(image.png)
  const box = { width: size, height: size }
  if (!url) return <div style={box} className="rounded bg-zinc-200 dark:bg-zinc-800" aria-hidden="true" />
  const img = (
    <img
      data-testid={testId}
      data-mode={image.mode}
      data-seed={image.seed}
      src={url}
      alt={`${subject}, ${modeLabel(image.mode)}, seed ${image.seed}`}
      style={box}
      className="pixelated rounded border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900"
      draggable={false}
    />
  )
  if (!overlay) return img
  return (
    <div className="relative overflow-hidden rounded" style={box}>
      {img}
      <DisagreementOverlay disagreement={overlay} />
    </div>
  )
}

/**
 * A download of the image's PNG (with its generation metadata), named after its pack, mode and seed. A browser
 * saves it to its downloads; the desktop app asks where.
 */
function SaveAsLink({ image, packId }: { image: GeneratedImage; packId: string }) {
  const url = usePngUrl(image.png)
  if (!url) return null
  return (
    <a
      href={url}
      download={`${packId}-${image.mode}-${image.seed}.png`}
      data-testid="result-save"
      data-mode={image.mode}
      data-seed={image.seed}
      title="Save this image as a PNG file"
      className="self-start text-[11px] text-indigo-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300"
    >
      Save as…
      <span className="sr-only">
        {' '}
        (seed {image.seed}, {modeLabel(image.mode)})
      </span>
    </a>
  )
}

interface PromoteOptions {
  /** A job runs: promoting waits until it is done. */
  busy: boolean
  speeds: ModeSpeed[] | null
  run(image: GeneratedImage, mode: SingleMode): void
}

/** Promote: a disclosure with the higher-quality modes, each with its measured time per image. */
function PromoteControl({ image, options }: { image: GeneratedImage; options: PromoteOptions }) {
  const [open, setOpen] = useState(false)
  const id = useId()
  return (
    <div className="flex w-full flex-col gap-1">
      <button
        type="button"
        data-testid="promote-button"
        aria-expanded={open}
        aria-controls={id}
        disabled={options.busy}
        onClick={() => setOpen((o) => !o)}
        title={`Re-run seed ${image.seed} in a higher-quality mode, on the same noise`}
        className="self-start rounded-md border border-zinc-300 px-2 py-0.5 text-xs hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800"
      >
        Promote
      </button>
      {open && (
        <fieldset id={id} className="flex flex-col gap-0.5">
          <legend className="sr-only">Promote seed {image.seed} to</legend>
          {PROMOTE_MODES.map((mode) => (
            <button
              key={mode}
              type="button"
              data-testid={`promote-${mode}`}
              disabled={options.busy}
              onClick={() => {
                setOpen(false)
                options.run(image, mode)
              }}
              className="flex items-baseline justify-between gap-2 rounded px-2 py-0.5 text-left text-xs hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 disabled:opacity-50 dark:hover:bg-indigo-950"
            >
              <span>{modeLabel(mode)}</span>
              <span className="font-mono text-[11px] text-zinc-500 dark:text-zinc-400">
                {speedText(options.speeds?.find((s) => s.mode === mode)?.msPerImage ?? null)}
              </span>
            </button>
          ))}
        </fieldset>
      )}
    </div>
  )
}

/** A promoted result next to the 1-step draft it came from: same seed, same noise, another mode. */
function PromotedPair({
  result,
  draft,
  promote,
}: {
  result: GenerationResult
  draft: Draft
  /** The draft can be promoted again, to another mode. */
  promote: PromoteOptions
}) {
  const image = result.images[0]
  if (!image) return null
  const size = 192
  return (
    <div data-testid="promoted" className="flex flex-wrap items-center gap-4">
      <figure className="flex flex-col gap-1.5 rounded-lg border border-zinc-200 bg-white p-2 dark:border-zinc-800 dark:bg-zinc-900">
        <ResultImage image={draft.image} subject={draft.subject} size={size} testId="draft-image" />
        <figcaption className="text-xs">
          Draft, {modeLabel(draft.image.mode)} · seed <span className="font-mono">{draft.image.seed}</span>
          <TimingsText timings={draft.image.timings} />
        </figcaption>
        <SaveAsLink image={draft.image} packId={result.packId} />
        <PromoteControl image={draft.image} options={promote} />
      </figure>
      <span aria-hidden="true" className="text-2xl text-zinc-400">
        →
      </span>
      <figure className="flex flex-col gap-1.5 rounded-lg border border-indigo-300 bg-white p-2 dark:border-indigo-800 dark:bg-zinc-900">
        <ResultImage image={image} subject={subjectOf(result)} size={size} />
        <figcaption className="text-xs">
          {modeLabel(image.mode)} · seed <span className="font-mono">{image.seed}</span>
          <TimingsText timings={image.timings} />
        </figcaption>
        <SaveAsLink image={image} packId={result.packId} />
      </figure>
    </div>
  )
}

function ImageGrid({ result, promote }: { result: GenerationResult; promote: PromoteOptions | null }) {
  const count = result.images.length
  const size = count === 1 ? 256 : count <= 4 ? 192 : 128
  return (
    <ul
      aria-label="Generated images"
      className="grid gap-4"
      style={{ gridTemplateColumns: `repeat(auto-fill, ${size + 18}px)` }}
    >
      {result.images.map((image) => (
        <li
          key={`${image.mode}-${image.index}`}
          className="flex flex-col items-start gap-1.5 rounded-lg border border-zinc-200 bg-white p-2 dark:border-zinc-800 dark:bg-zinc-900"
        >
          <ResultImage image={image} subject={subjectOf(result)} size={size} />
          <p className="flex w-full flex-wrap items-baseline gap-x-2 text-xs">
            <span>
              Seed <span className="font-mono">{image.seed}</span>
            </span>
            <span className="text-zinc-500 dark:text-zinc-400">{modeLabel(image.mode)}</span>
            {image.agreement && (
              <span className="text-zinc-500 dark:text-zinc-400">
                {formatPercent(image.agreement.identical)} same as exact
              </span>
            )}
          </p>
          <TimingsText timings={image.timings} />
          <SaveAsLink image={image} packId={result.packId} />
          {promote && <PromoteControl image={image} options={promote} />}
        </li>
      ))}
    </ul>
  )
}

function CompareTable({ result }: { result: GenerationResult }) {
  const byKey = new Map(result.images.map((img) => [`${img.mode}/${img.index}`, img]))
  const rows = [...new Set(result.images.map((img) => img.index))].sort((a, b) => a - b)
  const size = 96
  const hasReference = result.modes.includes('exact')
  const [overlay, setOverlay] = useState(false)
  return (
    <div className="overflow-x-auto">
      {hasReference && (
        <label
          htmlFor="overlay-toggle"
          className="mb-2 flex items-center gap-2 text-xs text-zinc-700 dark:text-zinc-300"
        >
          <input
            type="checkbox"
            id="overlay-toggle"
            data-testid="overlay-toggle"
            checked={overlay}
            onChange={(e) => setOverlay(e.target.checked)}
            className="accent-indigo-600"
          />
          Show where each image differs from the exact teacher
        </label>
      )}
      <table
        data-testid="compare-table"
        className="border-separate border-spacing-x-2 border-spacing-y-2 text-xs"
      >
        <caption className="sr-only">
          {subjectOf(result)}: each column is a mode, each row one seed, all on the same noise
        </caption>
        <thead>
          <tr>
            <th scope="col" className="text-left align-bottom font-medium text-zinc-500 dark:text-zinc-400">
              Seed
            </th>
            {result.modes.map((mode) => {
              const agreement = result.agreement[mode]
              const timings = result.images.find((img) => img.mode === mode)?.timings
              return (
                <th
                  key={mode}
                  scope="col"
                  data-testid="compare-column"
                  data-mode={mode}
                  className="text-left align-bottom font-normal"
                >
                  <span className="block text-sm font-semibold">{modeLabel(mode)}</span>
                  {agreement ? (
                    <span className="block text-zinc-600 dark:text-zinc-300" data-testid="agreement">
                      {formatPercent(agreement.identical)} tokens = exact
                    </span>
                  ) : (
                    mode === 'exact' && (
                      <span className="block text-zinc-500 dark:text-zinc-400">reference</span>
                    )
                  )}
                  {timings && <TimingsText timings={timings} stacked />}
                </th>
              )
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((index) => {
            const seed = result.images.find((img) => img.index === index)?.seed
            return (
              <tr key={index}>
                <th
                  scope="row"
                  className="text-left align-top font-mono font-normal text-zinc-600 dark:text-zinc-400"
                >
                  {seed}
                </th>
                {result.modes.map((mode) => {
                  const image = byKey.get(`${mode}/${index}`)
                  return (
                    <td key={mode} className="align-top">
                      {image ? (
                        <div className="flex flex-col gap-1">
                          <ResultImage
                            image={image}
                            subject={subjectOf(result)}
                            size={size}
                            overlay={overlay ? image.agreement?.disagreement : null}
                          />
                          {image.agreement ? (
                            <span className="text-[11px] text-zinc-600 dark:text-zinc-400">
                              {formatPercent(image.agreement.identical)} same
                            </span>
                          ) : null}
                          <SaveAsLink image={image} packId={result.packId} />
                        </div>
                      ) : (
                        <span className="text-zinc-400">—</span>
                      )}
                    </td>
                  )
                })}
              </tr>
            )
          })}
        </tbody>
        {hasReference && (
          <tfoot>
            <tr>
              <th scope="row" className="text-left align-top font-normal text-zinc-500 dark:text-zinc-400">
                Differs
              </th>
              {result.modes.map((mode) => {
                const agreement = result.agreement[mode]
                return (
                  <td key={mode} className="align-top">
                    {agreement ? (
                      <DisagreementHeatmap disagreement={agreement.disagreement} label={modeLabel(mode)} />
                    ) : (
                      <span className="text-[11px] text-zinc-500 dark:text-zinc-400">
                        {mode === 'exact' ? 'the reference' : '—'}
                      </span>
                    )}
                  </td>
                )
              })}
            </tr>
          </tfoot>
        )}
      </table>
      {hasReference && (
        <div className="mt-2">
          <HeatmapLegend />
        </div>
      )}
    </div>
  )
}
