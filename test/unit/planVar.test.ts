/**
 * Planning against a VAR pack (family 'var', revision 1.2): steps are scales, so t_list, the hybrid schedule and
 * its presets count scales 0..9 and errors say so; the published hybrid presets and their step counts for both
 * families; the guidance schedule; the step geometry the engine uses. The VAR manifest is the committed pack's
 * made into VAR's shape (680 tokens in 10 scales) and checked with the app's own family rules.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type GenerateRequest, hybridSteps, modelSteps } from '../../common/generation.ts'
import { AppError } from '../../common/result.ts'
import type { PackRuntime } from '../../main/engine/packRuntime.ts'
import { CheckedPackManifestSchema, type PackManifest } from '../../main/engine/packs/manifest.ts'
import { planGeneration } from '../../main/engine/plan.ts'
import { guidanceAt } from '../../main/engine/sampling/samplers.ts'
import { shapeDistribution } from '../../main/engine/sampling/shaping.ts'
import { agreementWindow, stepOffsets, stepUnitsOf } from '../../main/engine/steps.ts'
import { COMMITTED_PACKS_DIR } from '../support/packs.ts'

const SCALES = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16]
/** VAR d16's published hybrid schedules (combine_sample.py). */
const VAR_PRESETS = [
  { steps: 3, start: 4, end: 5, splitT: 5 },
  { steps: 4, start: 3, end: 5, splitT: 8 },
  { steps: 6, start: 0, end: 5, splitT: 9 },
]
/** LlamaGen-L's published hybrid schedules. */
const LLAMAGEN_PRESETS = [
  { steps: 22, start: 60, end: 80, splitT: 180 },
  { steps: 42, start: 40, end: 80, splitT: 180 },
  { steps: 81, start: 0, end: 80, splitT: 220 },
]

const emoji: PackManifest = CheckedPackManifestSchema.parse(
  JSON.parse(fs.readFileSync(path.join(COMMITTED_PACKS_DIR, 'emoji32', 'manifest.json'), 'utf8')),
)

/** The committed pack made into VAR d16's shape; `changes` edits it before the app's checks run. */
function varManifest(changes: (raw: PackManifest) => void = () => {}): PackManifest {
  const raw = structuredClone(emoji)
  raw.id = 'var-d16-test'
  raw.family = 'var'
  raw.tokens = {
    grid: [16, 16],
    count: 680,
    codebookSize: 4096,
    codebookDim: 32,
    normalized: false,
    scales: SCALES,
  }
  raw.noise.shape = [680, 32]
  raw.codebook.shape = [4096, 32]
  raw.sampling = {
    splitT: 9,
    tLists: { '1step': [0], '2step': [0, 6] },
    hybrid: { start: 4, end: 5 },
    hybridPresets: VAR_PRESETS,
    teacher: { cfgScale: 4, cfgSchedule: 'linear-scale', temperature: 1, topK: 900, topP: 0.95 },
  }
  delete raw.graphs.teacherStep
  raw.graphs.teacherScale = {
    file: 'teacher_scale.onnx',
    inputs: {
      ids: { dtype: 'int64', shape: ['batch', 680] },
      scale: { dtype: 'int64', shape: [] },
      class_ids: { dtype: 'int64', shape: ['batch'] },
    },
    outputs: { logits: { dtype: 'float32', shape: ['batch', 'tokens', 4096] } },
  }
  changes(raw)
  return CheckedPackManifestSchema.parse(raw)
}

const VAR = varManifest()

function plan(request: GenerateRequest, manifest: PackManifest = VAR) {
  return planGeneration(request, manifest, 'h'.repeat(64))
}

function expectInvalid(request: GenerateRequest, field: string, manifest: PackManifest = VAR): string {
  let caught: unknown = null
  try {
    plan(request, manifest)
  } catch (err) {
    caught = err
  }
  expect(caught, JSON.stringify(request)).toBeInstanceOf(AppError)
  const err = caught as AppError
  expect(err.code).toBe('invalid_input')
  expect(err.message.startsWith(`${field}: `), err.message).toBe(true)
  return err.message
}

