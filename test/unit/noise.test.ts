import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  batchSeed,
  gaussianNoise,
  gaussianNoiseBatch,
  NOISE_SPEC,
  noiseInternals,
} from '../../main/engine/noise.ts'

/** models/spec/noise-vectors.json, written by `cd models && /usr/bin/python3 -m ddpipe.noise_vectors`. */
interface NoiseVectors {
  spec: unknown
  vectors: { seed: number; count: number; bits: string[] }[]
  sha256: { seed: number; count: number; sha256: string }
  batch: { seed: number; nImages: number; shape: number[]; sha256: string }
  checkpoints: {
    hash: { seed: number; k1: string; k2: string; h: string[] }[]
    logUniform: { h: string[]; ln: string[] }
    cosSinTurn: { h: string[]; cos: string[]; sin: string[] }
  }
}

const VECTORS = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, '../../models/spec/noise-vectors.json'), 'utf8'),
) as NoiseVectors

const hex32 = (x: number): string => x.toString(16).padStart(8, '0')
const float32Bits = (values: Float32Array): string[] =>
  Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length), hex32)
function float64Bits(x: number): string {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  return view.getBigUint64(0).toString(16).padStart(16, '0')
}
function sha256Float32(values: Float32Array): string {
  const bytes = new DataView(new ArrayBuffer(values.length * 4))
  values.forEach((v, i) => {
    bytes.setFloat32(i * 4, v, true) // little-endian, whatever the host
  })
  return createHash('sha256').update(new Uint8Array(bytes.buffer)).digest('hex')
}

/** 1 - erf(x), Numerical Recipes' erfcc: fractional error below 1.2e-7 everywhere. */
function erfc(x: number): number {
  const z = Math.abs(x)
  const t = 1 / (1 + 0.5 * z)
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
  const r = t * Math.exp(poly)
  return x >= 0 ? r : 2 - r
}
const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2)

const MILLION = 1 << 20

describe('dd-noise-v1 matches the shared vectors bit for bit', () => {
  it('describes the same algorithm as the Python pipeline', () => {
    expect(NOISE_SPEC.name).toBe('dd-noise-v1')
    expect(VECTORS.spec).toEqual(NOISE_SPEC)
  })

  it('reproduces the first 64 values of every vector seed', () => {
    expect(VECTORS.vectors.map((v) => v.seed)).toEqual(expect.arrayContaining([0, 1, 42, 2 ** 32 - 1]))
    for (const vector of VECTORS.vectors) {
      expect(float32Bits(gaussianNoise(vector.seed, vector.count)), `seed ${vector.seed}`).toEqual(
        vector.bits,
      )
    }
  })

  it('element k depends only on (seed, k): shorter and odd-length requests are prefixes', () => {
    for (const vector of VECTORS.vectors) {
      for (const count of [0, 1, 7, 33]) {
        expect(float32Bits(gaussianNoise(vector.seed, count))).toEqual(vector.bits.slice(0, count))
      }
    }
  })

  it('reproduces the intermediate checkpoints: keys, hashes, log, cos and sin', () => {
    const { hash, logUniform, cosSinTurn } = VECTORS.checkpoints
    for (const entry of hash) {
      const [k1, k2] = noiseInternals.keys(entry.seed)
      expect([hex32(k1), hex32(k2)]).toEqual([entry.k1, entry.k2])
      expect(entry.h.map((_, c) => hex32(noiseInternals.uniformHash(c, k1, k2)))).toEqual(entry.h)
    }
    expect(logUniform.h.map((h) => float64Bits(noiseInternals.logUniform(Number.parseInt(h, 16))))).toEqual(
      logUniform.ln,
    )
    const cs = cosSinTurn.h.map((h) => noiseInternals.cosSinTurn(Number.parseInt(h, 16)))
    expect(cs.map(([c]) => float64Bits(c))).toEqual(cosSinTurn.cos)
    expect(cs.map(([, s]) => float64Bits(s))).toEqual(cosSinTurn.sin)
  })

  it(`hashes the first ${MILLION} values of seed ${VECTORS.sha256.seed} to the shared sha256`, () => {
    const { seed, count, sha256 } = VECTORS.sha256
    expect(sha256Float32(gaussianNoise(seed, count))).toBe(sha256)
  })

  it('hashes a 1000-image batch across the 2^32 seed wrap to the shared sha256', () => {
    const { seed, nImages, shape, sha256 } = VECTORS.batch
    const perImage = shape.reduce((a, b) => a * b, 1)
    expect(sha256Float32(gaussianNoiseBatch(seed, nImages, perImage))).toBe(sha256)
  })
})

