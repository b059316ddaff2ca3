/**
 * What the engine and pack tests share: the fixtures of a pack's parity.json as onnxruntime tensors, their
 * distance to a graph's output, a pack's cpu runtime, and dd-noise-v1 noise for a batch of seeds.
 */
import fs from 'node:fs'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { expect } from 'vitest'
import { gaussianNoise } from '../../main/engine/noise.ts'
import { openPackRuntime, type PackRuntime } from '../../main/engine/packRuntime.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import type { PackManifest } from '../../main/engine/packs/manifest.ts'
import type { SampleInput } from '../../main/engine/sampling/samplers.ts'
import { encodePrompts } from '../../main/engine/text/promptEncoding.ts'

export interface FixtureTensor {
  dtype: 'float32' | 'int64' | 'uint8'
  dims: number[]
  data: number[]
}
export type Fixture = { inputs: Record<string, FixtureTensor>; outputs: Record<string, FixtureTensor> }
/** A class pack's fixtures name each image's class; a text pack's its prompt's token ids (`promptIds`). */
export interface ConditionFixture {
  classes?: number[]
  promptIds?: number[][]
  seeds: number[]
}
export interface StudentFixture extends ConditionFixture {
  ids1step: number[][]
  ids2step: number[][]
}
export interface ExactTeacherFixture extends ConditionFixture {
  tokens: number[][]
}
/** parity.json: a fixture per graph (named after its file), the tolerance, and the sampling fixtures. */
export type Parity = Record<string, Fixture> & {
  tolerance: number
  sampling?: { student?: StudentFixture; exactTeacher?: ExactTeacherFixture }
}

export function readParity(dir: string): Parity {
  return JSON.parse(fs.readFileSync(path.join(dir, 'parity.json'), 'utf8')) as Parity
}

export function toOrt(t: FixtureTensor): ort.Tensor {
  if (t.dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(t.data), t.dims)
  if (t.dtype === 'int64')
    return new ort.Tensor('int64', BigInt64Array.from(t.data.map((v) => BigInt(v))), t.dims)
  return new ort.Tensor('uint8', Uint8Array.from(t.data), t.dims)
}

/** The largest absolute difference between a graph's output and its fixture (after checking the shapes). */
export function maxAbsDiff(actual: ort.Tensor, expected: FixtureTensor): number {
  expect(actual.dims).toEqual(expected.dims)
  const values = actual.data as ArrayLike<number | bigint>
  let max = 0
  for (let i = 0; i < expected.data.length; i++) {
    max = Math.max(max, Math.abs(Number(values[i]) - (expected.data[i] ?? Number.NaN)))
  }
  return max
}

/**
 * Opens packs on the cpu provider and closes them all at once: `open` in the tests (or `track` for a runtime
 * opened another way), `closeAll` in afterAll.
 */
export function cpuRuntimes(): {
  open: (dir: string) => Promise<PackRuntime>
  track: (rt: PackRuntime) => PackRuntime
  closeAll: () => Promise<void>
} {
  const runtimes: PackRuntime[] = []
  return {
    track: (rt) => {
      runtimes.push(rt)
      return rt
    },
    open: async (dir) => {
      const pack = await loadPack(dir)
      if (!pack.ok) throw new Error(`${dir}: ${pack.problems.join('; ')}`)
      const rt = await openPackRuntime(dir, pack.manifest, { providers: ['cpu'], idleMs: 0 })
      runtimes.push(rt)
      return rt
    },
    closeAll: async () => {
      await Promise.all(runtimes.map((rt) => rt.sessions.close()))
    },
  }
}

/** dd-noise-v1 of each seed, one image after the other: [seeds, tokens, codebookDim]. */
export function noiseOf(manifest: PackManifest, seeds: number[]): Float32Array {
  const per = manifest.tokens.count * manifest.tokens.codebookDim
  const out = new Float32Array(seeds.length * per)
  seeds.forEach((s, i) => {
    out.set(gaussianNoise(s, per), i * per)
  })
  return out
}

/** The share of ids equal to the expected rows (flattened in the same order), 0..1. */
export function share(ids: Int32Array, expected: number[][]): number {
  const flat = expected.flat()
  return flat.filter((v, i) => ids[i] === v).length / flat.length
}

/**
 * The samplers' input for a sampling fixture's images: dd-noise-v1 of the seeds, and the classes or, for a text
 * pack, the prompts' encodings through text_encoder.onnx with the null prompt as the unconditional branch (what
 * the pipeline's pairs were guided with).
 */
export async function fixtureInput(rt: PackRuntime, fixture: ConditionFixture): Promise<SampleInput> {
  const noise = noiseOf(rt.manifest, fixture.seeds)
  if (!fixture.promptIds) return { classes: fixture.classes ?? [], noise, seeds: fixture.seeds }
  if (!rt.tokenizer) throw new Error(`pack '${rt.manifest.id}' has prompt fixtures but no tokenizer`)
  const nullIds = rt.tokenizer.check('').ids
  const rows = await encodePrompts(rt, [...fixture.promptIds, nullIds])
  const uncondRow = rows.pop() as Float32Array
  const per = uncondRow.length
  const cond = new Float32Array(per * rows.length)
  const uncond = new Float32Array(per * rows.length)
  rows.forEach((row, i) => {
    cond.set(row, i * per)
    uncond.set(uncondRow, i * per)
  })
  return { classes: [], noise, seeds: fixture.seeds, cond, uncond }
}
