/**
 * Packs made by the official-checkpoint converter (models/convert), from random weights saved in the official file
 * structure: they load and validate, their graphs reproduce PyTorch in onnxruntime-node, the engine's DD sampler
 * gives PyTorch's 1-step and 2-step ids for the same seeds, and (LlamaGen) every mode generates a 256 x 256 image.
 * A missing or outdated pack is built first with `python -m convert test-pack` (as `npm run models:testpacks` does).
 */
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SingleMode } from '../../common/generation.ts'
import { generate } from '../../main/engine/generate.ts'
import { decodePngRgb } from '../../main/engine/output/png.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import { classesOf, type PackManifest } from '../../main/engine/packs/manifest.ts'
import { planGeneration } from '../../main/engine/plan.ts'
import { sampleDD } from '../../main/engine/sampling/samplers.ts'
import { ensureTestPack, type TestPackFamily } from '../support/convertedPacks.ts'
import { cpuRuntimes, fixtureInput, maxAbsDiff, type Parity, readParity, toOrt } from '../support/parity.ts'

const { open, closeAll } = cpuRuntimes()
afterAll(closeAll)

/** Share of equal entries. */
function agreement(actual: ArrayLike<number | bigint>, expected: number[]): number {
  let same = 0
  for (let i = 0; i < expected.length; i++) if (Number(actual[i]) === expected[i]) same++
  return expected.length ? same / expected.length : 1
}

/**
 * How close a graph's output must be to PyTorch's. Float32 packs: the recorded tolerance, one level for pixels,
 * identical ids. Float16 packs: their fixtures use the float16-rounded weights in float32 arithmetic, which is
 * what the CPU provider does here; a CPU with float16 kernels (ARM) rounds activations too, so pixels may move by
 * the tolerance in [-1, 1] units and a rare argmax may flip.
 */
function limitsOf(parity: Parity, fp16: boolean) {
  return {
    float: parity.tolerance,
    pixels: fp16 ? Math.ceil(parity.tolerance * 127.5) : 1,
    idShare: fp16 ? 0.99 : 1,
  }
}

/** The checks every converted pack gets: it loads, its graphs match PyTorch, the DD sampler matches PyTorch. */
function packChecks(
  family: TestPackFamily,
  expected: { image: number; tokens: number; teacher: string },
  fp16 = false,
) {
  let dir = ''
  let manifest: PackManifest

  beforeAll(() => {
    const pack = ensureTestPack(family, fp16)
    dir = pack.dir
    if (pack.built) console.log(`${path.basename(dir)} built in ${pack.seconds.toFixed(1)} s: ${dir}`)
  }, 300_000)

  it('loads and validates: manifest schema, family rules and the sha256 of every file', async () => {
    const loaded = await loadPack(dir)
    expect(loaded.ok ? [] : loaded.problems).toEqual([])
    if (!loaded.ok) return
    manifest = loaded.manifest
    expect(manifest.family).toBe(family)
    expect(manifest.tokens.count).toBe(expected.tokens)
    expect([manifest.image.width, manifest.image.height]).toEqual([expected.image, expected.image])
    expect(Object.keys(manifest.graphs).sort()).toEqual(['decoder', 'generator', expected.teacher].sort())
    expect(classesOf(manifest)).toHaveLength(1000)
    expect(classesOf(manifest)[0]).toEqual({ index: 0, name: 'tench', synonyms: ['Tinca tinca'] })
    expect(manifest.sampling.hybridPresets?.length).toBe(3)
    expect((manifest.provenance.precision as { weights?: string } | undefined)?.weights).toBe(
      fp16 ? 'float16' : 'float32',
    )
  })

  it("reproduces PyTorch's outputs in onnxruntime-node within the recorded tolerance", async () => {
    const parity = readParity(dir)
    const limits = limitsOf(parity, fp16)
    for (const spec of Object.values(manifest.graphs)) {
      const key = spec.file.replace(/\.onnx$/, '')
      const fixture = parity[key]
      expect(fixture, `parity.json has no fixture for ${spec.file}`).toBeDefined()
      if (!fixture) continue
      const session = await ort.InferenceSession.create(path.join(dir, spec.file), {
        executionProviders: ['cpu'],
        logSeverityLevel: 3,
      })
      const feeds = Object.fromEntries(Object.entries(fixture.inputs).map(([k, v]) => [k, toOrt(v)]))
      const out = await session.run(feeds)
      for (const [name, want] of Object.entries(fixture.outputs)) {
        const got = out[name] as ort.Tensor
        const label = `${path.basename(dir)} ${key}.${name}`
        if (want.dtype === 'int64') {
          const share = agreement(got.data as BigInt64Array, want.data)
          console.log(`${label}: ${(100 * share).toFixed(2)}% of ids identical`)
          expect(share, label).toBeGreaterThanOrEqual(limits.idShare)
          continue
        }
        // uint8 images: a value sitting on .5 may round either way.
        const limit = want.dtype === 'uint8' ? limits.pixels : limits.float
        const diff = maxAbsDiff(got, want)
        console.log(`${label}: max abs diff ${diff} (limit ${limit})`)
        expect(diff, label).toBeLessThanOrEqual(limit)
      }
      await session.release()
    }
  })

  it("the engine's DD sampler gives PyTorch's 1-step and 2-step ids for the fixture seeds", async () => {
    const fixture = readParity(dir).sampling?.student
    expect(fixture, 'parity.json has sampling.student').toBeDefined()
    if (!fixture) return
    const rt = await open(dir)
    const input = await fixtureInput(rt, fixture)
    const split = rt.manifest.sampling.splitT
    const one = await sampleDD(rt, input, rt.manifest.sampling.tLists['1step'] ?? [0], split)
    const two = await sampleDD(rt, input, rt.manifest.sampling.tLists['2step'] ?? [], split)
    if (fp16) {
      const idShare = limitsOf(readParity(dir), fp16).idShare
      expect(agreement(one.ids, fixture.ids1step.flat())).toBeGreaterThanOrEqual(idShare)
      expect(agreement(two.ids, fixture.ids2step.flat())).toBeGreaterThanOrEqual(idShare)
    } else {
      expect(Array.from(one.ids)).toEqual(fixture.ids1step.flat())
      expect(Array.from(two.ids)).toEqual(fixture.ids2step.flat())
    }
  })

  return () => ({ dir, manifest })
}

