/**
 * Planning a generation request against the committed default pack: the pack's defaults, class lookup, and every
 * pack-dependent refusal (invalid_input naming the field). The zod-level ranges are checked through the same
 * dispatcher every transport uses.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_COMPARE_MODES, type GenerateRequest, MAX_SEED } from '../../common/generation.ts'
import { AppError } from '../../common/result.ts'
import { classesOf, PackManifestSchema } from '../../main/engine/packs/manifest.ts'
import { type GenerationPlan, planGeneration } from '../../main/engine/plan.ts'
import { createDispatcher, type Handlers } from '../../main/ipc/dispatcher.ts'
import { COMMITTED_PACKS_DIR } from '../support/packs.ts'

const manifest = PackManifestSchema.parse(
  JSON.parse(fs.readFileSync(path.join(COMMITTED_PACKS_DIR, 'emoji32', 'manifest.json'), 'utf8')),
)
const HASH = 'a'.repeat(64)

function plan(request: GenerateRequest): GenerationPlan {
  return planGeneration(request, manifest, HASH)
}

/** The request is refused with invalid_input, and the message starts with the field's name. */
function expectInvalid(request: GenerateRequest, field: string): string {
  let caught: unknown = null
  try {
    plan(request)
  } catch (err) {
    caught = err
  }
  expect(caught, JSON.stringify(request)).toBeInstanceOf(AppError)
  const err = caught as AppError
  expect(err.code, err.message).toBe('invalid_input')
  expect(err.message.startsWith(`${field}: `), err.message).toBe(true)
  return err.message
}

describe('the committed pack (what these tests assume of it)', () => {
  it('is emoji32: 36 classes, 64 tokens, a 512-entry codebook', () => {
    expect(manifest.id).toBe('emoji32')
    expect(classesOf(manifest)).toHaveLength(36)
    expect(manifest.tokens.count).toBe(64)
    expect(manifest.tokens.codebookSize).toBe(512)
  })
})

describe('planGeneration: defaults from the pack', () => {
  it('fills every setting the request leaves out from the pack', () => {
    const p = plan({ mode: '2step', class: 0, seed: 42 })
    expect(p).toMatchObject({
      packId: 'emoji32',
      packVersion: manifest.version,
      packHash: HASH,
      mode: '2step',
      family: 'llamagen',
      steps: { unit: 'token', count: 64 },
      cfgSchedule: 'constant',
      modes: ['2step'],
      classIndex: 0,
      className: 'fluent-flat / Smileys & Emotion',
      seed: 42,
      n: 1,
      tList: manifest.sampling.tLists['2step'],
      twoStepTList: manifest.sampling.tLists['2step'],
      splitT: manifest.sampling.splitT,
      hybrid: manifest.sampling.hybrid,
      teacher: manifest.sampling.teacher,
    })
    expect(manifest.sampling.tLists['2step']).toEqual([0, 32])
  })

  it('1step always runs [0]; compare runs the default modes; a missing seed is drawn at random', () => {
    expect(plan({ mode: '1step', class: 0 }).tList).toEqual([0])
    expect(plan({ mode: '1step', class: 0, tList: [0] }).tList).toEqual([0])
    expect(plan({ mode: 'compare', class: 0 }).modes).toEqual([...DEFAULT_COMPARE_MODES])
    const seeds = new Set(Array.from({ length: 8 }, () => plan({ mode: 'ar', class: 0 }).seed))
    for (const seed of seeds) {
      expect(Number.isInteger(seed)).toBe(true)
      expect(seed).toBeGreaterThanOrEqual(0)
      expect(seed).toBeLessThanOrEqual(MAX_SEED)
    }
    expect(seeds.size).toBeGreaterThan(1)
  })

  it('takes what the request gives over the pack', () => {
    const p = plan({
      mode: 'hybrid',
      class: 3,
      seed: 0,
      n: 64,
      hybrid: { start: 0, end: 63 },
      teacher: { cfgScale: 0, temperature: 0.5, topK: 512, topP: 0.9 },
    })
    expect(p).toMatchObject({
      n: 64,
      hybrid: { start: 0, end: 63 },
      teacher: { cfgScale: 0, temperature: 0.5, topK: 512, topP: 0.9 },
    })
    // One side of the hybrid range alone keeps the other from the pack; split_t is the pack's (no presets).
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { end: 20 } }).hybrid).toEqual({
      start: 8,
      end: 20,
      splitT: 64,
    })
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { start: 2 } }).hybrid).toEqual({
      start: 2,
      end: 32,
      splitT: 64,
    })
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { splitT: 40 } }).hybrid).toEqual({
      start: 8,
      end: 32,
      splitT: 40,
    })
  })

  it('a field sent as undefined (structured clone keeps it) does not hide the default', () => {
    const p = plan({ mode: 'hybrid', class: 0, hybrid: { start: undefined, end: 20, splitT: undefined } })
    expect(p.hybrid).toEqual({ start: 8, end: 20, splitT: 64 })
    const q = plan({ mode: 'ar', class: 0, teacher: { temperature: undefined, topK: 10 } })
    expect(q.teacher).toEqual({ ...manifest.sampling.teacher, topK: 10 })
  })

  it("custom runs its own tList; in a compare job '2step' keeps the pack's", () => {
    expect(plan({ mode: 'custom', class: 0, tList: [0, 16, 40] }).tList).toEqual([0, 16, 40])
    const compare = plan({
      mode: 'compare',
      class: 0,
      compareModes: ['2step', 'custom'],
      tList: [0, 16, 40],
    })
    expect(compare.tList).toEqual([0, 16, 40])
    expect(compare.twoStepTList).toEqual([0, 32])
    // A 2-step job may move its second step.
    expect(plan({ mode: '2step', class: 0, tList: [0, 20] }).twoStepTList).toEqual([0, 20])
  })
})

