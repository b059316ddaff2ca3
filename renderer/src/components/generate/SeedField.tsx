/**
 * The seed, with a dice button for a fresh one and a lock that keeps it for every run (unlocked, the panel
 * draws a new seed after each run, so pressing Generate again gives new images).
 */
import type { FieldAria } from './fieldAria.ts'
import { randomSeed } from './formModel.ts'
import { DiceIcon, LockIcon } from './icons.tsx'
import { control, fieldError, fieldLabel, hint, iconButton } from './ui.ts'

interface Props {
  value: string
  onChange(seed: string): void
  locked: boolean
  onToggleLock(): void
  error: string | undefined
  aria: FieldAria
}

export function SeedField({ value, onChange, locked, onToggleLock, error, aria }: Props) {
  return (
    <div className="flex min-w-0 flex-1 flex-col gap-1">
      <label htmlFor="field-seed" className={fieldLabel}>
        Seed
      </label>
      <div className="flex gap-1">
        <input
          {...aria}
          data-testid="seed-input"
          type="number"
          inputMode="numeric"
          min={0}
          step={1}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          className={`${control} min-w-0 font-mono`}
        />
        <button
          type="button"
          data-testid="seed-random"
          onClick={() => onChange(String(randomSeed()))}
          aria-label="Random seed"
          title="Random seed"
          className={iconButton}
        >
          <DiceIcon />
        </button>
        <button
          type="button"
          data-testid="seed-lock"
          onClick={onToggleLock}
          aria-pressed={locked}
          aria-label="Keep this seed"
          title={locked ? 'Seed kept for every run' : 'Keep this seed for every run'}
          className={iconButton}
        >
          <LockIcon locked={locked} />
        </button>
      </div>
      {error && (
        <p id="seed-error" className={fieldError}>
          {error}
        </p>
      )}
      <p id="seed-hint" className={hint}>
        {locked ? 'Kept for every run.' : 'A new seed after each run.'}
      </p>
    </div>
  )
}
