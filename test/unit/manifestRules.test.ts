/**
 * The manifest's cross-field rules (main/engine/packs/manifest.ts familyProblems): what a family needs, and the
 * sampling defaults and hybrid presets against the pack's steps. Built from the committed default pack's manifest.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CheckedPackManifestSchema, type PackManifest } from '../../main/engine/packs/manifest.ts'

const base = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, '../../models/packs/emoji32/manifest.json'), 'utf8'),
) as PackManifest

const SCALES = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16]

/** The default pack's manifest turned into a VAR one (only the fields the rules read). */
function varManifest(): PackManifest {
  const m = structuredClone(base)
  const { teacherStep, ...graphs } = m.graphs
  return {
    ...m,
    family: 'var',
    tokens: { ...m.tokens, grid: [16, 16], count: 680, scales: SCALES },
    graphs: { ...graphs, teacherScale: { file: teacherStep?.file ?? 'x.onnx', inputs: {}, outputs: {} } },
    sampling: {
      ...m.sampling,
      splitT: 5,
      tLists: { '1step': [0], '2step': [0, 5] },
      hybrid: { start: 3, end: 5 },
      hybridPresets: [
        { steps: 3, start: 4, end: 5, splitT: 5 },
        { steps: 4, start: 3, end: 5, splitT: 8 },
        { steps: 6, start: 0, end: 5, splitT: 9 },
      ],
    },
  }
}

function problems(m: unknown): string[] {
  const parsed = CheckedPackManifestSchema.safeParse(m)
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('manifest family rules', () => {
  it('accepts the default pack and a VAR pack with the published presets', () => {
    expect(problems(base)).toEqual([])
    expect(problems(varManifest())).toEqual([])
  })

  it('names what a family lacks or must not have', () => {
    const { teacherStep: _, ...graphs } = base.graphs
    expect(problems({ ...base, graphs })).toEqual(["graphs.teacherStep: is required for family 'llamagen'"])
    const v = varManifest()
    expect(problems({ ...v, tokens: { ...v.tokens, scales: undefined } })).toEqual([
      "tokens.scales: is required for family 'var'",
    ])
    expect(problems({ ...v, tokens: { ...v.tokens, count: 679 } })).toContain(
      'tokens.scales: squares sum to 680, but tokens.count is 679',
    )
  })

  it('checks t lists, split_t and hybrid schedules against the steps, counted in scales for VAR', () => {
    const v = varManifest()
    expect(problems({ ...v, sampling: { ...v.sampling, tLists: { '2step': [0, 10] } } })).toEqual([
      'sampling.tLists.2step: must start at 0 and increase strictly below 10 (scales)',
    ])
    expect(problems({ ...v, sampling: { ...v.sampling, splitT: 11 } })).toEqual([
      "sampling.splitT: 11 is beyond the pack's 10 scales",
    ])
    const presets = [{ steps: 4, start: 4, end: 5, splitT: 5 }]
    expect(problems({ ...v, sampling: { ...v.sampling, hybridPresets: presets } })).toEqual([
      'sampling.hybridPresets.0.steps: is 4, but the schedule takes 3',
    ])
    const beyond = [{ steps: 2, start: 9, end: 11, splitT: 5 }]
    expect(problems({ ...v, sampling: { ...v.sampling, hybridPresets: beyond } })).toEqual([
      'sampling.hybridPresets.0: needs start < end <= 10 and splitT <= 10 (scales)',
    ])
  })
})
