/** Generate (with its keyboard shortcut shown) and, while a job runs, Cancel (Esc). */
import type { ActiveJob } from '../../app/useGeneration.ts'
import { SHORTCUT } from './shortcut.ts'

interface Props {
  onGenerate(): void
  canGenerate: boolean
  /** Names the note that says why Generate is disabled, when there is one. */
  describedBy: string | undefined
  /** Cancel is shown only while a job runs, and disabled once cancelling. */
  job: ActiveJob | null
  onCancel(): void
}

export function GenerateButtons({ onGenerate, canGenerate, describedBy, job, onCancel }: Props) {
  return (
    <div className="flex gap-2">
      <button
        type="button"
        data-testid="generate-button"
        onClick={onGenerate}
        disabled={!canGenerate}
        aria-describedby={describedBy}
        aria-keyshortcuts="Control+Enter Meta+Enter"
        title={`Generate (${SHORTCUT})`}
        className="flex-1 rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 disabled:cursor-not-allowed disabled:opacity-40 disabled:hover:bg-indigo-600"
      >
        Generate <span className="ml-1 text-xs font-normal">{SHORTCUT}</span>
      </button>
      {job && (
        <button
          type="button"
          data-testid="cancel-button"
          onClick={onCancel}
          disabled={job.state === 'cancelling'}
          aria-keyshortcuts="Escape"
          title="Cancel (Esc)"
          className="rounded-lg border border-zinc-300 px-3 py-2 font-medium hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800"
        >
          Cancel
        </button>
      )}
    </div>
  )
}