describe('planGeneration: classes', () => {
  it('by index', () => {
    expect(plan({ mode: '1step', class: 0 })).toMatchObject({
      classIndex: 0,
      className: 'fluent-flat / Smileys & Emotion',
    })
    expect(plan({ mode: '1step', class: 35 })).toMatchObject({ classIndex: 35, className: 'twemoji / Flags' })
  })

  it('by full name, in any case', () => {
    expect(plan({ mode: '1step', class: 'noto / Flags' }).classIndex).toBe(26)
    expect(plan({ mode: '1step', class: 'NOTO / flags' }).classIndex).toBe(26)
  })

  it('by a unique part of a name', () => {
    expect(plan({ mode: '1step', class: 'fluent-3d / sym' })).toMatchObject({
      classIndex: 16,
      className: 'fluent-3d / Symbols',
    })
    expect(plan({ mode: '1step', class: 'twemoji / food' }).classIndex).toBe(30)
  })

  it('refuses an unknown index or name, naming the class field', () => {
    expect(expectInvalid({ mode: '1step', class: 36 }, 'class')).toContain('36')
    expect(expectInvalid({ mode: '1step', class: 1000 }, 'class')).toContain('0..35')
    expect(expectInvalid({ mode: '1step', class: 'unicorn' }, 'class')).toContain("'unicorn'")
  })

  it('refuses an ambiguous name and lists some of the candidates', () => {
    const message = expectInvalid({ mode: '1step', class: 'Flags' }, 'class')
    expect(message).toContain('matches 4 classes')
    expect(message).toContain("'noto / Flags'")
    expect(expectInvalid({ mode: '1step', class: 'noto' }, 'class')).toContain('matches 9 classes')
  })
})

