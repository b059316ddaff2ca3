import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { gaussianNoiseBatch } from '../../main/engine/noise.ts'
import {
  FlowMapper,
  type FlowSpec,
  flowGrid,
  flowMap,
  flowMapSupport,
} from '../../main/engine/sampling/flowMap.ts'
import { sampleCategorical, shapeDistribution } from '../../main/engine/sampling/shaping.ts'

/** models/spec/flow-vectors.json, written by `cd models && PYTHONPATH=. /usr/bin/python3 -m ddpipe.flow_vectors`. */
interface FlowCase {
  kind: string
  cfgScale: number
  temperature: number
  topK: number
  topP: number
  support: number
  codes: number[]
  p: number[]
  token: number
  tokenSupport: number
  eps: number[]
  cond?: number[]
  uncond?: number[] | null
}
interface Codebook {
  vocab: number
  dim: number
  values: number[]
}
interface FlowVectors {
  flow: { solver: string; steps: number; rMin: number; rMax: number; dtype: string }
  grids: { steps: number; rMin: number; rMax: number; grid: number[] }[]
  codebook: Codebook
  cases: FlowCase[]
  large: { codebook: Codebook; cases: FlowCase[] }
}

const VECTORS = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, '../../models/spec/flow-vectors.json'), 'utf8'),
) as FlowVectors

const SPEC: FlowSpec = { steps: VECTORS.flow.steps, rMin: VECTORS.flow.rMin, rMax: VECTORS.flow.rMax }
// The file's float32 values are decimals that round back to the exact float32 (checked when it is written).
const BOOK = Float32Array.from(VECTORS.codebook.values)
const LARGE_BOOK = Float32Array.from(VECTORS.large.codebook.values)

function denseP(c: FlowCase, vocab: number): Float64Array {
  const p = new Float64Array(vocab)
  c.codes.forEach((code, i) => {
    p[code] = c.p[i] as number
  })
  return p
}

type MapFn = typeof flowMap

/** Cases whose token differs from Python's, as readable strings (empty when all agree). */
function mismatches(cases: FlowCase[], book: Float32Array, vocab: number, dim: number, map: MapFn): string[] {
  const bad: string[] = []
  cases.forEach((c, i) => {
    const want = map === flowMap ? c.token : c.tokenSupport
    const got = map(denseP(c, vocab), book, vocab, dim, c.eps, SPEC)
    if (got !== want) bad.push(`case ${i} (${c.kind}, support ${c.support}): ${got}, Python ${want}`)
  })
  return bad
}

/** P(X > x) for X ~ chi-square with k dof: Wilson-Hilferty's normal approximation of (X / k)^(1/3). */
function chiSquareSurvival(x: number, k: number): number {
  const v = 2 / (9 * k)
  const z = (Math.cbrt(x / k) - (1 - v)) / Math.sqrt(v)
  return normalSurvival(z)
}

/** P(Z > z) for a standard normal, through erfc (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalSurvival(z: number): number {
  const x = Math.abs(z) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * x)
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
  const erfc = poly * Math.exp(-x * x)
  return z >= 0 ? erfc / 2 : 1 - erfc / 2
}

/** Pearson chi-square of counts against p (bins expecting fewer than 5 pooled) -> p-value. */
function chiSquarePValue(counts: ArrayLike<number>, p: Float64Array): number {
  let n = 0
  for (let i = 0; i < counts.length; i++) n += counts[i] as number
  let stat = 0
  let bins = 0
  let poolObserved = 0
  let poolExpected = 0
  for (let i = 0; i < p.length; i++) {
    const expected = (p[i] as number) * n
    const observed = counts[i] as number
    if (expected >= 5) {
      stat += (observed - expected) ** 2 / expected
      bins++
    } else {
      poolObserved += observed
      poolExpected += expected
    }
  }
  if (poolExpected >= 5) {
    stat += (poolObserved - poolExpected) ** 2 / poolExpected
    bins++
  }
  return chiSquareSurvival(stat, bins - 1)
}

