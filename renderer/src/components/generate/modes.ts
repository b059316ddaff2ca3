/**
 * How each generation mode is named and explained in the UI, fastest first, and what each one reads. The words
 * follow the pack's steps: a VAR pack's teacher takes 10 scales, a LlamaGen pack's one token at a time.
 */
import {
  type GenerationMode,
  type HybridPreset,
  type ModeSpeed,
  modelSteps,
  type PackSummary,
  SINGLE_MODES,
  type SingleMode,
  type StepUnits,
} from '../../../../common/generation.ts'
import { formatMs } from './ui.ts'

export interface ModeInfo {
  mode: GenerationMode
  label: string
  /** The trade-off in a few words, under the label. */
  short: string
  /** The trade-off, in plain words. */
  tradeOff: string
}

export const MODES: readonly ModeInfo[] = [
  { mode: '1step', short: 'fastest', label: '1 step', tradeOff: 'Fastest. One pass of the distilled model.' },
  {
    mode: '2step',
    short: 'very fast',
    label: '2 steps',
    tradeOff: 'Very fast, a little closer to the original.',
  },
  {
    mode: 'custom',
    short: 'your steps',
    label: 'Custom steps',
    tradeOff: 'Your own step list (Advanced): more steps, closer to the original.',
  },
  {
    mode: 'hybrid',
    short: 'slower, better',
    label: 'Hybrid',
    tradeOff: 'Original model for some tokens, distilled for the rest. Slower, better.',
  },
  {
    mode: 'ar',
    short: 'slowest, best',
    label: 'Original AR',
    tradeOff: 'The original model, one token at a time. Slowest, best.',
  },
  {
    mode: 'exact',
    short: 'slow, reference',
    label: 'Exact teacher',
    tradeOff: 'The original model driven by the same noise: what DD learned to copy. Slow.',
  },
  {
    mode: 'compare',
    short: 'modes side by side',
    label: 'Compare',
    tradeOff: 'Several modes on the same seed, side by side, with token agreement and where they differ.',
  },
]

/** What a pack's steps are; a pack that does not say counts tokens (64, the fallback of the form). */
export function stepUnitsOf(pack: PackSummary | null): StepUnits {
  return pack?.steps ?? { unit: 'token', count: pack?.tokens ?? 64 }
}

