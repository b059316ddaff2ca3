/**
 * Image metadata of VAR packs and hybrid presets: the hybrid's split_t and the pack's steps (scales) survive the
 * round trips a gallery PNG goes through (dd-studio JSON -> request, and the A1111 text -> request), and Steps
 * counts scales.
 */
import { describe, expect, it } from 'vitest'
import { GenerateRequestSchema } from '../../common/generation.ts'
import {
  type DdStudioMetadata,
  formatParameters,
  parseMetadata,
  parseParameters,
  settingsFromA1111,
  settingsFromMetadata,
} from '../../common/parameters.ts'

function varMetadata(overrides: Partial<DdStudioMetadata> = {}): DdStudioMetadata {
  return {
    app: 'DD Studio',
    appVersion: '0.1.0',
    pack: { id: 'var-d16', version: '1.0.0', manifestSha256: 'f'.repeat(64) },
    mode: 'hybrid',
    class: { index: 207, name: 'golden retriever' },
    seed: 9,
    tList: [0, 6],
    splitT: 9,
    hybrid: { start: 3, end: 5, splitT: 8 },
    steps: { unit: 'scale', count: 10 },
    cfgSchedule: 'linear-scale',
    teacher: { cfgScale: 4, temperature: 1, topK: 900, topP: 0.95 },
    ...overrides,
  }
}

describe('VAR metadata', () => {
  it("keeps the hybrid's split_t, the steps and the guidance schedule when read back", () => {
    const parsed = parseMetadata(JSON.stringify(varMetadata()))
    expect(parsed.hybrid).toEqual({ start: 3, end: 5, splitT: 8 })
    expect(parsed.steps).toEqual({ unit: 'scale', count: 10 })
    expect(parsed.cfgSchedule).toBe('linear-scale')
    const request = settingsFromMetadata(parsed)
    expect(request.hybrid).toEqual({ start: 3, end: 5, splitT: 8 })
    expect(GenerateRequestSchema.safeParse(request).success).toBe(true)
  })

  it('metadata from before hybrid presets (no split_t, no steps) still reads, without a split_t', () => {
    const { steps: _s, cfgSchedule: _c, ...older } = varMetadata({ hybrid: { start: 4, end: 12 } })
    expect(settingsFromMetadata(older).hybrid).toEqual({ start: 4, end: 12 })
  })

  it('Steps counts scales: 10 for the teacher modes from the metadata alone, a preset its own passes', () => {
    const steps = (m: DdStudioMetadata) => parseParameters(formatParameters(m)).settings.Steps
    expect(steps(varMetadata({ mode: 'ar' }))).toBe('10')
    expect(steps(varMetadata({ mode: 'exact' }))).toBe('10')
    expect(steps(varMetadata())).toBe('4')
    expect(steps(varMetadata({ hybrid: { start: 4, end: 5, splitT: 5 } }))).toBe('3')
    expect(steps(varMetadata({ hybrid: { start: 0, end: 5, splitT: 9 } }))).toBe('6')
    expect(steps(varMetadata({ hybrid: { start: 0, end: 10, splitT: 9 } }))).toBe('10')
  })

  it('the A1111 text carries the hybrid split_t back into a request', () => {
    const text = formatParameters(varMetadata(), { width: 256, height: 256 })
    const parsed = parseParameters(text)
    expect(parsed.settings).toMatchObject({ Hybrid: '3-5', 'Hybrid split t': '8', 'Step unit': 'scale' })
    const settings = settingsFromA1111(parsed)
    expect(settings.problems).toEqual([])
    expect(settings.notApplicable).toEqual([])
    expect(settings.request).toMatchObject({
      mode: 'hybrid',
      class: 207,
      seed: 9,
      hybrid: { start: 3, end: 5, splitT: 8 },
    })
    expect(settings.request.hybrid).toEqual(settingsFromMetadata(varMetadata()).hybrid)
  })

  it('a damaged split_t is reported, the range still maps', () => {
    const text = formatParameters(varMetadata()).replace('Hybrid split t: 8', 'Hybrid split t: x')
    const settings = settingsFromA1111(parseParameters(text))
    expect(settings.problems).toEqual(['Hybrid split t: "x" is not a whole number'])
    expect(settings.request.hybrid).toEqual({ start: 3, end: 5 })
  })
})
