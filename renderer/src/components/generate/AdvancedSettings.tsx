/**
 * The collapsible Advanced section: the second step of '2 steps' (t2), custom steps, the hybrid range with its
 * split_t and the original model's sampling (temperature, top-k, top-p, CFG scale). Steps are the pack's:
 * tokens, or scales for a VAR pack. Every group stays editable, but one the
 * chosen mode does not read is dimmed and says so, since its errors then do not stop a run. The values belong
 * to the pack they were set for (the panel keeps them); Reset restores that pack's defaults.
 */
import type { ReactNode } from 'react'
import type { StepUnits } from '../../../../common/generation.ts'
import type { FieldAria } from './fieldAria.ts'
import type { AdvancedValues, FieldName } from './formModel.ts'
import { NumberField } from './NumberField.tsx'

interface Props {
  open: boolean
  onOpenChange(open: boolean): void
  /** The fields the chosen mode reads (formModel.ts usedFields). */
  used: ReadonlySet<FieldName>
  values: AdvancedValues
  onChange(name: keyof AdvancedValues, value: string): void
  onReset(): void
  errors: Partial<Record<FieldName, string>>
  fieldAria(name: FieldName): FieldAria
  /** The pack's steps (tokens or scales) and their count: the bound for step and hybrid positions. */
  steps: StepUnits
}

export function AdvancedSettings({
  open,
  onOpenChange,
  used,
  values,
  onChange,
  onReset,
  errors,
  fieldAria,
  steps,
}: Props) {
  const { unit, count } = steps
  // What every NumberField here takes from its name alone.
  const field = (name: keyof AdvancedValues) => ({
    name,
    value: values[name],
    onChange: (value: string) => onChange(name, value),
    error: errors[name],
    aria: fieldAria(name),
  })
  return (
    <details
      data-testid="advanced"
      open={open}
      onToggle={(e) => onOpenChange(e.currentTarget.open)}
      className="rounded-lg border border-zinc-200 dark:border-zinc-800"
    >
      <summary className="cursor-pointer rounded-lg px-3 py-2 text-xs font-medium text-zinc-700 hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-300 dark:hover:bg-zinc-800/60">
        Advanced
      </summary>
      <div className="flex flex-col gap-4 px-3 pt-1 pb-3">
        <AdvancedGroup title="2 steps" active={used.has('t2')}>
          <NumberField
            {...field('t2')}
            label={`Second step at ${unit} (t2)`}
            help={`The second pass keeps the first t2 ${unit}s and redraws the rest; 1 to ${count - 1}.`}
            min={1}
            max={count - 1}
          />
        </AdvancedGroup>
        <AdvancedGroup title="Custom steps" active={used.has('tList')}>
          <NumberField
            {...field('tList')}
            label="Steps (t_list)"
            help={`${unit === 'scale' ? 'Scales' : 'Token positions'} where the distilled model runs, from 0, below ${count}.`}
            text
          />
        </AdvancedGroup>
        <AdvancedGroup title="Hybrid" active={used.has('hybridStart')}>
          <div className="grid grid-cols-2 gap-2">
            <NumberField {...field('hybridStart')} label={`Original from ${unit}`} min={0} max={count - 1} />
            <NumberField {...field('hybridEnd')} label={`to ${unit}`} min={1} max={count} />
            {/* Where the distilled passes turn from codes to continuous values; a published schedule sets its own. */}
            <NumberField {...field('hybridSplitT')} label="Distilled split_t" min={0} max={count} />
          </div>
        </AdvancedGroup>
        <AdvancedGroup title="Original model sampling" active={used.has('temperature')}>
          <div className="grid grid-cols-2 gap-2">
            <NumberField {...field('temperature')} label="Temperature" min={0} max={10} step={0.05} />
            <NumberField {...field('topK')} label="Top-k" min={1} />
            <NumberField {...field('topP')} label="Top-p" min={0} max={1} step={0.05} />
            <NumberField {...field('cfgScale')} label="CFG scale" min={0} max={50} step={0.5} />
          </div>
        </AdvancedGroup>
        <button
          type="button"
          onClick={onReset}
          className="self-start rounded-md px-2 py-1 text-xs text-indigo-700 hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300 dark:hover:bg-indigo-950"
        >
          Reset to the pack’s defaults
        </button>
      </div>
    </details>
  )
}

/** A group of settings, dimmed and marked when the chosen mode does not read it. */
function AdvancedGroup({ title, active, children }: { title: string; active: boolean; children: ReactNode }) {
  return (
    <fieldset className={active ? '' : 'opacity-60'}>
      <legend className="mb-1 text-[11px] font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400">
        {title}
        {!active && (
          <span className="ml-1 font-normal normal-case tracking-normal">(not used by this mode)</span>
        )}
      </legend>
      {children}
    </fieldset>
  )
}
