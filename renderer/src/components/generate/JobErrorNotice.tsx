/**
 * Why the last job made no images, in words for its cause, until dismissed. A cancel the user asked for is a
 * notice, not an alarm; everything else is an alert.
 */
import type { Generation } from '../../app/useGeneration.ts'
import { alertBox, noticeBox } from './ui.ts'

interface Props {
  error: NonNullable<Generation['jobError']>
  onDismiss(): void
}

function describe(error: Props['error']): string {
  switch (error.code) {
    case 'cancelled':
      return 'Cancelled. No images were made.'
    case 'host_crashed':
      return `The inference host crashed during this job (${error.message}). It restarts by itself; generate again when it is ready.`
    case 'unavailable':
      return `The inference host is not available: ${error.message}`
    default:
      return `Generation failed: ${error.message}`
  }
}

export function JobErrorNotice({ error, onDismiss }: Props) {
  return (
    <div
      role="alert"
      data-testid="job-error"
      data-code={error.code}
      className={`flex items-start gap-2 ${error.code === 'cancelled' ? noticeBox : alertBox}`}
    >
      <span className="flex-1">{describe(error)}</span>
      <button
        type="button"
        onClick={onDismiss}
        aria-label="Dismiss message"
        title="Dismiss"
        className="rounded px-1 leading-none hover:bg-black/5 dark:hover:bg-white/10"
      >
        <span aria-hidden="true">×</span>
      </button>
    </div>
  )
}
