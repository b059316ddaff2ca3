/** How many images one run makes, capped at what the result view lays out (MAX_UI_IMAGES). */
import type { FieldAria } from './fieldAria.ts'
import { MAX_UI_IMAGES } from './formModel.ts'
import { control, fieldError, fieldLabel, hint } from './ui.ts'

interface Props {
  value: string
  onChange(n: string): void
  error: string | undefined
  aria: FieldAria
}

export function CountField({ value, onChange, error, aria }: Props) {
  return (
    <div className="flex w-20 flex-col gap-1">
      <label htmlFor="field-n" className={fieldLabel}>
        Images
      </label>
      <input
        {...aria}
        data-testid="count-input"
        type="number"
        inputMode="numeric"
        min={1}
        max={MAX_UI_IMAGES}
        step={1}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={control}
      />
      {error && (
        <p id="n-error" className={fieldError}>
          {error}
        </p>
      )}
      <p id="n-hint" className={hint}>
        1 to {MAX_UI_IMAGES}
      </p>
    </div>
  )
}