describe('the step geometry of a VAR pack', () => {
  it('10 scales, 680 tokens stored scale after scale; agreement maps the last 16x16 scale', () => {
    expect(stepUnitsOf(VAR)).toEqual({ unit: 'scale', count: 10 })
    expect(stepOffsets(VAR)).toEqual([0, 1, 5, 14, 30, 55, 91, 155, 255, 424, 680])
    expect(agreementWindow(VAR)).toEqual({ from: 424, length: 256 })
    expect(stepUnitsOf(emoji)).toEqual({ unit: 'token', count: 64 })
    expect(stepOffsets(emoji)).toHaveLength(65)
    expect(agreementWindow(emoji)).toEqual({ from: 0, length: 64 })
  })
})

describe('planGeneration on a VAR pack: steps are scales', () => {
  it("fills the pack's defaults, in scales, and records the family, steps and guidance schedule", () => {
    const p = plan({ mode: '2step', class: 3, seed: 1 })
    expect(p).toMatchObject({
      family: 'var',
      steps: { unit: 'scale', count: 10 },
      cfgSchedule: 'linear-scale',
      tList: [0, 6],
      twoStepTList: [0, 6],
      splitT: 9,
      // The default schedule is the 3-step preset, so it takes that preset's split_t.
      hybrid: { start: 4, end: 5, splitT: 5 },
      teacher: { cfgScale: 4, temperature: 1, topK: 900, topP: 0.95 },
    })
    expect(p.teacher).not.toHaveProperty('cfgSchedule')
  })

  it('t_list entries are scales 0..9; a token position is refused, naming the field and the unit', () => {
    expect(plan({ mode: 'custom', class: 0, tList: [0, 3, 9] }).tList).toEqual([0, 3, 9])
    const message = expectInvalid({ mode: 'custom', class: 0, tList: [0, 10] }, 'tList')
    expect(message).toBe("tList: 10 is outside 0..9 (the pack's 10 scales)")
    expectInvalid({ mode: '2step', class: 0, tList: [0, 256] }, 'tList')
    expectInvalid({ mode: 'custom', class: 0, tList: [1, 4] }, 'tList')
  })

  it('a hybrid preset chosen by start and end brings its split_t; one given explicitly wins', () => {
    for (const preset of VAR_PRESETS) {
      const p = plan({ mode: 'hybrid', class: 0, hybrid: { start: preset.start, end: preset.end } })
      expect(p.hybrid).toEqual({ start: preset.start, end: preset.end, splitT: preset.splitT })
      expect(modelSteps('hybrid', 10, p)).toBe(preset.steps)
    }
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { start: 4, end: 5, splitT: 7 } }).hybrid.splitT).toBe(7)
    // A schedule that is no preset takes the pack's split_t.
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { start: 2, end: 6 } }).hybrid).toEqual({
      start: 2,
      end: 6,
      splitT: 9,
    })
  })

  it('hybrid bounds are scales: start 0..9, end start+1..10, split_t 0..10', () => {
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { start: 0, end: 10 } }).hybrid.end).toBe(10)
    expect(expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 10, end: 11 } }, 'hybrid.start')).toBe(
      "hybrid.start: must be in 0..9 (the pack's 10 scales)",
    )
    expect(expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 0, end: 11 } }, 'hybrid.end')).toBe(
      "hybrid.end: must be greater than start (0) and at most 10 (the pack's 10 scales)",
    )
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 5, end: 5 } }, 'hybrid.end')
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 60, end: 80 } }, 'hybrid.start')
    expect(expectInvalid({ mode: 'hybrid', class: 0, hybrid: { splitT: 11 } }, 'hybrid.splitT')).toContain(
      '0..10',
    )
  })

  it('the teacher modes take 10 steps (scales); the DD modes their t_list', () => {
    const p = plan({ mode: 'compare', class: 0, compareModes: ['1step', '2step', 'hybrid', 'ar', 'exact'] })
    const steps = p.modes.map((m) => modelSteps(m, p.steps.count, p))
    expect(steps).toEqual([1, 2, 3, 10, 10])
  })

  it('a pack whose 2-step list is missing defaults to half the scales', () => {
    const manifest = varManifest((raw) => {
      raw.sampling.tLists = { '1step': [0] }
    })
    expect(plan({ mode: '2step', class: 0 }, manifest).tList).toEqual([0, 5])
  })
})

