/**
 * The manifest's cross-field rules (main/engine/packs/manifest.ts familyProblems): what a family needs, and the
 * sampling defaults and hybrid presets against the pack's steps. Built from the committed default pack's manifest.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CheckedPackManifestSchema, type PackManifest } from '../../main/engine/packs/manifest.ts'
import { textPackDir } from '../support/packs.ts'

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

describe('manifest rules of text packs (revision 1.3)', () => {
  const text = JSON.parse(fs.readFileSync(path.join(textPackDir(), 'manifest.json'), 'utf8')) as PackManifest
  if (text.conditioning.kind !== 'text') throw new Error(`${textPackDir()} is not a text pack`)
  const conditioning = text.conditioning
  const T = conditioning.maxTokens
  const { textEncoder, teacherPrefill, generator, teacherStep } = text.graphs
  if (!textEncoder || !teacherPrefill || !teacherStep) throw new Error('the text pack lacks a text graph')
  const width = generator.inputs.cond?.shape[2] as number
  const withGraphs = (graphs: Partial<PackManifest['graphs']>) => ({
    ...text,
    graphs: { ...text.graphs, ...graphs },
  })
  const cond = (shape: (number | string)[]) => ({ dtype: 'float32' as const, shape })

  it('accepts the text pack, and a class pack keeps its shape', () => {
    expect(problems(text)).toEqual([])
    expect(problems({ ...base, conditioning: { ...base.conditioning, kind: 'text' } })).not.toEqual([])
  })

  it('names the text graphs a text pack lacks, and the ones a class pack must not have', () => {
    const { textEncoder: _e, teacherPrefill: _p, ...graphs } = text.graphs
    expect(problems({ ...text, graphs })).toEqual([
      'graphs.textEncoder: is required for a text pack',
      'graphs.teacherPrefill: is required for a text pack with a teacherStep',
    ])
    expect(problems({ ...base, graphs: { ...base.graphs, textEncoder } })).toEqual([
      "graphs.textEncoder: belongs to text packs (conditioning.kind 'text')",
    ])
    expect(problems({ ...text, family: 'var', tokens: { ...text.tokens, scales: [8] } })).toContain(
      "conditioning.kind: text packs are family 'llamagen' only",
    )
  })

  it('checks the tokenizer file, the cond shapes against maxTokens and the class inputs', () => {
    const { [conditioning.tokenizer.file]: _t, ...files } = text.files
    expect(problems({ ...text, files })).toEqual([
      `conditioning.tokenizer.file: '${conditioning.tokenizer.file}' has no entry in files`,
    ])
    const shorter = withGraphs({
      generator: { ...generator, inputs: { ...generator.inputs, cond: cond(['batch', T - 1, width]) } },
    })
    expect(problems(shorter)).toEqual([
      `graphs.generator.inputs.cond.shape: must be [batch, ${T}, width] (T = conditioning.maxTokens, width a number), not [batch, ${T - 1}, ${width}]`,
    ])
    const wider = withGraphs({
      teacherPrefill: { ...teacherPrefill, inputs: { cond: cond(['batch', T, width + 1]) } },
    })
    expect(problems(wider)).toEqual([
      `graphs: the cond tensors disagree on their width (${width}, ${width + 1})`,
    ])
    const ids = withGraphs({
      textEncoder: { ...textEncoder, inputs: { prompt_ids: { dtype: 'int64', shape: ['batch', T + 1] } } },
    })
    expect(problems(ids)).toEqual([
      `graphs.textEncoder.inputs.prompt_ids: must be int64 [batch, ${T}] (T = conditioning.maxTokens)`,
    ])
    const classIds = { dtype: 'int64' as const, shape: ['batch'] }
    expect(
      problems(
        withGraphs({
          teacherStep: { ...teacherStep, inputs: { ...teacherStep.inputs, class_ids: classIds } },
        }),
      ),
    ).toEqual([
      'graphs.teacherStep.inputs.class_ids: belongs to class packs; a text pack is conditioned through cond',
    ])
    expect(
      problems(withGraphs({ teacherPrefill: { ...teacherPrefill, heads: teacherStep.heads + 1 } })),
    ).toEqual([
      `graphs.teacherPrefill.heads: is ${teacherStep.heads + 1}, but the teacherStep's cache has ${teacherStep.heads}`,
    ])
  })

  it('bounds the example prompts and maxTokens', () => {
    const many = Array.from({ length: 501 }, (_, i) => `prompt ${i}`)
    expect(problems({ ...text, conditioning: { ...conditioning, examplePrompts: many } })).toEqual([
      'conditioning.examplePrompts: Too big: expected array to have <=500 items',
    ])
    expect(problems({ ...text, conditioning: { ...conditioning, maxTokens: 1 } })).toContain(
      'conditioning.maxTokens: Too small: expected number to be >=2',
    )
  })
})
