/** How each generation mode is named and explained in the UI, fastest first. */
import {
  type GenerationMode,
  modelSteps,
  type PackSummary,
  type SingleMode,
} from '../../../../common/generation.ts'

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
    short: 'all modes, side by side',
    label: 'Compare all',
    tradeOff: 'Every mode on the same seed, side by side, with token agreement. Slowest.',
  },
]

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

export function usesTeacher(mode: GenerationMode): boolean {
  return mode === 'hybrid' || mode === 'ar' || mode === 'exact' || mode === 'compare'
}

export function usesHybrid(mode: GenerationMode): boolean {
  return mode === 'hybrid' || mode === 'compare'
}
