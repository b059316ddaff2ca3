/**
 * The engine on real packs and real onnxruntime sessions (cpu): every mode, seeds that reproduce the Python
 * pipeline's tokens, determinism, batches, cancellation and the image metadata.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { GenerateRequest } from '../../common/generation.ts'
import { PARAMETERS_KEY, parseParameters, settingsFromMetadata } from '../../common/parameters.ts'
import { readPngTextChunks } from '../../common/pngText.ts'
import { AppError } from '../../common/result.ts'
import { generate, METADATA_KEY } from '../../main/engine/generate.ts'
import { decodePngRgb, readPngText } from '../../main/engine/output/png.ts'
import { openPackRuntime, type PackRuntime } from '../../main/engine/packRuntime.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import { planGeneration } from '../../main/engine/plan.ts'
import { exactChooser, sampleDD, sampleTeacher } from '../../main/engine/sampling/samplers.ts'
import { packDirsUnderTest, SMOKE_PACK_DIR } from '../support/packs.ts'
import {
  cpuRuntimes,
  type ExactTeacherFixture,
  fixtureInput,
  type StudentFixture,
  share,
} from '../support/parity.ts'

interface SamplingFixture {
  exactTeacher: ExactTeacherFixture
  student: StudentFixture
}

const { open, track, closeAll } = cpuRuntimes()
afterAll(closeAll)

function plan(rt: PackRuntime, request: GenerateRequest) {
  return planGeneration(request, rt.manifest, 'test-hash', rt.tokenizer)
}

/** A request's condition that any pack takes: class 0, or a text pack's empty prompt (the pack's defaults). */
function anyCondition(rt: PackRuntime): Pick<GenerateRequest, 'class' | 'prompt'> {
  return rt.manifest.conditioning.kind === 'text' ? { prompt: 'heart' } : { class: 0 }
}

