/**
 * The running job's progress bar and the line under it. Until the first progress event there is no step count,
 * so the bar pulses instead of filling and the line says where the job is (starting, queued, generating).
 */
import type { ActiveJob } from '../../app/useGeneration.ts'
import { modeLabel } from './modes.ts'
import { formatEta } from './ui.ts'

function describe(job: ActiveJob): string {
  const p = job.progress
  if (job.state === 'cancelling') return 'Cancelling…'
  if (job.state === 'submitting') return 'Starting…'
  if (job.state === 'queued' && !p)
    return `Waiting in the queue${job.position ? ` (number ${job.position})` : ''}…`
  if (p) return `Step ${p.step} of ${p.total} · ${formatEta(p.etaMs)}`
  return `Generating ${job.n} ${job.n === 1 ? 'image' : 'images'} (${modeLabel(job.mode)})…`
}

export function ProgressBar({ job }: { job: ActiveJob }) {
  const p = job.progress
  const fraction = p && p.total > 0 ? Math.min(1, p.step / p.total) : 0
  const text = describe(job)
  return (
    <div className="flex flex-col gap-1">
      <div
        data-testid="progress"
        role="progressbar"
        aria-label="Generation progress"
        aria-valuemin={0}
        aria-valuemax={p?.total ?? 100}
        aria-valuenow={p ? p.step : undefined}
        aria-valuetext={text}
        data-step={p?.step ?? 0}
        data-total={p?.total ?? 0}
        className="h-2 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
      >
        <div
          className={`h-full rounded-full bg-indigo-500 transition-[width] duration-150 ${p ? '' : 'w-1/3 animate-pulse'}`}
          style={p ? { width: `${(fraction * 100).toFixed(1)}%` } : undefined}
        />
      </div>
      <p className="text-xs text-zinc-600 dark:text-zinc-400" aria-live="polite">
        {text}
      </p>
    </div>
  )
}