/** "1 scale", "10 scales", "64 tokens". */
export function countOf(count: number, unit: StepUnits['unit']): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`
}

/** The modes as this pack presents them: MODES, with the teacher's steps in the pack's units. */
export function modesFor(pack: PackSummary | null): readonly ModeInfo[] {
  const steps = stepUnitsOf(pack)
  const presets = hybridPresetsOf(pack)
  const choice =
    presets.length > 0 ? ` Published schedules: ${presets.map((p) => p.steps).join(', ')} steps.` : ''
  if (steps.unit === 'token')
    return choice
      ? MODES.map((m) => (m.mode === 'hybrid' ? { ...m, tradeOff: `${m.tradeOff}${choice}` } : m))
      : MODES
  const all = countOf(steps.count, 'scale')
  const words: Partial<Record<GenerationMode, Partial<ModeInfo>>> = {
    '1step': { tradeOff: `Fastest. One pass of the distilled model for all ${all}.` },
    custom: { tradeOff: 'Your own step list in scales (Advanced): more steps, closer to the original.' },
    hybrid: {
      tradeOff: `Original model for some scales, distilled for the rest. Slower, better.${choice}`,
    },
    ar: {
      short: `slowest, best · ${all}`,
      tradeOff: `The original model, one scale at a time (${all}). Slowest, best.`,
    },
    exact: {
      tradeOff: `The original model (${all}) driven by the same noise: what DD learned to copy. Slow.`,
    },
  }
  return MODES.map((m) => ({ ...m, ...words[m.mode] }))
}

/** The pack's published hybrid schedules, fewest steps first (none for most small packs). */
export function hybridPresetsOf(pack: PackSummary | null): HybridPreset[] {
  return pack?.defaults?.hybridPresets ?? []
}

/** The preset these hybrid settings are, if any: the same start, end and split_t. */
export function presetOf(
  presets: readonly HybridPreset[],
  hybrid: { start: number | null; end: number | null; splitT: number | null },
): HybridPreset | null {
  return (
    presets.find((p) => p.start === hybrid.start && p.end === hybrid.end && p.splitT === hybrid.splitT) ??
    null
  )
}

/**
 * The split_t the engine uses for a hybrid range a request gives without one (main/engine/plan.ts): the pack's
 * preset with that range, else the pack's own.
 */
export function defaultHybridSplitT(pack: PackSummary | null, start: number, end: number): number | null {
  const preset = hybridPresetsOf(pack).find((p) => p.start === start && p.end === end)
  return preset?.splitT ?? pack?.defaults?.splitT ?? null
}

/** A preset in words: "Distilled draft, the original model for 1 scale (from scale 4), then distilled." */
export function describePreset(preset: HybridPreset, steps: StepUnits): string {
  const teacher = `the original model for ${countOf(preset.end - preset.start, steps.unit)} (from ${steps.unit} ${preset.start})`
  const first =
    preset.start > 0 ? `Distilled draft, ${teacher}` : `${teacher[0]?.toUpperCase()}${teacher.slice(1)}`
  return `${first}${preset.end < steps.count ? ', then distilled for the rest' : ''}.`
}

/**
 * What a compare job runs unless the user picks otherwise: the two fast modes against the reference they were
 * distilled from (the engine's own default runs every mode, which is slow for a first look).
 */
export const UI_COMPARE_MODES: readonly SingleMode[] = ['1step', '2step', 'exact']

/** The higher-quality modes a 1-step draft can be re-run in, on the same noise. */
export const PROMOTE_MODES: readonly SingleMode[] = ['2step', 'hybrid', 'exact']

/** The single modes a request runs: the chosen one, or a compare job's modes in the usual order. */
export function singleModesOf(mode: GenerationMode, compareModes: readonly SingleMode[]): SingleMode[] {
  return mode === 'compare' ? SINGLE_MODES.filter((m) => compareModes.includes(m)) : [mode]
}

/** Milliseconds per image on this machine for a mode: one measurement, or a compare job's sum. */
export function measuredMs(modes: readonly SingleMode[], speeds: readonly ModeSpeed[] | null): number | null {
  let sum = 0
  for (const mode of modes) {
    const speed = speeds?.find((s) => s.mode === mode)
    if (!speed) return null
    sum += speed.msPerImage
  }
  return modes.length > 0 ? sum : null
}

/** How a measured speed reads next to a mode: "3.8 ms", or that there is no measurement yet. */
export function speedText(ms: number | null): string {
  return ms === null ? 'not measured yet' : formatMs(ms)
}

/** Where a speed comes from, in words. */
export function speedSource(speed: ModeSpeed): string {
  return speed.source === 'bench'
    ? `benchmark on ${speed.provider}`
    : `median of your last ${speed.samples === 1 ? 'run' : `${speed.samples} runs`} on ${speed.provider}`
}

export function modeLabel(mode: string): string {
  return MODES.find((m) => m.mode === mode)?.label ?? mode
}

/** Model steps a mode takes with this pack's settings (what the progress bar counts); `steps`: the pack's. */
export function stepsFor(
  mode: SingleMode,
  steps: number,
  settings: { tList: number[]; hybrid: { start: number; end: number } },
  pack: PackSummary | null,
): number {
  return modelSteps(mode, steps, { ...settings, twoStepTList: pack?.defaults?.tLists['2step'] ?? [0, 1] })
}

/** Whether any of the modes samples the original model (and so reads its sampling settings). */
export function usesTeacher(modes: readonly SingleMode[]): boolean {
  return modes.some((m) => m === 'hybrid' || m === 'ar' || m === 'exact')
}

export function usesHybrid(modes: readonly SingleMode[]): boolean {
  return modes.includes('hybrid')
}
