/**
 * The Steps toggle: the generation mode as a radio group of cards, fastest first, each with its trade-off in a
 * few words and this machine's measured time per image (or that it has not been measured yet). Each radio is
 * named by its label alone ("1 step") and described by its speed and full trade-off. The words follow the
 * pack's steps (a VAR pack's original model takes 10 scales). When the chosen modes include Hybrid and the pack
 * publishes hybrid schedules (VAR: 3, 4, 6 steps; LlamaGen: 22, 42, 81), a second radio group picks one.
 * Below, the chosen mode's trade-off with the model steps one run takes.
 */
import type {
  GenerationMode,
  HybridPreset,
  ModeSpeed,
  PackSummary,
  SingleMode,
} from '../../../../common/generation.ts'
import {
  countOf,
  describePreset,
  hybridPresetsOf,
  measuredMs,
  modesFor,
  singleModesOf,
  speedSource,
  speedText,
  stepUnitsOf,
} from './modes.ts'
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
  pack: PackSummary | null
  /** The published hybrid schedule the Advanced values are, or null for a range of the user's own. */
  hybridPreset: HybridPreset | null
  onHybridPreset(preset: HybridPreset): void
}

export function ModePicker({
  mode,
  onChange,
  steps,
  speeds,
  compareModes,
  pack,
  hybridPreset,
  onHybridPreset,
}: Props) {
  const modes = modesFor(pack)
  const selected = modes.find((m) => m.mode === mode)
  const presets = hybridPresetsOf(pack)
  const showPresets = presets.length > 0 && singleModesOf(mode, compareModes).includes('hybrid')
  const unit = stepUnitsOf(pack).unit
  return (
    <div role="radiogroup" aria-labelledby="steps-label" className="flex flex-col gap-1">
      <span id="steps-label" className={`${fieldLabel} mb-1`}>
        Steps
      </span>
      <div className="grid grid-cols-2 gap-1.5">
        {modes.map((m) => {
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
      {showPresets && (
        <HybridPresets
          presets={presets}
          chosen={hybridPreset}
          onChoose={onHybridPreset}
          speed={speeds?.find((s) => s.mode === 'hybrid') ?? null}
          pack={pack}
        />
      )}
      {/* Hidden from screen readers: each radio already describes itself with the same trade-off. */}
      {selected && (
        <p className={hint} aria-hidden="true">
          {selected.tradeOff} {steps} model {steps === 1 ? 'step' : 'steps'} per run
          {unit === 'scale' && mode === 'ar' ? ` (${countOf(steps, 'scale')})` : ''}. Times are per image,
          measured on this machine.
        </p>
      )}
    </div>
  )
}

/**
 * The pack's published hybrid schedules as a radio group ("3 steps", "4 steps", "6 steps"). None is checked when
 * the Advanced range is the user's own; the hint says so. A measured hybrid time is shown on the schedule it was
 * measured with.
 */
function HybridPresets({
  presets,
  chosen,
  onChoose,
  speed,
  pack,
}: {
  presets: HybridPreset[]
  chosen: HybridPreset | null
  onChoose(preset: HybridPreset): void
  speed: ModeSpeed | null
  pack: PackSummary | null
}) {
  const units = stepUnitsOf(pack)
  return (
    <div
      role="radiogroup"
      aria-labelledby="hybrid-presets-label"
      aria-describedby="hybrid-presets-hint"
      data-testid="hybrid-presets"
      className="mt-2 flex flex-col gap-1"
    >
      <span id="hybrid-presets-label" className={fieldLabel}>
        Hybrid schedule
      </span>
      <div className="flex gap-1.5">
        {presets.map((p) => {
          const id = `hybrid-preset-${p.steps}`
          const checked =
            chosen !== null && chosen.start === p.start && chosen.end === p.end && chosen.splitT === p.splitT
          const measured = speed && speed.steps === p.steps ? speed : null
          return (
            <label
              key={id}
              htmlFor={id}
              title={describePreset(p, units)}
              className={`flex flex-1 cursor-pointer flex-col rounded-lg border px-2 py-1 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500/50 ${
                checked
                  ? 'border-indigo-500 bg-indigo-50 dark:border-indigo-400 dark:bg-indigo-950/50'
                  : 'border-zinc-200 hover:bg-zinc-50 dark:border-zinc-800 dark:hover:bg-zinc-800/60'
              }`}
            >
              <span className="flex items-center gap-1.5">
                <input
                  type="radio"
                  name="hybrid-preset"
                  id={id}
                  data-testid={id}
                  checked={checked}
                  onChange={() => onChoose(p)}
                  aria-describedby={`${id}-speed`}
                  className="accent-indigo-600"
                />
                <span className="font-medium leading-tight">{p.steps} steps</span>
              </span>
              <span
                id={`${id}-speed`}
                data-testid="hybrid-preset-speed"
                className={`block text-[11px] leading-tight ${measured ? 'font-mono text-zinc-700 dark:text-zinc-300' : 'text-zinc-600 italic dark:text-zinc-400'}`}
              >
                {speedText(measured?.msPerImage ?? null)}
              </span>
            </label>
          )
        })}
      </div>
      <p id="hybrid-presets-hint" data-testid="hybrid-presets-hint" className={hint}>
        {chosen
          ? describePreset(chosen, units)
          : 'Your own range (Advanced, Hybrid); pick a schedule to use a published one.'}
      </p>
    </div>
  )
}
