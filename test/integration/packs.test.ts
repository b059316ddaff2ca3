/**
 * Every pack the pipeline produced (the committed ones and the smoke pack `npm test` builds) must validate, its
 * graphs must reproduce PyTorch's outputs in onnxruntime-node, and it must generate an image from a seed.
 */
import fs from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { gaussianNoiseBatch } from '../../main/engine/noise.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import { type PackManifest, requireGraph } from '../../main/engine/packs/manifest.ts'
import { NULL } from '../../main/engine/text/tokenizer.ts'
import { packDirsUnderTest, SMOKE_PACK_DIR } from '../support/packs.ts'
import { type Fixture, type FixtureTensor, maxAbsDiff, toOrt } from '../support/parity.ts'

async function session(dir: string, file: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path.join(dir, file), {
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  })
}

/** The generator's condition for one image: class 0, or a text pack's null prompt through its text encoder. */
async function conditionOf(dir: string, manifest: PackManifest): Promise<Record<string, ort.Tensor>> {
  const c = manifest.conditioning
  if (c.kind === 'class') return { class_ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1]) }
  const encoder = await session(dir, requireGraph(manifest, 'textEncoder').file)
  const ids = new BigInt64Array(c.maxTokens)
  ids[0] = BigInt(NULL)
  const { cond } = await encoder.run({ prompt_ids: new ort.Tensor('int64', ids, [1, c.maxTokens]) })
  await encoder.release()
  return { cond: cond as ort.Tensor }
}

const dirs = packDirsUnderTest()

describe('model packs', () => {
  it('the smoke pack was built before the tests (npm run models:smoke)', () => {
    expect(fs.existsSync(path.join(SMOKE_PACK_DIR, 'manifest.json')), `${SMOKE_PACK_DIR} is missing`).toBe(
      true,
    )
  })

  describe.each(dirs)('%s', (dir) => {
    let manifest: PackManifest

    it('validates: manifest schema and the sha256 of every file', async () => {
      const loaded = await loadPack(dir)
      expect(loaded.ok ? [] : loaded.problems).toEqual([])
      if (loaded.ok) manifest = loaded.manifest
    })

    it('reproduces PyTorch in onnxruntime-node (max abs diff <= 1e-4)', async () => {
      const parity = JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8')) as Record<
        string,
        Fixture
      > & {
        tolerance: number
      }
      // parity.json names each fixture after its graph's file; the teacher's graph depends on the family, and a
      // text pack adds its text encoder and teacher prefill.
      const files = {
        generator: 'generator.onnx',
        decoder: 'decoder.onnx',
        ...(manifest.family === 'var'
          ? { teacher_scale: 'teacher_scale.onnx' }
          : { teacher_step: 'teacher_step.onnx' }),
        ...(manifest.conditioning.kind === 'text'
          ? { text_encoder: 'text_encoder.onnx', teacher_prefill: 'teacher_prefill.onnx' }
          : {}),
      }
      for (const [graph, file] of Object.entries(files)) {
        const fixture = parity[graph] as Fixture
        const s = await session(dir, file)
        const feeds = Object.fromEntries(Object.entries(fixture.inputs).map(([k, v]) => [k, toOrt(v)]))
        const out = await s.run(feeds)
        for (const [name, expected] of Object.entries(fixture.outputs)) {
          const diff = maxAbsDiff(out[name] as ort.Tensor, expected)
          // uint8 images: PyTorch and onnxruntime may round a value sitting on .5 differently: one level.
          const limit = expected.dtype === 'uint8' ? 1 : expected.dtype === 'int64' ? 0 : parity.tolerance
          console.log(`${path.basename(dir)} ${graph}.${name} max abs diff ${diff}`)
          expect(diff, `${graph}.${name}`).toBeLessThanOrEqual(limit)
        }
        await s.release()
      }
    })

    it("regenerates the fixtures' noise bit for bit from its seed (dd-noise-v1)", () => {
      const parity = JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8')) as Record<
        string,
        Fixture
      >
      const noise = (parity.generator as Fixture).inputs.noise as FixtureTensor
      const [batch, tokens, dim] = noise.dims as [number, number, number]
      const ours = gaussianNoiseBatch(7, batch, tokens * dim)
      expect(Array.from(ours)).toEqual(noise.data.map((v) => Math.fround(v)))
    })

    it('generates an image from a seed: generator (1 step) then decoder', async () => {
      const { tokens, image } = manifest
      const generator = await session(dir, manifest.graphs.generator.file)
      const decoder = await session(dir, manifest.graphs.decoder.file)
      const n = tokens.count
      const d = tokens.codebookDim
      const out = await generator.run({
        noise: new ort.Tensor('float32', gaussianNoiseBatch(42, 1, n * d), [1, n, d]),
        prefix_ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
        t: new ort.Tensor('int64', BigInt64Array.of(0n), []),
        split_t: new ort.Tensor('int64', BigInt64Array.of(BigInt(manifest.sampling.splitT)), []),
        ...(await conditionOf(dir, manifest)),
      })
      const ids = out.ids?.data as BigInt64Array
      expect([...ids].every((v) => v >= 0n && v < BigInt(tokens.codebookSize))).toBe(true)
      const rgb = (await decoder.run({ latents: out.latents as ort.Tensor })).rgb as ort.Tensor
      expect(rgb.type).toBe('uint8')
      expect(rgb.dims).toEqual([1, image.height, image.width, 3])
      const pixels = rgb.data as Uint8Array
      expect(new Set(pixels).size).toBeGreaterThan(8) // a picture, not a constant fill
      await generator.release()
      await decoder.release()
    })
  })
})