describe.each(packDirsUnderTest())('the engine on %s', (dir) => {
  const fixtureOf = (): SamplingFixture | null =>
    (JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8')) as { sampling?: SamplingFixture })
      .sampling ?? null

  it("the exact teacher reproduces the pipeline's pairs (>= 99.9% of tokens identical)", async (ctx) => {
    const fixture = fixtureOf()
    if (!fixture) {
      console.warn(
        `${dir}: parity.json has no sampling fixtures (a pack exported before they existed); skipped`,
      )
      ctx.skip()
      return
    }
    const rt = await open(dir)
    const { tokens } = fixture.exactTeacher
    const input = await fixtureInput(rt, fixture.exactTeacher)
    const teacher = plan(rt, { mode: 'exact', ...anyCondition(rt) }).teacher
    const ids = await sampleTeacher(rt, input, teacher, exactChooser(rt, input.noise))
    const agreement = share(ids, tokens)
    console.log(
      `${path.basename(dir)}: exact teacher vs pairs: ${(100 * agreement).toFixed(3)}% of ${tokens.flat().length} tokens`,
    )
    expect(agreement).toBeGreaterThanOrEqual(0.999)
  })

  it("DD 1-step and 2-step give PyTorch's ids for the same seeds", async (ctx) => {
    const fixture = fixtureOf()
    if (!fixture) {
      console.warn(`${dir}: parity.json has no sampling fixtures; skipped`)
      ctx.skip()
      return
    }
    const rt = await open(dir)
    const { ids1step, ids2step } = fixture.student
    const input = await fixtureInput(rt, fixture.student)
    const split = rt.manifest.sampling.splitT
    const one = await sampleDD(rt, input, [0], split)
    const two = await sampleDD(rt, input, plan(rt, { mode: '2step', ...anyCondition(rt) }).tList, split)
    // An argmax between two nearly equal logits may flip between PyTorch and onnxruntime: allow a rare one.
    expect(share(one.ids, ids1step)).toBeGreaterThanOrEqual(0.995)
    expect(share(two.ids, ids2step)).toBeGreaterThanOrEqual(0.995)
  })
})

describe('generation jobs in the engine', () => {
  const context = { appVersion: '0.0.0-test', jobId: 'job-1' }

  it('runs every mode; the same seed gives the same pixels and tokens again', async () => {
    const rt = await open(SMOKE_PACK_DIR)
    const request: GenerateRequest = {
      mode: 'compare',
      class: 1,
      seed: 1234,
      n: 2,
      compareModes: ['exact', '1step', '2step', 'custom', 'hybrid', 'ar'],
      tList: [0, 16, 40],
    }
    const first = await generate(rt, plan(rt, request), context)
    const again = await generate(rt, plan(rt, request), context)
    expect(first.modes[0]).toBe('exact')
    expect(first.images).toHaveLength(12)
    for (const [i, image] of first.images.entries()) {
      const other = again.images[i]
      expect(other?.mode).toBe(image.mode)
      expect(other?.ids).toEqual(image.ids)
      expect(decodePngRgb(other?.png ?? new Uint8Array()).rgb).toEqual(decodePngRgb(image.png).rgb)
      expect(image.timings.tokenMs).toBeGreaterThan(0)
      expect(image.timings.decodeMs).toBeGreaterThan(0)
    }
    // Token agreement with the exact teacher is reported for every other mode, per position too.
    expect(Object.keys(first.agreement).sort()).toEqual(['1step', '2step', 'ar', 'custom', 'hybrid'])
    const dd = first.agreement['1step']
    expect(dd?.disagreement).toHaveLength(rt.manifest.tokens.count)
    expect(dd?.identical).toBeGreaterThanOrEqual(0)
    expect(dd?.identical).toBeLessThanOrEqual(1)
  })

  it('image i of a batch is the single image of seed + i', async () => {
    const rt = await open(SMOKE_PACK_DIR)
    for (const mode of ['1step', 'exact'] as const) {
      const batch = await generate(rt, plan(rt, { mode, class: 0, seed: 2 ** 32 - 2, n: 3 }), context)
      expect(batch.images.map((i) => i.seed)).toEqual([2 ** 32 - 2, 2 ** 32 - 1, 0])
      const single = await generate(rt, plan(rt, { mode, class: 0, seed: 0, n: 1 }), context)
      expect(single.images[0]?.ids).toEqual(batch.images[2]?.ids)
      const a = decodePngRgb(single.images[0]?.png ?? new Uint8Array()).rgb
      const b = decodePngRgb(batch.images[2]?.png ?? new Uint8Array()).rgb
      let maxDiff = 0
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)))
      // The decoder runs batched convolutions: one level of rounding at most.
      expect(maxDiff, mode).toBeLessThanOrEqual(1)
    }
  })

  it('writes the generation metadata into every PNG', async () => {
    const rt = await open(SMOKE_PACK_DIR)
    const result = await generate(rt, plan(rt, { mode: 'hybrid', class: 2, seed: 7 }), context)
    const image = result.images[0]
    if (!image) throw new Error('no image')
    const text = readPngText(image.png)
    expect(text.Software).toBe('DD Studio 0.0.0-test')
    const meta = JSON.parse(text[METADATA_KEY] ?? '{}') as Record<string, unknown>
    expect(meta).toMatchObject({
      mode: 'hybrid',
      seed: 7,
      class: { index: 2 },
      pack: { id: rt.manifest.id, manifestSha256: 'test-hash' },
      noise: 'dd-noise-v1',
      splitT: rt.manifest.sampling.splitT,
      hybrid: rt.manifest.sampling.hybrid,
      providers: { generator: 'cpu', teacherStep: 'cpu', decoder: 'cpu' },
    })
    const { width, height } = decodePngRgb(image.png)
    expect([width, height]).toEqual([rt.manifest.image.width, rt.manifest.image.height])
  })

  it('writes A1111-style parameters as tEXt, with each image its own seed', async () => {
    const rt = await open(SMOKE_PACK_DIR)
    const result = await generate(rt, plan(rt, { mode: '1step', class: 1, seed: 2 ** 32 - 1, n: 2 }), context)
    expect(result.images.map((i) => i.seed)).toEqual([2 ** 32 - 1, 0])
    for (const image of result.images) {
      const { entries, text } = await readPngTextChunks(image.png)
      expect(entries.find((e) => e.keyword === PARAMETERS_KEY)?.chunk).toBe('tEXt')
      const parsed = parseParameters(text[PARAMETERS_KEY] ?? '')
      expect(parsed.prompt).toBe(result.className)
      expect(parsed.settings).toMatchObject({
        Seed: String(image.seed),
        Sampler: 'DD 1-step',
        Steps: '1',
        Size: `${image.width}x${image.height}`,
        Model: rt.manifest.id,
        'Model hash': 'test-hash',
      })
      expect(settingsFromMetadata(text[METADATA_KEY])).toMatchObject({
        packId: rt.manifest.id,
        mode: '1step',
        class: 1,
        seed: image.seed,
      })
    }
  })

  it('stops an AR job within one step of a cancel', async () => {
    const rt = await open(SMOKE_PACK_DIR)
    const controller = new AbortController()
    let steps = 0
    let stepsAtCancel = 0
    const job = generate(rt, plan(rt, { mode: 'ar', class: 0, seed: 5, n: 4 }), context, {
      signal: controller.signal,
      onProgress: (step) => {
        steps = step
        if (step === 3) {
          stepsAtCancel = step
          controller.abort()
        }
      },
    })
    await expect(job).rejects.toSatisfy((e: unknown) => e instanceof AppError && e.code === 'cancelled')
    expect(steps).toBeLessThanOrEqual(stepsAtCancel + 1)
  })
})

