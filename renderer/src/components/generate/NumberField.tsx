/**
 * One advanced setting: a labelled number input (or a text input, for step lists) with its error and hint.
 * The value stays text, as the form keeps it; formModel.ts checks it.
 */
import type { FieldAria } from './fieldAria.ts'
import type { FieldName } from './formModel.ts'
import { control, fieldError, fieldLabel, hint } from './ui.ts'

interface Props {
  name: FieldName
  label: string
  value: string
  onChange(value: string): void
  error: string | undefined
  aria: FieldAria
  help?: string
  min?: number
  max?: number
  step?: number
  /** A free text field (lists) instead of a number field. */
  text?: boolean
}

export function NumberField({
  name,
  label,
  value,
  onChange,
  error,
  aria,
  help,
  min,
  max,
  step,
  text,
}: Props) {
  return (
    <div className="flex min-w-0 flex-col gap-1">
      <label htmlFor={aria.id} className={fieldLabel}>
        {label}
      </label>
      <input
        {...aria}
        data-testid={`field-${name}`}
        type={text ? 'text' : 'number'}
        inputMode={text ? 'numeric' : 'decimal'}
        min={min}
        max={max}
        step={step ?? 1}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={`${control} font-mono`}
        spellCheck={false}
      />
      {error && (
        <p id={`${name}-error`} className={fieldError}>
          {error}
        </p>
      )}
      {help && (
        <p id={`${name}-hint`} className={hint}>
          {help}
        </p>
      )}
    </div>
  )
}