describe('the shared vectors', () => {
  it('cover the pack settings and every shaping option', () => {
    expect(VECTORS.flow.solver).toBe('ab2-snr')
    expect(VECTORS.flow.dtype).toBe('float64')
    expect(SPEC).toEqual({ steps: 48, rMin: 0.05, rMax: 300 })
    expect(VECTORS.cases.length).toBeGreaterThanOrEqual(300)
    const settings = (key: 'cfgScale' | 'temperature' | 'topK' | 'topP') =>
      new Set(VECTORS.cases.map((c) => c[key]))
    expect([...settings('cfgScale')]).toEqual(expect.arrayContaining([1, 2, 4]))
    expect([...settings('temperature')]).toEqual(expect.arrayContaining([0, 0.7, 1, 1.3]))
    expect([...settings('topK')]).toEqual(expect.arrayContaining([0, 8, 32, 64]))
    expect([...settings('topP')]).toEqual(expect.arrayContaining([1, 0.9, 0.5]))
    const kinds = new Set(VECTORS.cases.map((c) => c.kind))
    expect([...kinds]).toEqual(expect.arrayContaining(['random', 'peaked', 'ties', 'pairs', 'flat']))
    // Both paths of flowMapSupport: the support map (fewer than vocab / 2 codes) and the full-map fallback.
    expect(VECTORS.cases.some((c) => c.support > 1 && c.support < 32)).toBe(true)
    expect(VECTORS.cases.some((c) => c.support >= 32)).toBe(true)
    expect(VECTORS.large.cases.every((c) => c.support <= 64 && c.support > 1)).toBe(true)
  })

  it('Python itself gets the same token from flow_map and flow_map_support', () => {
    for (const c of [...VECTORS.cases, ...VECTORS.large.cases]) expect(c.tokenSupport).toBe(c.token)
  })
})

describe('flowGrid', () => {
  it('equals FlowSpec.grid() bit for bit, for the pack settings and others', () => {
    expect(VECTORS.grids[0]).toMatchObject(SPEC)
    for (const { grid, ...spec } of VECTORS.grids) {
      const ours = flowGrid(spec)
      expect(ours.length).toBe(spec.steps + 1)
      expect(Array.from(ours), JSON.stringify(spec)).toEqual(grid)
    }
  })

  it('is within one ulp of ** (V8 pow, not always correctly rounded)', () => {
    const spec = { steps: 200, rMin: 0.01, rMax: 5000 }
    const ratio = spec.rMax / spec.rMin
    flowGrid(spec).forEach((r, i) => {
      const naive = i === 0 ? 0 : spec.rMin * ratio ** ((i - 1) / (spec.steps - 1))
      expect(Math.abs(r - naive)).toBeLessThanOrEqual(2 * Number.EPSILON * r)
    })
  })

  it('rejects grids the solver cannot use', () => {
    expect(() => flowGrid({ steps: 1, rMin: 0.05, rMax: 300 })).toThrow(RangeError)
    expect(() => flowGrid({ steps: 4.5, rMin: 0.05, rMax: 300 })).toThrow(RangeError)
    expect(() => flowGrid({ steps: 48, rMin: 0, rMax: 300 })).toThrow(RangeError)
    expect(() => flowGrid({ steps: 48, rMin: 1, rMax: 1 })).toThrow(RangeError)
  })
})