describe('planGeneration: refusals that depend on the pack', () => {
  it('tList must increase strictly', () => {
    expectInvalid({ mode: 'custom', class: 0, tList: [0, 30, 20] }, 'tList')
    expectInvalid({ mode: 'custom', class: 0, tList: [0, 20, 20] }, 'tList')
  })

  it('tList must start at 0', () => {
    expect(expectInvalid({ mode: 'custom', class: 0, tList: [5, 20] }, 'tList')).toContain('start at 0')
  })

  it('tList must stay below the token count', () => {
    expect(expectInvalid({ mode: 'custom', class: 0, tList: [0, 64] }, 'tList')).toContain('0..63')
    expectInvalid({ mode: 'custom', class: 0, tList: [0, 10, 1000] }, 'tList')
    // Also when the mode does not use it, rather than silently ignoring a bad value.
    expectInvalid({ mode: 'ar', class: 0, tList: [0, 99] }, 'tList')
  })

  it("'custom' needs a tList, also inside a compare job", () => {
    expect(expectInvalid({ mode: 'custom', class: 0 }, 'tList')).toContain("mode 'custom'")
    expectInvalid({ mode: 'compare', class: 0, compareModes: ['1step', 'custom'] }, 'tList')
  })

  it('1step and 2step take one and two steps', () => {
    expectInvalid({ mode: '1step', class: 0, tList: [0, 32] }, 'tList')
    expectInvalid({ mode: '2step', class: 0, tList: [0, 16, 32] }, 'tList')
    expectInvalid({ mode: '2step', class: 0, tList: [0] }, 'tList')
  })

  it('hybrid.end must be above hybrid.start and at most the token count; split_t at most the token count', () => {
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 20, end: 10 } }, 'hybrid.end')
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 20, end: 20 } }, 'hybrid.end')
    // Against the pack's start (8).
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { end: 5 } }, 'hybrid.end')
    expect(
      expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 0, end: 65 } }, 'hybrid.end'),
    ).toContain("at most 64 (the pack's 64 tokens)")
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { start: 64, end: 65 } }, 'hybrid.start')
    expectInvalid({ mode: 'hybrid', class: 0, hybrid: { splitT: 65 } }, 'hybrid.splitT')
    // The teacher may run to the end (no DD after it).
    expect(plan({ mode: 'hybrid', class: 0, hybrid: { start: 0, end: 64 } }).hybrid.end).toBe(64)
  })

  it('teacher.topK must not exceed the codebook size', () => {
    expect(expectInvalid({ mode: 'ar', class: 0, teacher: { topK: 513 } }, 'teacher.topK')).toContain(
      '1..512',
    )
    expect(plan({ mode: 'ar', class: 0, teacher: { topK: 512 } }).teacher.topK).toBe(512)
  })

  it('compareModes must not list a mode twice', () => {
    expectInvalid({ mode: 'compare', class: 0, compareModes: ['1step', '1step'] }, 'compareModes')
  })
})

describe('jobs.submit through the dispatcher: the ranges zod checks, then the plan', () => {
  // Only jobs.submit is reached in these tests; it answers with the plan (as the job service plans at submit).
  const dispatch = createDispatcher({
    'jobs.submit': (request: GenerateRequest) => plan(request),
  } as unknown as Handlers)

  async function submit(input: unknown) {
    return dispatch('jobs.submit', input, { transport: 'memory' })
  }

  async function expectRefused(input: unknown, field: string): Promise<void> {
    const result = await submit(input)
    expect(result.ok, JSON.stringify(input)).toBe(false)
    if (result.ok) return
    expect(result.error.code, result.error.message).toBe('invalid_input')
    expect(result.error.message, JSON.stringify(input)).toContain(field)
  }

  const base = { mode: '1step', class: 0 } as const

  it('accepts the edges of every range', async () => {
    for (const input of [
      { ...base, seed: 0, n: 1 },
      { ...base, seed: MAX_SEED, n: 64 },
      { ...base, mode: 'ar', teacher: { temperature: 0.01, topK: 1, cfgScale: 0, topP: 1 } },
    ]) {
      const result = await submit(input)
      expect(result.ok, JSON.stringify(result)).toBe(true)
    }
  })

  it('seed: 0 .. 2^32-1, an integer', async () => {
    await expectRefused({ ...base, seed: -1 }, 'input.seed')
    await expectRefused({ ...base, seed: MAX_SEED + 1 }, 'input.seed')
    await expectRefused({ ...base, seed: 1.5 }, 'input.seed')
  })

  it('n: 1 .. 64', async () => {
    await expectRefused({ ...base, n: 0 }, 'input.n')
    await expectRefused({ ...base, n: 65 }, 'input.n')
  })

  it('teacher: temperature > 0, topK >= 1, cfgScale >= 0, topP <= 1', async () => {
    await expectRefused({ ...base, teacher: { temperature: 0 } }, 'input.teacher.temperature')
    await expectRefused({ ...base, teacher: { temperature: -1 } }, 'input.teacher.temperature')
    await expectRefused({ ...base, teacher: { topK: 0 } }, 'input.teacher.topK')
    await expectRefused({ ...base, teacher: { cfgScale: -0.5 } }, 'input.teacher.cfgScale')
    await expectRefused({ ...base, teacher: { topP: 1.5 } }, 'input.teacher.topP')
    await expectRefused({ ...base, teacher: { topP: 0 } }, 'input.teacher.topP')
  })

  it('the pack-dependent refusals arrive as invalid_input too, naming the field', async () => {
    await expectRefused({ ...base, class: 'unicorn' }, 'class')
    await expectRefused({ ...base, mode: 'custom', tList: [0, 2, 1] }, 'tList')
    await expectRefused({ ...base, mode: 'ar', teacher: { topK: 10_000 } }, 'teacher.topK')
    await expectRefused({ ...base, mode: 'hybrid', hybrid: { start: 10, end: 9 } }, 'hybrid.end')
  })
})
