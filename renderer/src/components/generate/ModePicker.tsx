/**
 * The Steps toggle: the generation mode as a radio group of cards, fastest first, each with its trade-off in a
 * few words and this machine's measured time per image (or that it has not been measured yet). Each radio is
 * named by its label alone ("1 step") and described by its speed and full trade-off. Below the cards, the
 * chosen mode's trade-off with the model steps one run takes.
 */
import type { GenerationMode, ModeSpeed, SingleMode } from '../../../../common/generation.ts'
import { MODES, measuredMs, singleModesOf, speedSource, speedText } from './modes.ts'
import { fieldLabel, hint } from './ui.ts'

interface Props {
  mode: GenerationMode
  onChange(mode: GenerationMode): void
  /** Model steps one run of the chosen mode takes with the current settings. */
  steps: number
  /** This machine's measured speeds for the pack; null while they load. */
  speeds: ModeSpeed[] | null
  /** What the Compare option runs, so its time is the sum of theirs. */
  compareModes: readonly SingleMode[]
}

export function ModePicker({ mode, onChange, steps, speeds, compareModes }: Props) {
  const selected = MODES.find((m) => m.mode === mode)
  return (
    <div role="radiogroup" aria-labelledby="steps-label" className="flex flex-col gap-1">
      <span id="steps-label" className={`${fieldLabel} mb-1`}>
        Steps
      </span>
      <div className="grid grid-cols-2 gap-1.5">
        {MODES.map((m) => {
          const ms = measuredMs(singleModesOf(m.mode, compareModes), speeds)
          const single = m.mode === 'compare' ? undefined : speeds?.find((s) => s.mode === m.mode)
          const id = `mode-${m.mode}`
          return (
            <label
              key={m.mode}
              htmlFor={id}
              title={`${m.tradeOff}${single ? ` Measured: ${speedSource(single)}.` : ''}`}
              className={`flex cursor-pointer items-start gap-2 rounded-lg border px-2 py-1.5 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500/50 ${
                mode === m.mode
                  ? 'border-indigo-500 bg-indigo-50 dark:border-indigo-400 dark:bg-indigo-950/50'
                  : 'border-zinc-200 hover:bg-zinc-50 dark:border-zinc-800 dark:hover:bg-zinc-800/60'
              } ${m.mode === 'compare' ? 'col-span-2' : ''}`}
            >
              <input
                type="radio"
                name="mode"
                id={id}
                data-testid={id}
                value={m.mode}
                checked={mode === m.mode}
                onChange={() => onChange(m.mode)}
                aria-labelledby={`${id}-label`}
                aria-describedby={`${id}-speed ${id}-tradeoff`}
                className="mt-0.5 accent-indigo-600"
              />
              <span className="min-w-0">
                <span id={`${id}-label`} className="block font-medium leading-tight">
                  {m.label}
                </span>
                <span className="block text-[11px] leading-tight text-zinc-600 dark:text-zinc-400">
                  {m.short}
                </span>
                <span
                  id={`${id}-speed`}
                  data-testid="mode-speed"
                  data-mode={m.mode}
                  data-measured={ms !== null}
                  className={`block text-[11px] leading-tight ${ms === null ? 'text-zinc-600 italic dark:text-zinc-400' : 'font-mono text-zinc-700 dark:text-zinc-300'}`}
                >
                  {speedText(ms)}
                  {ms !== null && <span className="sr-only"> per image on this machine</span>}
                </span>
                <span id={`${id}-tradeoff`} className="sr-only">
                  {m.tradeOff}
                </span>
              </span>
            </label>
          )
        })}
      </div>
      {/* Hidden from screen readers: each radio already describes itself with the same trade-off. */}
      {selected && (
        <p className={hint} aria-hidden="true">
          {selected.tradeOff} {steps} model {steps === 1 ? 'step' : 'steps'} per run. Times are per image,
          measured on this machine.
        </p>
      )}
    </div>
  )
}