describe('shapeDistribution matches shape_distribution', () => {
  it('the same zero pattern and p within 1e-12 relative, in every case', () => {
    let worst = 0
    VECTORS.cases.forEach((c, i) => {
      const cond = Float32Array.from(c.cond ?? [])
      const uncond = c.uncond ? Float32Array.from(c.uncond) : null
      const p = shapeDistribution(cond, uncond, c)
      const want = denseP(c, VECTORS.codebook.vocab)
      expect(
        Array.from(p, (x) => x > 0),
        `case ${i} support`,
      ).toEqual(Array.from(want, (x) => x > 0))
      want.forEach((w, j) => {
        if (w > 0) worst = Math.max(worst, Math.abs((p[j] as number) - w) / w)
      })
    })
    expect(worst).toBeLessThan(1e-12)
  })

  it('its p drives the map to Python tokens too (logits to token, end to end)', () => {
    const { vocab, dim } = VECTORS.codebook
    const bad = VECTORS.cases.filter((c) => {
      const p = shapeDistribution(
        Float32Array.from(c.cond ?? []),
        c.uncond ? Float32Array.from(c.uncond) : null,
        c,
      )
      return flowMapSupport(p, BOOK, vocab, dim, c.eps, SPEC) !== c.token
    })
    expect(bad.length).toBe(0)
  })

  it('applies CFG only with uncond and cfgScale != 1; temperature 0 is greedy', () => {
    const cond = Float32Array.from([1, 2, 3, 0])
    const uncond = Float32Array.from([3, 2, 1, 0])
    const base = { cfgScale: 1, temperature: 1, topK: 0, topP: 1 }
    expect(shapeDistribution(cond, uncond, base)).toEqual(shapeDistribution(cond, null, base))
    expect(shapeDistribution(cond, null, { ...base, cfgScale: 3 })).toEqual(
      shapeDistribution(cond, null, base),
    )
    const guided = shapeDistribution(cond, uncond, { ...base, cfgScale: 2 }) // logits -1, 2, 5, 0
    expect(guided[2]).toBeGreaterThan(shapeDistribution(cond, null, base)[2] as number)
    expect(Array.from(shapeDistribution(cond, null, { ...base, temperature: 0 }))).toEqual([0, 0, 1, 0])
  })

  it('keeps every logit tied with the k-th largest; top-p keeps the smallest prefix reaching topP', () => {
    const base = { cfgScale: 1, temperature: 1, topK: 0, topP: 1 }
    const tied = Float32Array.from([0, 5, 3, 3, 3, 1])
    expect(Array.from(shapeDistribution(tied, null, { ...base, topK: 2 }), (x) => x > 0)).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
    ])
    expect(Array.from(shapeDistribution(tied, null, { ...base, topK: 1 }))).toEqual([0, 1, 0, 0, 0, 0])
    const logp = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)])
    const kept = (topP: number) =>
      Array.from(shapeDistribution(logp, null, { ...base, topP }), (x) => x > 0).filter(Boolean).length
    expect([kept(0.4), kept(0.6), kept(0.85), kept(0.9), kept(0.99)]).toEqual([1, 2, 3, 3, 4])
    expect(() => shapeDistribution(tied, Float32Array.from([1]), { ...base, cfgScale: 2 })).toThrow(
      RangeError,
    )
  })
})

describe('flowMap and flowMapSupport give Python tokens', () => {
  const { vocab, dim } = VECTORS.codebook

  it(`flowMap: every case of the 64-code book`, () => {
    expect(mismatches(VECTORS.cases, BOOK, vocab, dim, flowMap)).toEqual([])
  })

  it('flowMapSupport: every case of the 64-code book', () => {
    expect(mismatches(VECTORS.cases, BOOK, vocab, dim, flowMapSupport)).toEqual([])
  })

  it('both: every case of the 512-code book with top-k 64 (the app: support maps over 64 codes)', () => {
    const large = VECTORS.large.codebook
    expect(mismatches(VECTORS.large.cases, LARGE_BOOK, large.vocab, large.dim, flowMap)).toEqual([])
    expect(mismatches(VECTORS.large.cases, LARGE_BOOK, large.vocab, large.dim, flowMapSupport)).toEqual([])
  })

  it('takes the book as float32 or float64, eps as any array', () => {
    const c = VECTORS.large.cases[0] as FlowCase
    const { vocab: v, dim: d } = VECTORS.large.codebook
    const p = denseP(c, v)
    expect(flowMapSupport(p, Float64Array.from(LARGE_BOOK), v, d, Float32Array.from(c.eps), SPEC)).toBe(
      c.token,
    )
  })

  it('rejects inputs of the wrong size', () => {
    const p = new Float64Array(vocab).fill(1 / vocab)
    const eps = new Float32Array(dim)
    expect(() => flowMap(p.subarray(1), BOOK, vocab, dim, eps, SPEC)).toThrow(RangeError)
    expect(() => flowMap(p, BOOK.subarray(8), vocab, dim, eps, SPEC)).toThrow(RangeError)
    expect(() => flowMapSupport(p, BOOK, vocab, dim, eps.subarray(1), SPEC)).toThrow(RangeError)
    expect(() => flowMap(p, BOOK, vocab, dim, eps, { ...SPEC, steps: 1 })).toThrow(RangeError)
    expect(() => flowMap(new Float64Array(vocab), BOOK, vocab, dim, eps, SPEC)).toThrow(/positive/)
    expect(() => flowMapSupport(new Float64Array(vocab), BOOK, vocab, dim, eps, SPEC)).toThrow(/positive/)
  })
})

