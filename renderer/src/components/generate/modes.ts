/** How each generation mode is named and explained in the UI, fastest first, and what each one reads. */
import {
  type GenerationMode,
  type ModeSpeed,
  modelSteps,
  type PackSummary,
  SINGLE_MODES,
  type SingleMode,
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

/** Model steps a mode takes with this pack's settings (what the progress bar counts). */
export function stepsFor(
  mode: SingleMode,
  tokens: number,
  settings: { tList: number[]; hybrid: { start: number; end: number } },
  pack: PackSummary | null,
): number {
  return modelSteps(mode, tokens, { ...settings, twoStepTList: pack?.defaults?.tLists['2step'] ?? [0, 1] })
}

/** Whether any of the modes samples the original model (and so reads its sampling settings). */
export function usesTeacher(modes: readonly SingleMode[]): boolean {
  return modes.some((m) => m === 'hybrid' || m === 'ar' || m === 'exact')
}

export function usesHybrid(modes: readonly SingleMode[]): boolean {
  return modes.includes('hybrid')
}