describe('hybrid step counts (combine_sample.py): DD at 0 unless start is 0, the teacher, DD at end unless last', () => {
  it('VAR d16: 3, 4 and 6 steps', () => {
    for (const p of VAR_PRESETS) expect(hybridSteps(p, 10), JSON.stringify(p)).toBe(p.steps)
  })

  it('LlamaGen-L: 22, 42 and 81 steps', () => {
    for (const p of LLAMAGEN_PRESETS) expect(hybridSteps(p, 256), JSON.stringify(p)).toBe(p.steps)
  })

  it('a teacher that runs to the last step has no DD after it', () => {
    expect(hybridSteps({ start: 0, end: 10 }, 10)).toBe(10)
    expect(hybridSteps({ start: 4, end: 10 }, 10)).toBe(7)
    expect(hybridSteps({ start: 8, end: 32 }, 64)).toBe(26)
  })

  it('a LlamaGen pack with presets plans them like VAR, in tokens', () => {
    const manifest = CheckedPackManifestSchema.parse({
      ...emoji,
      tokens: { ...emoji.tokens, grid: [16, 16], count: 256 },
      noise: { ...emoji.noise, shape: [256, 8] },
      sampling: {
        ...emoji.sampling,
        splitT: 200,
        hybrid: { start: 60, end: 80 },
        hybridPresets: LLAMAGEN_PRESETS,
      },
    })
    for (const preset of LLAMAGEN_PRESETS) {
      const p = plan({ mode: 'hybrid', class: 0, hybrid: { start: preset.start, end: preset.end } }, manifest)
      expect(p.hybrid.splitT).toBe(preset.splitT)
      expect(p.steps).toEqual({ unit: 'token', count: 256 })
      expect(modelSteps('hybrid', p.steps.count, p)).toBe(preset.steps)
    }
    expect(plan({ mode: 'ar', class: 0 }, manifest).cfgSchedule).toBe('constant')
  })
})

describe("guidance: 'linear-scale' (VAR) and 'constant'", () => {
  const runtime = (manifest: PackManifest) => ({ manifest }) as unknown as PackRuntime
  const sampling = { cfgScale: 4, temperature: 1, topK: 0, topP: 1 }

  it('ramps w = s k / (K - 1) over the scales, in the form c + w (c - u)', () => {
    const rt = runtime(VAR)
    expect(guidanceAt(rt, sampling, 0, 10)).toMatchObject({ cfgScale: 0, cfgForm: 'cond' })
    expect(guidanceAt(rt, sampling, 9, 10)).toMatchObject({ cfgScale: 4, cfgForm: 'cond' })
    expect(guidanceAt(rt, sampling, 3, 10).cfgScale).toBeCloseTo(4 / 3, 15)
  })

  it("'constant' (or absent) leaves the sampling as it is", () => {
    const rt = runtime(emoji)
    expect(guidanceAt(rt, sampling, 5, 64)).toBe(sampling)
  })

  it('c + w (c - u) against u + s (c - u): the same mix with s = 1 + w; w = 0 is the conditional alone', () => {
    const cond = Float32Array.from([2, 0.5, -1, 0])
    const uncond = Float32Array.from([1, 1, 0, -0.5])
    const plain = { temperature: 1, topK: 0, topP: 1 }
    const varForm = shapeDistribution(cond, uncond, { ...plain, cfgScale: 1.5, cfgForm: 'cond' })
    const constant = shapeDistribution(cond, uncond, { ...plain, cfgScale: 2.5 })
    for (let i = 0; i < 4; i++) expect(varForm[i]).toBeCloseTo(constant[i] as number, 14)
    // By hand: logits c + 1.5 (c - u) = [3.5, -0.25, -2.5, 0.75].
    const logits = [3.5, -0.25, -2.5, 0.75]
    const z = logits.reduce((sum, l) => sum + Math.exp(l), 0)
    for (let i = 0; i < 4; i++) expect(varForm[i]).toBeCloseTo(Math.exp(logits[i] as number) / z, 14)
    const condOnly = shapeDistribution(cond, uncond, { ...plain, cfgScale: 0, cfgForm: 'cond' })
    expect(Array.from(condOnly)).toEqual(Array.from(shapeDistribution(cond, null, { ...plain, cfgScale: 1 })))
  })
})