/**
 * The map written plainly, one full pass per operation, in the order of every float64 operation that the
 * pipeline's tokens were first reproduced with (support sorted by descending p, ties in code order; four-lane
 * sums; exp of every row). FlowMapper skips work whose result is known exactly; it must give the same bits.
 */
function plainMap(
  p: Float64Array,
  book: Float32Array,
  vocab: number,
  dim: number,
  eps: ArrayLike<number>,
  support: boolean,
): { token: number; logits: Float64Array } {
  let codes = Array.from({ length: vocab }, (_, j) => j)
  const positive = codes.filter((j) => (p[j] as number) > 0)
  if (support && positive.length < Math.floor(vocab / 2)) {
    codes = positive.sort((a, b) => (p[b] as number) - (p[a] as number) || a - b)
  }
  const n = codes.length
  const lanes = (x: Float64Array): number => {
    const s = [0, 0, 0, 0]
    x.forEach((v, i) => {
      s[i % 4] = (s[i % 4] as number) + v
    })
    return (s[0] as number) + (s[1] as number) + (s[2] as number) + (s[3] as number)
  }
  const rows = codes.map((j) => Float64Array.from(book.subarray(j * dim, (j + 1) * dim)))
  const logp = codes.map((j) => Math.log(p[j] as number))
  const sq = rows.map((row) => lanes(row.map((v) => v * v)))
  const logits = (y: Float64Array, r: number): Float64Array =>
    Float64Array.from(rows, (row, j) => {
      let dot = 0
      for (let d = 0; d < dim; d++) dot += (y[d] as number) * (row[d] as number)
      return (logp[j] as number) + r * dot - 0.5 * r * r * (sq[j] as number)
    })
  const grid = flowGrid(SPEC)
  let y = Float64Array.from(eps)
  let prevC = new Float64Array(dim)
  for (let k = 0; k + 1 < grid.length; k++) {
    const r = grid[k] as number
    const h = (grid[k + 1] as number) - r
    const z = logits(y, r)
    const max = Math.max(...z)
    const e = z.map((v) => Math.exp(v - max))
    const inv = 1 / lanes(e)
    const c = new Float64Array(dim)
    e.forEach((v, j) => {
      const w = v * inv
      for (let d = 0; d < dim; d++) c[d] = (c[d] as number) + w * ((rows[j] as Float64Array)[d] as number)
    })
    const g = k === 0 ? 0 : h / (2.0 * (r - (grid[k - 1] as number)))
    y = y.map((v, d) =>
      k === 0
        ? v + h * (c[d] as number)
        : v + h * ((c[d] as number) + ((c[d] as number) - (prevC[d] as number)) * g),
    )
    prevC = c
  }
  const z = logits(y, grid[grid.length - 1] as number)
  let best = 0
  for (let j = 1; j < n; j++) if ((z[j] as number) > (z[best] as number)) best = j
  return { token: codes[best] as number, logits: z }
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  return x.every((v, i) => v === y[i])
}

