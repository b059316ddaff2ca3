/**
 * Everything above the Generate button that says why a run can't start or how it went: the server's refusal of
 * the settings, the last job's error, a stopped inference host, the running job's progress, and, when nothing
 * runs, how many fields stop a run.
 */
import type { HostStatus } from '../../../../common/types.ts'
import type { ActiveJob, Generation } from '../../app/useGeneration.ts'
import { JobErrorNotice } from './JobErrorNotice.tsx'
import { ProgressBar } from './ProgressBar.tsx'
import { alertBox } from './ui.ts'

interface Props {
  host: HostStatus | null
  job: ActiveJob | null
  jobError: Generation['jobError']
  onDismissJobError(): void
  /** The server's invalid_input message; fields point at it (id server-input-error) with aria-describedby. */
  inputError: string | null
  /** How many fields the chosen mode reads are invalid. The Generate button points at the note (generate-blocked). */
  blockingCount: number
  /** Said instead of the count when one field stops a run and its problem is best said here (no prompt). */
  blockedWhy?: string | undefined
}

export function JobStatus({
  host,
  job,
  jobError,
  onDismissJobError,
  inputError,
  blockingCount,
  blockedWhy,
}: Props) {
  return (
    <>
      {inputError && (
        <div id="server-input-error" role="alert" data-testid="input-error" className={alertBox}>
          <span className="font-medium">These settings were refused:</span> {inputError}
        </div>
      )}
      {jobError && <JobErrorNotice error={jobError} onDismiss={onDismissJobError} />}
      {host?.state === 'failed' && (
        <p role="alert" className="text-red-600 dark:text-red-400">
          The inference host stopped: {host.message}
        </p>
      )}
      {job && <ProgressBar job={job} />}
      {!job && blockingCount > 0 && (
        <p
          id="generate-blocked"
          data-testid="generate-blocked"
          className="text-xs text-red-600 dark:text-red-400"
        >
          {blockedWhy ?? `Fix ${blockingCount === 1 ? 'one field' : `${blockingCount} fields`} to generate.`}
        </p>
      )}
    </>
  )
}
