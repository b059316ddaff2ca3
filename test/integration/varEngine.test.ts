/**
 * The engine on a real converted VAR pack (family 'var': 680 tokens in 10 scales, teacher_scale) with real
 * onnxruntime sessions (cpu): every mode, each published hybrid preset with its step count in the progress,
 * seeds that reproduce PyTorch's ids, a deterministic exact teacher, agreement on the last scale's grid, and
 * the image metadata in scales.
 *
 * The pack is the converter's random-weight test pack (`python -m convert test-pack var`), built into
 * models/.cache/packs/var-test when missing or older than the converter (../support/convertedPacks.ts).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type GenerateRequest, hybridSteps, type SingleMode } from '../../common/generation.ts'
import { PARAMETERS_KEY, parseParameters, settingsFromMetadata } from '../../common/parameters.ts'
import { generate, METADATA_KEY } from '../../main/engine/generate.ts'
import { decodePngRgb, readPngText } from '../../main/engine/output/png.ts'
import { openPackRuntime, type PackRuntime } from '../../main/engine/packRuntime.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import { planGeneration } from '../../main/engine/plan.ts'
import { exactChooser, sampleDD, sampleTeacher } from '../../main/engine/sampling/samplers.ts'
import { ensureTestPack, testPackDir } from '../support/convertedPacks.ts'
import { noiseOf, share } from '../support/parity.ts'
import { REPO_ROOT } from '../support/testApp.ts'

const VAR_PACK_DIR = testPackDir('var')

const context = { appVersion: '0.0.0-test', jobId: 'var-job' }

interface SamplingFixture {
  exactTeacher?: { classes: number[]; seeds: number[]; tokens: number[][] }
  student?: { classes: number[]; seeds: number[]; ids1step: number[][]; ids2step: number[][] }
}

let rt: PackRuntime

beforeAll(async () => {
  ensureTestPack('var')
  const pack = await loadPack(VAR_PACK_DIR)
  if (!pack.ok) throw new Error(`${VAR_PACK_DIR}: ${pack.problems.join('; ')}`)
  rt = await openPackRuntime(VAR_PACK_DIR, pack.manifest, { providers: ['cpu'], idleMs: 0 })
}, 20 * 60_000)

afterAll(async () => {
  await rt?.sessions.close()
})

function plan(request: GenerateRequest) {
  return planGeneration(request, rt.manifest, 'var-test-hash')
}

function fixture(): SamplingFixture | null {
  const parity = JSON.parse(fs.readFileSync(path.join(VAR_PACK_DIR, 'parity.json'), 'utf8')) as {
    sampling?: SamplingFixture
  }
  return parity.sampling ?? null
}

describe('a VAR pack in the engine', () => {
  it('is a var pack: 10 scales, 680 tokens, a teacher_scale graph', () => {
    const m = rt.manifest
    expect(m.family).toBe('var')
    expect(m.tokens.scales).toEqual([1, 2, 3, 4, 5, 6, 8, 10, 13, 16])
    expect(m.tokens.count).toBe(680)
    expect(m.graphs.teacherScale).toBeDefined()
    expect(m.graphs.teacherStep).toBeUndefined()
    expect(plan({ mode: 'ar', class: 0 }).steps).toEqual({ unit: 'scale', count: 10 })
  })

  it("teacher_scale, run through the engine's sessions, gives PyTorch's logits (parity.json)", async () => {
    const parity = JSON.parse(fs.readFileSync(path.join(VAR_PACK_DIR, 'parity.json'), 'utf8')) as {
      tolerance: number
      teacher_scale?: {
        inputs: Record<string, { dims: number[]; data: number[] }>
        outputs: { logits: { dims: number[]; data: number[] } }
      }
    }
    const fixture = parity.teacher_scale
    if (!fixture) throw new Error('var-test: parity.json has no teacher_scale fixture')
    const int64 = (t: { dims: number[]; data: number[] }) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from(t.data, (v) => BigInt(v)),
        t.dims,
      )
    const out = await rt.sessions.run('teacherScale', {
      ids: int64(fixture.inputs.ids as { dims: number[]; data: number[] }),
      scale: int64(fixture.inputs.scale as { dims: number[]; data: number[] }),
      class_ids: int64(fixture.inputs.class_ids as { dims: number[]; data: number[] }),
    })
    const logits = out.logits as ort.Tensor
    expect(logits.dims).toEqual(fixture.outputs.logits.dims)
    const data = logits.data as Float32Array
    let diff = 0
    fixture.outputs.logits.data.forEach((v, i) => {
      diff = Math.max(diff, Math.abs((data[i] as number) - v))
    })
    console.log(`var-test: teacher_scale logits max abs diff ${diff}`)
    expect(diff).toBeLessThanOrEqual(parity.tolerance)
  })

  it('runs every mode on the same noise; the same seed gives the same pixels and ids again', async () => {
    const request: GenerateRequest = {
      mode: 'compare',
      class: 1,
      seed: 77,
      n: 1,
      compareModes: ['exact', '1step', '2step', 'custom', 'hybrid', 'ar'],
      tList: [0, 3, 7],
    }
    const steps: number[] = []
    const first = await generate(rt, plan(request), context, { onProgress: (step) => steps.push(step) })
    const again = await generate(rt, plan(request), context)
    expect(first.modes).toEqual(['exact', '1step', '2step', 'custom', 'hybrid', 'ar'])
    // exact 10 + 1 + 2 + 3 + the default hybrid + ar 10, counted in scales.
    const hybrid = plan(request).hybrid
    expect(steps.at(-1)).toBe(10 + 1 + 2 + 3 + hybridSteps(hybrid, 10) + 10)
    const { width, height } = rt.manifest.image
    for (const [i, image] of first.images.entries()) {
      const other = again.images[i]
      expect(other?.mode).toBe(image.mode)
      expect(other?.ids, image.mode).toEqual(image.ids)
      const decoded = decodePngRgb(image.png)
      expect([decoded.width, decoded.height]).toEqual([width, height])
      expect(decodePngRgb(other?.png ?? new Uint8Array()).rgb).toEqual(decoded.rgb)
      expect(image.ids).toHaveLength(680)
    }
    console.log(
      `var-test: ${width}x${height}; per-mode ms ${JSON.stringify(Object.fromEntries(Object.entries(first.modeTimings).map(([m, t]) => [m, Math.round(t.totalMs)])))}`,
    )
    // Agreement over all tokens; the map over the last scale's 16x16 grid, which lays over the image.
    expect(Object.keys(first.agreement).sort()).toEqual(['1step', '2step', 'ar', 'custom', 'hybrid'])
    for (const entry of Object.values(first.agreement)) {
      expect(entry.disagreement).toHaveLength(256)
      expect(entry.identical).toBeGreaterThanOrEqual(0)
      expect(entry.identical).toBeLessThanOrEqual(1)
    }
    // The exact teacher is its own reference: a hybrid's teacher scales copy it where their prefix does.
    expect(first.modeSteps).toMatchObject({ exact: 10, ar: 10, '1step': 1, '2step': 2, custom: 3 })
  })

  it.for([1, 2, 3])(
    'hybrid preset %i of the pack: its steps in the progress, a deterministic image',
    async (k) => {
      const presets = rt.manifest.sampling.hybridPresets ?? []
      const preset = presets[k - 1]
      if (!preset) throw new Error(`var-test has ${presets.length} hybrid presets, not ${k}`)
      const request: GenerateRequest = {
        mode: 'hybrid',
        class: 2,
        seed: 5,
        hybrid: { start: preset.start, end: preset.end },
      }
      const p = plan(request)
      expect(p.hybrid).toEqual({ start: preset.start, end: preset.end, splitT: preset.splitT })
      const progress: [number, number][] = []
      const result = await generate(rt, p, context, {
        onProgress: (step, total) => progress.push([step, total]),
      })
      expect(progress.every(([, total]) => total === preset.steps)).toBe(true)
      expect(progress.map(([step]) => step)).toEqual(Array.from({ length: preset.steps }, (_, i) => i + 1))
      expect(result.modeSteps.hybrid).toBe(preset.steps)
      const again = await generate(rt, p, context)
      expect(again.images[0]?.ids).toEqual(result.images[0]?.ids)
      const meta = JSON.parse(readPngText(result.images[0]?.png as Uint8Array)[METADATA_KEY] ?? '{}')
      expect(meta).toMatchObject({
        hybrid: { start: preset.start, end: preset.end, splitT: preset.splitT },
        steps: { unit: 'scale', count: 10 },
        cfgSchedule: rt.manifest.sampling.teacher.cfgSchedule ?? 'constant',
      })
      expect(settingsFromMetadata(meta).hybrid).toEqual(
        request.hybrid && { ...request.hybrid, splitT: preset.splitT },
      )
      const text = readPngText(result.images[0]?.png as Uint8Array)[PARAMETERS_KEY] ?? ''
      expect(parseParameters(text).settings.Steps).toBe(String(preset.steps))
    },
  )

  it("DD 1-step and 2-step give PyTorch's ids for the pack's seeds", async () => {
    const student = fixture()?.student
    if (!student) throw new Error('var-test: parity.json has no sampling.student fixtures')
    const { classes, seeds, ids1step, ids2step } = student
    const input = { classes, noise: noiseOf(rt.manifest, seeds), seeds }
    const split = rt.manifest.sampling.splitT
    const one = await sampleDD(rt, input, [0], split)
    const two = await sampleDD(rt, input, plan({ mode: '2step', class: 0 }).tList, split)
    console.log(
      `var-test: 1-step ${(100 * share(one.ids, ids1step)).toFixed(2)}%, 2-step ${(100 * share(two.ids, ids2step)).toFixed(2)}% of PyTorch's ids`,
    )
    // An argmax between two nearly equal logits may flip between PyTorch and onnxruntime: allow a rare one.
    expect(share(one.ids, ids1step)).toBeGreaterThanOrEqual(0.995)
    expect(share(two.ids, ids2step)).toBeGreaterThanOrEqual(0.995)
  })

  it('the exact teacher through teacher_scale is deterministic (and matches the pipeline where it says)', async () => {
    const exact = fixture()?.exactTeacher
    const classes = exact?.classes ?? [0, 3]
    const seeds = exact?.seeds ?? [11, 12]
    const noise = noiseOf(rt.manifest, seeds)
    const teacher = plan({ mode: 'exact', class: 0 }).teacher
    const scales: number[] = []
    const a = await sampleTeacher(rt, { classes, noise, seeds }, teacher, exactChooser(rt, noise), {
      onStep: (done, total) => {
        expect(total).toBe(10)
        scales.push(done)
      },
    })
    const b = await sampleTeacher(rt, { classes, noise, seeds }, teacher, exactChooser(rt, noise))
    expect(scales).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(Array.from(b)).toEqual(Array.from(a))
    // Batched rows are the single images.
    const single = await sampleTeacher(
      rt,
      {
        classes: [classes[1] as number],
        noise: noise.subarray(noise.length / 2),
        seeds: [seeds[1] as number],
      },
      teacher,
      exactChooser(rt, noise.subarray(noise.length / 2)),
    )
    expect(Array.from(single)).toEqual(Array.from(a.subarray(680)))
    if (!exact) {
      console.warn('var-test: parity.json has no sampling.exactTeacher fixtures; compared with itself only')
      return
    }
    const agreement = share(a, exact.tokens)
    console.log(`var-test: exact teacher vs the pipeline: ${(100 * agreement).toFixed(3)}%`)
    expect(agreement).toBeGreaterThanOrEqual(0.999)
  })

  it("the exact teacher gives the tokens of PyTorch's KV-cached VAR loop on the same weights and noise", async () => {
    // The converter's own test checkpoints (seeded, so the same weights as the pack), the official-style
    // KV-cached teacher, VAR's guidance ramp, the pipeline's shaping and flow map, dd-noise-v1 per position.
    const reference = `
import json, sys, tempfile, warnings
from pathlib import Path
import torch
from convert import var_pack
from convert.var_arch import VAR_D2_TEST, VAE_TINY, guided_logits, scale_starts
from ddpipe.mapping import FlowSpec, shape_distribution, flow_map_support
from ddpipe.noise import gaussian_noise
m = json.loads(Path(sys.argv[1]).read_text())
t, f = m["sampling"]["teacher"], m["flow"]
classes, seeds = [0, 3], [11, 12]
with tempfile.TemporaryDirectory() as d:
    files = var_pack.write_test_checkpoints(Path(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        teacher, _ = var_pack.load_checked(files["teacher"], "teacher", VAR_D2_TEST)
        vae, _ = var_pack.load_checked(files["vae"], "vae", VAE_TINY)
book = vae.codebook().detach().double()
starts = scale_starts(VAR_D2_TEST.patch_nums)
spec = FlowSpec(f["steps"], f["rMin"], f["rMax"])
B, N, K, d = len(classes), starts[-1], len(starts) - 1, book.shape[1]
ids = torch.zeros(2 * B, N, dtype=torch.long)
cls = torch.tensor(classes + [m["conditioning"]["nullClass"]] * B)
noise = [torch.from_numpy(gaussian_noise(s, N * d).reshape(N, d)).double() for s in seeds]
with torch.no_grad():
    for k in range(K):
        out = teacher.logits_by_scale_cached(vae, ids, cls, upto=k)[k]
        g = guided_logits(out[:B], out[B:], k, t["cfgScale"], K)
        for b in range(B):
            p = shape_distribution(g[b], None, 1.0, t["temperature"], t["topK"], t["topP"])
            tok = flow_map_support(p, book, noise[b][starts[k]:starts[k + 1]], spec)
            ids[b, starts[k]:starts[k + 1]] = tok
            ids[B + b, starts[k]:starts[k + 1]] = tok
json.dump({"classes": classes, "seeds": seeds, "tokens": ids[:B].tolist()}, sys.stdout)
`
    const run = spawnSync(
      process.execPath,
      ['scripts/run-python.ts', '-c', reference, path.join(VAR_PACK_DIR, 'manifest.json')],
      { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    )
    if (run.status !== 0) throw new Error(`the PyTorch reference failed (${run.status}):\n${run.stderr}`)
    const expected = JSON.parse(run.stdout) as { classes: number[]; seeds: number[]; tokens: number[][] }
    const noise = noiseOf(rt.manifest, expected.seeds)
    const teacher = plan({ mode: 'exact', class: 0 }).teacher
    const input = { classes: expected.classes, noise, seeds: expected.seeds }
    const ids = await sampleTeacher(rt, input, teacher, exactChooser(rt, noise))
    const agreement = share(ids, expected.tokens)
    console.log(`var-test: exact teacher vs PyTorch's loop: ${(100 * agreement).toFixed(3)}% of 1360 tokens`)
    expect(agreement).toBeGreaterThanOrEqual(0.999)
  }, 120_000)

  it('the AR teacher counts 10 scales, reproduces with its seed, and differs with another seed', async () => {
    const run = async (seed: number) => {
      const steps: number[] = []
      const result = await generate(rt, plan({ mode: 'ar', class: 0, seed }), context, {
        onProgress: (step, total) => {
          expect(total).toBe(10)
          steps.push(step)
        },
      })
      expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      return result.images[0]?.ids ?? []
    }
    const a = await run(3)
    expect(await run(3)).toEqual(a)
    expect(await run(4)).not.toEqual(a)
  })

  it('writes scales into the metadata: Steps 10 for the teacher modes, t_list in scales', async () => {
    for (const mode of ['exact', '2step'] as SingleMode[]) {
      const result = await generate(rt, plan({ mode, class: 0, seed: 1 }), context)
      const text = readPngText(result.images[0]?.png as Uint8Array)
      const meta = JSON.parse(text[METADATA_KEY] ?? '{}')
      expect(meta.steps).toEqual({ unit: 'scale', count: 10 })
      const settings = parseParameters(text[PARAMETERS_KEY] ?? '').settings
      expect(settings.Steps).toBe(mode === 'exact' ? '10' : '2')
      expect(settings['Step unit']).toBe('scale')
      if (mode === '2step') expect(meta.tList).toEqual(rt.manifest.sampling.tLists['2step'])
    }
  })
})