describe('batches', () => {
  it('image i uses seed (s + i) mod 2^32', () => {
    expect(batchSeed(42, 0)).toBe(42)
    expect(batchSeed(42, 3)).toBe(45)
    expect(batchSeed(2 ** 32 - 1, 1)).toBe(0)
    expect(batchSeed(2 ** 32 - 2, 5)).toBe(3)
    expect(batchSeed(7, 2 ** 32)).toBe(7)
  })

  it('a batch image equals the single image with that seed', () => {
    const perImage = 64 * 8
    const seed = 2 ** 32 - 2
    const batch = gaussianNoiseBatch(seed, 4, perImage)
    expect(batch.length).toBe(4 * perImage)
    for (let i = 0; i < 4; i++) {
      const image = batch.subarray(i * perImage, (i + 1) * perImage)
      expect(float32Bits(image)).toEqual(float32Bits(gaussianNoise((seed + i) % 2 ** 32, perImage)))
    }
    expect(float32Bits(batch.subarray(2 * perImage, 2 * perImage + 64))).toEqual(
      VECTORS.vectors.find((v) => v.seed === 0)?.bits,
    )
  })
})

describe('argument validation', () => {
  const bad = (x: unknown) => x as number

  it('seed must be an integer in [0, 2^32 - 1]', () => {
    for (const seed of [
      -1,
      2 ** 32,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      bad('1'),
      bad(1n),
      bad(null),
    ]) {
      expect(() => gaussianNoise(seed, 4), String(seed)).toThrow(RangeError)
      expect(() => gaussianNoise(seed, 4)).toThrow(/seed/)
      expect(() => gaussianNoiseBatch(seed, 2, 4)).toThrow(/seed/)
    }
    expect(gaussianNoise(2 ** 32 - 1, 1).length).toBe(1)
  })

  it('count must be a non-negative safe integer, at most 2^32', () => {
    for (const count of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 2 ** 32 + 1, bad('4')]) {
      expect(() => gaussianNoise(0, count), String(count)).toThrow(RangeError)
      expect(() => gaussianNoise(0, count)).toThrow(/count/)
    }
    expect(gaussianNoise(0, 0)).toEqual(new Float32Array(0))
    expect(() => gaussianNoiseBatch(0, -1, 4)).toThrow(/nImages/)
    expect(() => gaussianNoiseBatch(0, 1, 1.5)).toThrow(/perImage/)
    expect(() => batchSeed(0, -1)).toThrow(/index/)
  })
})