describe('FlowMapper computes every bit of the plain map', () => {
  /** A book [vocab, dim] from dd-noise-v1, times `scale` (rows L2-normalised when scale is 0). */
  function bookOf(seed: number, vocab: number, dim: number, scale: number): Float32Array {
    const book = gaussianNoiseBatch(seed, vocab, dim)
    for (let j = 0; j < vocab; j++) {
      const row = book.subarray(j * dim, (j + 1) * dim)
      const norm = Math.hypot(...row)
      for (let d = 0; d < dim; d++)
        row[d] = scale === 0 ? (row[d] as number) / norm : (row[d] as number) * scale
    }
    return book
  }

  // [vocab, dim, book scale (0: unit rows), top-k values]: the app's dim 8 on unit rows (LlamaGen), VAR's dim 32
  // with large norms (most weights underflow in the late steps), odd dims and supports for the remainder loops.
  const books: [number, number, number, number[]][] = [
    [512, 8, 0, [0, 300, 255, 64, 7]],
    [300, 32, 1, [0, 149, 90, 13]],
    [97, 13, 3, [0, 47, 46, 45, 2]],
    [40, 5, 0.5, [0, 19, 6, 1]],
  ]

  it('the same token and the same final logits, bit for bit, on both paths', () => {
    const mapper = new FlowMapper()
    let cases = 0
    books.forEach(([vocab, dim, scale, topKs], b) => {
      const book = bookOf(10 + b, vocab, dim, scale)
      const raw = gaussianNoiseBatch(20 + b, 3, vocab)
      const eps = gaussianNoiseBatch(30 + b, 8, dim)
      for (const [t, std] of [0.5, 3, 12].entries()) {
        // Logits rounded to quarters on the third draw: many exactly tied p, so the support order's ties matter.
        const cond = Float32Array.from(raw.subarray(t * vocab, (t + 1) * vocab), (v) =>
          t === 2 ? Math.round(v * std * 4) / 4 : v * std,
        )
        for (const topK of topKs) {
          const p = shapeDistribution(cond, null, { cfgScale: 1, temperature: 1, topK, topP: 1 })
          for (let i = 0; i < 2; i++) {
            const e = eps.subarray((i + 2 * t) * dim, (i + 2 * t + 1) * dim)
            for (const support of [false, true]) {
              const want = plainMap(p, book, vocab, dim, e, support)
              const label = `book ${b} (${vocab} x ${dim}), logit std ${std}, top-k ${topK}, eps ${i}, support ${support}`
              const got = support
                ? mapper.mapSupport(p, book, vocab, dim, e, SPEC)
                : mapper.map(p, book, vocab, dim, e, SPEC)
              expect(got, label).toBe(want.token)
              expect(sameBits(mapper.finalLogits(), want.logits), label).toBe(true)
              cases++
            }
          }
        }
      }
    })
    expect(cases).toBe(2 * 3 * 2 * books.reduce((sum, [, , , topKs]) => sum + topKs.length, 0))
  })

  it('Math.exp is exactly 0 below -746, where the map leaves it out', () => {
    for (let x = -746; x > -2000; x -= 0.37) expect(Math.exp(x)).toBe(0)
    for (const x of [-746, -1e5, -1e308, Number.NEGATIVE_INFINITY]) expect(Math.exp(x)).toBe(0)
    expect(Math.exp(-745)).toBeGreaterThan(0) // the cut is not loose by more than one unit
  })
})