describe('the converted LlamaGen-DD test pack', () => {
  const pack = packChecks('llamagen', { image: 256, tokens: 256, teacher: 'teacherStep' })

  // The teacher modes take 256 KV-cached steps; a small top-k keeps the exact teacher's flow map quick (the
  // pack's default is the official 8000).
  const modes: { mode: SingleMode; topK?: number }[] = [
    { mode: '1step' },
    { mode: '2step' },
    { mode: 'hybrid', topK: 64 },
    { mode: 'exact', topK: 64 },
    { mode: 'ar', topK: 64 },
  ]

  it.each(modes)('generates a 256 x 256 image in mode $mode', async ({ mode, topK }) => {
    const { dir } = pack()
    const rt = await open(dir)
    const request = { mode, class: 207, seed: 11, n: 1, ...(topK ? { teacher: { topK } } : {}) }
    const started = performance.now()
    const result = await generate(rt, planGeneration(request, rt.manifest, 'test-hash'), {
      appVersion: '0.0.0-test',
      jobId: `converted-${mode}`,
    })
    const ms = performance.now() - started
    const image = result.images[0]
    if (!image) throw new Error('no image')
    const { width, height, rgb } = decodePngRgb(image.png)
    expect([width, height]).toEqual([256, 256])
    expect(image.ids).toHaveLength(256)
    expect(image.ids.every((id) => id >= 0 && id < 16384)).toBe(true)
    expect(new Set(rgb).size).toBeGreaterThan(8) // a picture, not a constant fill
    const t = image.timings
    console.log(
      `llamagen-test ${mode}: ${ms.toFixed(0)} ms wall (tokens ${t.tokenMs.toFixed(0)} ms, decode ${t.decodeMs.toFixed(0)} ms, load ${result.loadMs.toFixed(0)} ms)`,
    )
  })
})

describe('the converted LlamaGen-DD test pack with float16 weights', () => {
  packChecks('llamagen', { image: 256, tokens: 256, teacher: 'teacherStep' }, true)
})

describe('the converted VAR-DD test pack', () => {
  packChecks('var', { image: 256, tokens: 680, teacher: 'teacherScale' })
})