describe('statistics of 2^20 values (fixed seeds: deterministic, so these cannot flake)', () => {
  let x: Float32Array
  beforeAll(() => {
    x = gaussianNoise(42, MILLION)
  })

  it('is fast: 2^20 values well under a second', () => {
    const t0 = performance.now()
    gaussianNoise(7, MILLION)
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  it('has mean ~0 and variance ~1 (within 5 standard errors)', () => {
    let sum = 0
    let sumSq = 0
    for (const v of x) {
      sum += v
      sumSq += v * v
    }
    const mean = sum / x.length
    const variance = sumSq / x.length - mean * mean
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(x.length))
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / x.length))
    expect(x.every(Number.isFinite)).toBe(true)
    // u >= 2^-33 bounds |z| by sqrt(66 ln 2) = 6.76
    expect(x.every((v) => Math.abs(v) < 6.77)).toBe(true)
  })

  it('passes Kolmogorov-Smirnov against the normal CDF (alpha 1e-6)', () => {
    const sorted = Float32Array.from(x).sort()
    const n = sorted.length
    let d = 0
    sorted.forEach((v, i) => {
      const f = normalCdf(v)
      d = Math.max(d, (i + 1) / n - f, f - i / n)
    })
    // P(sqrt(n) D > k) ~ 2 exp(-2 k^2): k = 2.69 for alpha = 1e-6.
    expect(Math.sqrt(n) * d).toBeLessThan(2.69)
  })

  it('passes chi-square on 100 equiprobable bins (99 dof, alpha 1e-6)', () => {
    const bins = new Float64Array(100)
    for (const v of x) {
      const b = Math.min(99, Math.floor(normalCdf(v) * 100))
      bins[b] = (bins[b] as number) + 1
    }
    const expected = x.length / 100
    let chi2 = 0
    for (const c of bins) chi2 += ((c - expected) * (c - expected)) / expected
    expect(chi2).toBeLessThan(181) // 99-dof quantile at 1 - 1e-6 (Wilson-Hilferty)
  })

  it('neighbours, Box-Muller partners and adjacent seeds are uncorrelated (within 5 standard errors)', () => {
    const y = gaussianNoise(43, MILLION)
    const n = x.length
    let lag1 = 0
    let lag2 = 0
    let seeds = 0
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number
      if (i + 1 < n) lag1 += xi * (x[i + 1] as number)
      if (i + 2 < n) lag2 += xi * (x[i + 2] as number)
      seeds += xi * (y[i] as number)
    }
    const bound = 5 / Math.sqrt(n)
    expect(Math.abs(lag1 / n)).toBeLessThan(bound)
    expect(Math.abs(lag2 / n)).toBeLessThan(bound)
    expect(Math.abs(seeds / n)).toBeLessThan(bound)
  })
})

describe('own log, cos and sin agree with Math.log, Math.cos and Math.sin', () => {
  const samples = (): number[] => {
    const hs = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
    for (let k = 0; k < 32; k++) hs.push(2 ** k, 2 ** k - 1, (2 ** k + 2 ** (k + 1) - 1) >>> 1)
    const [k1, k2] = noiseInternals.keys(12345)
    for (let c = 0; c < 200_000; c++) hs.push(noiseInternals.uniformHash(c, k1, k2))
    return hs.map((h) => h >>> 0)
  }

  it('log to 1e-15 relative, cos and sin to 1e-15 absolute', () => {
    let logErr = 0
    let trigErr = 0
    for (const h of samples()) {
      const u = (h + 0.5) * 2 ** -32
      const ln = Math.log(u)
      logErr = Math.max(logErr, Math.abs(noiseInternals.logUniform(h) - ln) / Math.abs(ln))
      const [c, s] = noiseInternals.cosSinTurn(h)
      trigErr = Math.max(
        trigErr,
        Math.abs(c - Math.cos(2 * Math.PI * u)),
        Math.abs(s - Math.sin(2 * Math.PI * u)),
      )
    }
    expect(logErr).toBeLessThan(1e-15)
    expect(trigErr).toBeLessThan(1e-15)
  })

  it('the float32 noise differs from a Math.* Box-Muller by at most one float32 step, and rarely', () => {
    const count = 1 << 16
    const seed = 9
    const ours = gaussianNoise(seed, count)
    const [k1, k2] = noiseInternals.keys(seed)
    let differing = 0
    for (let k = 0; k < count; k++) {
      const j = k >> 1
      const u1 = (noiseInternals.uniformHash(2 * j, k1, k2) + 0.5) * 2 ** -32
      const u2 = (noiseInternals.uniformHash(2 * j + 1, k1, k2) + 0.5) * 2 ** -32
      const r = Math.sqrt(-2 * Math.log(u1))
      const ref = Math.fround(k % 2 === 0 ? r * Math.cos(2 * Math.PI * u2) : r * Math.sin(2 * Math.PI * u2))
      const v = ours[k] as number
      if (v !== ref) {
        differing++
        const ulp = 2 ** (Math.floor(Math.log2(Math.abs(ref))) - 23)
        expect(Math.abs(v - ref)).toBeLessThanOrEqual(ulp)
      }
    }
    expect(differing / count).toBeLessThan(1e-3)
  })
})