describe('the map is deterministic and carries N(0, I) onto p', () => {
  const { vocab, dim } = VECTORS.codebook
  // A fixed p over 16 of the 64 codes, from 2 to 11 percent.
  const p = new Float64Array(vocab)
  const support = Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % vocab)
  let total = 0
  support.forEach((code, i) => {
    p[code] = 2 + i * 0.6
    total += 2 + i * 0.6
  })
  for (const code of support) p[code] = (p[code] as number) / total

  it('the same eps gives the same token, whatever ran in between and in whichever mapper', () => {
    const noise = gaussianNoiseBatch(11, 50, dim)
    const other = VECTORS.cases[7] as FlowCase
    const first = Array.from({ length: 50 }, (_, i) =>
      flowMapSupport(p, BOOK, vocab, dim, noise.subarray(i * dim, (i + 1) * dim), SPEC),
    )
    const mapper = new FlowMapper()
    for (let i = 0; i < 50; i++) {
      const eps = noise.subarray(i * dim, (i + 1) * dim)
      flowMap(denseP(other, vocab), BOOK, vocab, dim, other.eps, SPEC)
      expect(flowMapSupport(p, BOOK, vocab, dim, eps, SPEC)).toBe(first[i])
      expect(mapper.mapSupport(p, BOOK, vocab, dim, Array.from(eps), SPEC)).toBe(first[i])
      expect(flowMap(p, BOOK, vocab, dim, eps, SPEC)).toBe(first[i])
    }
    // The scratch space grows and shrinks back without changing an answer.
    const large = VECTORS.large.cases[1] as FlowCase
    expect(
      mapper.mapSupport(denseP(large, 512), LARGE_BOOK, 512, dim, large.eps, SPEC) === large.token &&
        mapper.mapSupport(p, BOOK, vocab, dim, noise.subarray(0, dim), SPEC) === first[0],
    ).toBe(true)
  })

  it('20,000 draws of dd-noise-v1 give tokens distributed as p (chi-square p-value > 0.001)', () => {
    const n = 20_000
    const noise = gaussianNoiseBatch(2024, n, dim)
    const counts = new Float64Array(vocab)
    let disagree = 0
    for (let i = 0; i < n; i++) {
      const eps = noise.subarray(i * dim, (i + 1) * dim)
      const token = flowMapSupport(p, BOOK, vocab, dim, eps, SPEC)
      counts[token] = (counts[token] as number) + 1
      if (i % 10 === 0 && flowMap(p, BOOK, vocab, dim, eps, SPEC) !== token) disagree++
    }
    for (let j = 0; j < vocab; j++) if (!((p[j] as number) > 0)) expect(counts[j]).toBe(0)
    expect(chiSquarePValue(counts, p)).toBeGreaterThan(0.001)
    expect(disagree).toBe(0)
  })

  it('is fast: a 64-token image at the app size (512 codes, top-k 64) in well under 100 ms', () => {
    const c = VECTORS.large.cases.find((x) => x.support === 64) as FlowCase
    const pLarge = denseP(c, 512)
    const noise = gaussianNoiseBatch(3, 1, 64 * dim)
    flowMapSupport(pLarge, LARGE_BOOK, 512, dim, noise.subarray(0, dim), SPEC) // warm up
    const t0 = performance.now()
    for (let pos = 0; pos < 64; pos++) {
      flowMapSupport(pLarge, LARGE_BOOK, 512, dim, noise.subarray(pos * dim, (pos + 1) * dim), SPEC)
    }
    expect(performance.now() - t0).toBeLessThan(100)
  })
})

describe('sampleCategorical', () => {
  const p = Float64Array.from([0, 0.25, 0, 0.5, 0.25, 0])

  it('is the inverse CDF over the codes with p > 0', () => {
    expect(sampleCategorical(p, 0)).toBe(1)
    expect(sampleCategorical(p, 0.2499)).toBe(1)
    expect(sampleCategorical(p, 0.25)).toBe(3)
    expect(sampleCategorical(p, 0.7499)).toBe(3)
    expect(sampleCategorical(p, 0.75)).toBe(4)
    expect(sampleCategorical(p, 0.999999)).toBe(4)
  })

  it('returns the last code with p > 0 when rounding leaves u above the total', () => {
    const short = Float64Array.from([0.3, 0.3, 0.3, 0, 0]) // sums to 0.9 (as if rounded badly)
    expect(sampleCategorical(short, 0.95)).toBe(2)
    expect(sampleCategorical(Float64Array.from([0, 1, 0]), 1)).toBe(1)
    expect(() => sampleCategorical(new Float64Array(3), 0.5)).toThrow(RangeError)
  })

  it('evenly spaced u give each code its share, to within one in N', () => {
    const shaped = denseP(VECTORS.cases[3] as FlowCase, VECTORS.codebook.vocab)
    const n = 100_000
    const counts = new Float64Array(shaped.length)
    for (let i = 0; i < n; i++) {
      const j = sampleCategorical(shaped, (i + 0.5) / n)
      counts[j] = (counts[j] as number) + 1
    }
    shaped.forEach((pj, j) => {
      expect(Math.abs((counts[j] as number) - pj * n)).toBeLessThanOrEqual(1)
    })
  })
})
