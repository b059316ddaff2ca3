/**
 * Which modes a compare job runs on the same noise: checkboxes in the usual order, 1 step, 2 steps and the
 * exact teacher to start with. The exact teacher is what agreement and the heat-maps are measured against, so
 * leaving it out is allowed but said.
 */
import { SINGLE_MODES, type SingleMode } from '../../../../common/generation.ts'
import { modeLabel } from './modes.ts'
import { fieldError, fieldLabel, hint } from './ui.ts'

interface Props {
  value: readonly SingleMode[]
  onChange(modes: SingleMode[]): void
  error: string | undefined
}

export function CompareModesPicker({ value, onChange, error }: Props) {
  function toggle(mode: SingleMode, on: boolean) {
    onChange(SINGLE_MODES.filter((m) => (m === mode ? on : value.includes(m))))
  }
  const describedBy = [error ? 'compareModes-error' : null, 'compareModes-hint'].filter(Boolean).join(' ')
  return (
    <fieldset
      data-testid="compare-modes"
      aria-describedby={describedBy}
      aria-invalid={error ? true : undefined}
      className="flex flex-col gap-1"
    >
      <legend className={`${fieldLabel} mb-1`}>Modes to compare</legend>
      <div className="grid grid-cols-2 gap-x-3 gap-y-1">
        {SINGLE_MODES.map((mode) => (
          <label key={mode} htmlFor={`compare-mode-${mode}`} className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              id={`compare-mode-${mode}`}
              data-testid={`compare-mode-${mode}`}
              checked={value.includes(mode)}
              onChange={(e) => toggle(mode, e.target.checked)}
              className="accent-indigo-600"
            />
            {modeLabel(mode)}
          </label>
        ))}
      </div>
      {error && (
        <p id="compareModes-error" className={fieldError}>
          {error}
        </p>
      )}
      <p id="compareModes-hint" className={hint}>
        {value.includes('exact')
          ? 'Each mode is measured against the exact teacher: agreement and where tokens differ.'
          : 'Without the exact teacher there is nothing to measure agreement against.'}
      </p>
    </fieldset>
  )
}