describe('pack sessions', () => {
  it('refuses a graph whose inputs are not what the manifest says, naming them', async () => {
    const pack = await loadPack(SMOKE_PACK_DIR)
    if (!pack.ok) throw new Error(pack.problems.join('; '))
    const manifest = structuredClone(pack.manifest)
    const inputs = manifest.graphs.generator.inputs
    const noise = inputs.noise
    if (!noise) throw new Error('the smoke pack has no noise input')
    delete inputs.noise
    inputs.noise_x = noise
    const rt = await openPackRuntime(SMOKE_PACK_DIR, manifest, { providers: ['cpu'], idleMs: 0 })
    track(rt)
    const job = generate(rt, plan(rt, { mode: '1step', class: 0, seed: 1 }), { appVersion: 't', jobId: 'j' })
    await expect(job).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof AppError &&
        e.code === 'unavailable' &&
        e.message.includes("input 'noise_x' is missing") &&
        e.message.includes("input 'noise' is in the graph but not in the manifest"),
    )
  })

  it('falls back to cpu when a provider cannot run a graph, and says which one loaded', async () => {
    const pack = await loadPack(SMOKE_PACK_DIR)
    if (!pack.ok) throw new Error(pack.problems.join('; '))
    const logs: string[] = []
    const rt = await openPackRuntime(SMOKE_PACK_DIR, pack.manifest, {
      providers: ['webgpu', 'cpu'],
      idleMs: 0,
      log: (_level, message) => logs.push(message),
    })
    track(rt)
    const result = await generate(rt, plan(rt, { mode: '1step', class: 0, seed: 1 }), {
      appVersion: 't',
      jobId: 'j',
    })
    const loaded = await rt.sessions.graph('generator')
    expect(result.provider).toBe(loaded.provider)
    if (loaded.provider === 'cpu') {
      // No WebGPU adapter here: the fallback is logged with webgpu's reason.
      expect(loaded.fallbacks.map((f) => f.provider)).toEqual(['webgpu'])
      expect(logs.some((l) => l.includes('runs on cpu') && l.includes('webgpu failed'))).toBe(true)
    } else {
      console.log(`generator loaded on ${loaded.provider}; no fallback to check on this machine`)
    }
  })

  it('releases idle sessions and loads them again on the next use', async () => {
    const pack = await loadPack(SMOKE_PACK_DIR)
    if (!pack.ok) throw new Error(pack.problems.join('; '))
    // Long enough for the generator to stay loaded while the decoder and PNG run on a busy machine.
    const rt = await openPackRuntime(SMOKE_PACK_DIR, pack.manifest, { providers: ['cpu'], idleMs: 2000 })
    track(rt)
    await generate(rt, plan(rt, { mode: '1step', class: 0, seed: 1 }), { appVersion: 't', jobId: 'j' })
    expect(Object.keys(await rt.sessions.loadedProviders()).sort()).toEqual(['decoder', 'generator'])
    // Released 2 s after the last use; a busy machine may fire the timers late, so wait for it (up to 15 s).
    const deadline = Date.now() + 15_000
    while (Object.keys(await rt.sessions.loadedProviders()).length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50))
    expect(await rt.sessions.loadedProviders()).toEqual({})
    const again = await generate(rt, plan(rt, { mode: '1step', class: 0, seed: 1 }), {
      appVersion: 't',
      jobId: 'j',
    })
    expect(again.images).toHaveLength(1)
  })
})
