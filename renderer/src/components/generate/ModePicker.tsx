/**
 * The generation mode as a grid of radio cards, fastest first, each with its trade-off in a few words (read out
 * in full to screen readers), and below them the chosen mode's trade-off with the model steps one run takes.
 */
import type { GenerationMode } from '../../../../common/generation.ts'
import { MODES } from './modes.ts'
import { fieldLabel, hint } from './ui.ts'

interface Props {
  mode: GenerationMode
  onChange(mode: GenerationMode): void
  /** Model steps one run of the chosen mode takes with the current settings. */
  steps: number
}

export function ModePicker({ mode, onChange, steps }: Props) {
  const selected = MODES.find((m) => m.mode === mode)
  return (
    <fieldset className="flex flex-col gap-1">
      <legend className={`${fieldLabel} mb-1`}>Mode</legend>
      <div className="grid grid-cols-2 gap-1.5">
        {MODES.map((m) => (
          <label
            key={m.mode}
            htmlFor={`mode-${m.mode}`}
            title={m.tradeOff}
            className={`flex cursor-pointer items-start gap-2 rounded-lg border px-2 py-1.5 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500/50 ${
              mode === m.mode
                ? 'border-indigo-500 bg-indigo-50 dark:border-indigo-400 dark:bg-indigo-950/50'
                : 'border-zinc-200 hover:bg-zinc-50 dark:border-zinc-800 dark:hover:bg-zinc-800/60'
            } ${m.mode === 'compare' ? 'col-span-2' : ''}`}
          >
            <input
              type="radio"
              name="mode"
              id={`mode-${m.mode}`}
              data-testid={`mode-${m.mode}`}
              value={m.mode}
              checked={mode === m.mode}
              onChange={() => onChange(m.mode)}
              aria-describedby={`mode-${m.mode}-tradeoff`}
              className="mt-0.5 accent-indigo-600"
            />
            <span className="min-w-0">
              <span className="block font-medium leading-tight">{m.label}</span>
              <span
                id={`mode-${m.mode}-tradeoff`}
                className="block text-[11px] leading-tight text-zinc-500 dark:text-zinc-400"
              >
                {m.short}
                <span className="sr-only">. {m.tradeOff}</span>
              </span>
            </span>
          </label>
        ))}
      </div>
      {/* Hidden from screen readers: each radio already describes itself with the same trade-off. */}
      {selected && (
        <p className={hint} aria-hidden="true">
          {selected.tradeOff} {steps} model {steps === 1 ? 'step' : 'steps'} per run.
        </p>
      )}
    </fieldset>
  )
}
