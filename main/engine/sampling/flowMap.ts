/**
 * The teacher's deterministic noise -> token map (solver "ab2-snr"), ported from models/ddpipe/mapping.py.
 *
 * For one position the teacher gives a categorical p over codebook vectors c_j. In the variables r = t / (1 - t),
 * y = x / (1 - t) of the straight flow x_t = (1 - t) eps + t c, the map integrates
 *
 *     dy/dr = sum_j w_j c_j,   w = softmax_j( log p_j + r y.c_j - r^2 |c_j|^2 / 2 ),   y(0) = eps
 *
 * over the grid r_0 = 0, r_1..r_steps geometric from rMin to rMax, with variable-step Adams-Bashforth 2 (Euler
 * first), and the token is the argmax of those logits at rMax. Everything is float64, with the operations in the
 * order mapping.py writes them. Bit-identical intermediates are out of reach (torch's exp is SLEEF's, its
 * matrix products are OpenBLAS kernels with fused multiply-add, and JS has neither), so what the shared vectors
 * (models/spec/flow-vectors.json) pin is the token: only rounding right at a decision boundary could change it.
 * Where torch's CPU order is known and cheap to follow (softmax and |c|^2 sums over 4 lanes, softmax
 * normalised by a reciprocal), it is followed, to keep the two as close as possible.
 */

/** The map's grid: r_0 = 0, then `steps` points from rMin to rMax, geometric (a pack manifest's "flow"). */
export interface FlowSpec {
  steps: number
  rMin: number
  rMax: number
}

function checkSpec(spec: FlowSpec): void {
  if (!Number.isSafeInteger(spec.steps) || spec.steps < 2) {
    throw new RangeError(`flow steps must be an integer >= 2, got ${String(spec.steps)}`)
  }
  if (!(spec.rMin > 0 && spec.rMax > spec.rMin && Number.isFinite(spec.rMax))) {
    throw new RangeError(`flow needs 0 < rMin < rMax < inf, got rMin ${spec.rMin}, rMax ${spec.rMax}`)
  }
}

/**
 * [0, r_1, ..., r_steps], each r_k as FlowSpec.grid() computes it: rMin * ratio ** ((k - 1) / (steps - 1)).
 * Python's ** is C pow(), which in glibc is correctly rounded all but very rarely (its bound is 0.52 ulp); V8's
 * Math.pow is not (it is off by one ulp in 6 of the 48 points of the pack settings). So the power is computed
 * here to 190 bits and rounded once: the same bits as Python for every grid in the shared vectors.
 */
export function flowGrid(spec: FlowSpec): Float64Array {
  checkSpec(spec)
  const ratio = spec.rMax / spec.rMin
  const lnRatio = fixedLn(ratio)
  const grid = new Float64Array(spec.steps + 1)
  for (let k = 0; k < spec.steps; k++) grid[k + 1] = spec.rMin * fixedPow(lnRatio, k / (spec.steps - 1))
  return grid
}

// Fixed-point reals with FRAC fraction bits, for the grid's powers only (a few thousand BigInt operations).
const FRAC = 192n
const ONE = 1n << FRAC

/** x > 0 (a finite double) as mantissa * 2^exponent with an integer mantissa. */
function decompose(x: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  const biased = Number((bits >> 52n) & 0x7ffn)
  const fraction = bits & ((1n << 52n) - 1n)
  return biased === 0 ? [fraction, -1074] : [fraction | (1n << 52n), biased - 1075]
}

/** atanh(s) for fixed-point |s| <= 1/3: s + s^3/3 + s^5/5 + ... until the terms vanish. */
function fixedAtanh(s: bigint): bigint {
  const s2 = (s * s) >> FRAC
  let term = s
  let sum = 0n
  for (let k = 1n; term !== 0n; k += 2n) {
    sum += term / k
    term = (term * s2) >> FRAC
  }
  return sum
}

const LN2 = 2n * fixedAtanh(ONE / 3n) // ln 2 = 2 atanh(1/3)

/** ln x for a finite double x > 0: x = m 2^e with m in [1, 2), ln m = 2 atanh((m - 1) / (m + 1)). */
function fixedLn(x: number): bigint {
  const [mantissa, exponent] = decompose(x)
  const top = mantissa.toString(2).length - 1
  const m = mantissa << (FRAC - BigInt(top)) // exact: mantissa has at most 53 bits
  return BigInt(exponent + top) * LN2 + 2n * fixedAtanh(((m - ONE) << FRAC) / (m + ONE))
}

/** exp(y * ln) rounded once to the nearest double (y a double, ln fixed-point; the result a normal double). */
function fixedPow(ln: bigint, y: number): number {
  if (y === 0) return 1
  const [mantissa, exponent] = decompose(Math.abs(y))
  let t = exponent >= 0 ? (mantissa * ln) << BigInt(exponent) : (mantissa * ln) >> BigInt(-exponent)
  if (y < 0) t = -t
  // exp(t) = 2^k exp(r), |r| <= ln(2) / 2, exp(r) by its Taylor series.
  let k = t / LN2
  let r = t - k * LN2
  if (r > LN2 / 2n) {
    k += 1n
    r -= LN2
  } else if (r < -LN2 / 2n) {
    k -= 1n
    r += LN2
  }
  let term = ONE
  let sum = ONE
  for (let n = 1n; term !== 0n; n++) {
    term = (term * r) / (n << FRAC)
    sum += term
  }
  // Number(bigint) rounds to nearest, ties to even; the power-of-two scaling after it is exact.
  return Number(sum) * powerOfTwo(Number(k) - Number(FRAC))
}

/** 2^e for a normal exponent, from its bits (no pow involved). */
function powerOfTwo(e: number): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(e + 1023) << 52n)
  return view.getFloat64(0)
}

/**
 * Sum of four interleaved lanes folded left to right: torch's CPU reduce_all over Vectorized<double> (AVX2), used
 * by softmax and by the sum of |c_j|^2. Lane l holds the elements at index = l (mod 4); empty lanes add 0 exactly.
 */
export function laneSum(x: Float64Array, start: number, n: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let i = 0
  for (; i + 4 <= n; i += 4) {
    s0 += x[start + i] as number
    s1 += x[start + i + 1] as number
    s2 += x[start + i + 2] as number
    s3 += x[start + i + 3] as number
  }
  if (i < n) s0 += x[start + i] as number
  if (i + 1 < n) s1 += x[start + i + 1] as number
  if (i + 2 < n) s2 += x[start + i + 2] as number
  return s0 + s1 + s2 + s3
}

/**
 * Scratch space for the map, grown on demand and reused: a 64-token image calls it 64 times with up to 48 steps
 * each, and nothing in the step loop allocates. Not reentrant (one map at a time per instance).
 */
export class FlowMapper {
  private capacity = 0
  private dimCapacity = 0
  private logp = new Float64Array(0)
  private book = new Float64Array(0) // the n rows in use, float64, row-major [n, dim]
  private sq = new Float64Array(0)
  private z = new Float64Array(0) // logits, then exp, then weights
  private order = new Int32Array(0) // support codes, most likely first
  private y = new Float64Array(0)
  private c = new Float64Array(0)
  private prevC = new Float64Array(0)
  private sqScratch = new Float64Array(0)
  private grid: Float64Array = new Float64Array(0)
  private gridSpec: FlowSpec = { steps: 0, rMin: 0, rMax: 0 }

  /** The token for one position: p [vocab] (zeros allowed), book [vocab, dim] row-major, eps [dim]. */
  map(
    p: Float64Array,
    book: Float32Array | Float64Array,
    vocab: number,
    dim: number,
    eps: ArrayLike<number>,
    spec: FlowSpec,
  ): number {
    this.prepare(p, book, vocab, dim, eps, spec)
    let positive = false
    for (let j = 0; j < vocab; j++) {
      const pj = p[j] as number
      this.logp[j] = Math.log(pj) // 0 -> -inf: zero weight
      if (pj > 0) positive = true
    }
    if (!positive) throw new RangeError('p has no positive entry')
    const rows = this.book
    for (let i = 0; i < vocab * dim; i++) rows[i] = book[i] as number
    return this.solve(vocab, dim, eps)
  }

  /**
   * The same map over the codes with p > 0 only (flow_map_support): after top-k there are few, and the others
   * have exactly zero weight at every step, so only rounding can differ. From vocab / 2 codes up the full map
   * is used, as in Python.
   */
  mapSupport(
    p: Float64Array,
    book: Float32Array | Float64Array,
    vocab: number,
    dim: number,
    eps: ArrayLike<number>,
    spec: FlowSpec,
  ): number {
    this.prepare(p, book, vocab, dim, eps, spec)
    let n = 0
    for (let j = 0; j < vocab; j++) if ((p[j] as number) > 0) this.order[n++] = j
    if (n === 0) throw new RangeError('p has no positive entry')
    if (n >= Math.floor(vocab / 2)) return this.map(p, book, vocab, dim, eps, spec)
    // torch.topk order: descending p. Ties (which only move rounding) go to the lower index. Insertion sort:
    // n < vocab / 2 is small, and it needs no comparator closure.
    const order = this.order
    for (let i = 1; i < n; i++) {
      const j = order[i] as number
      const pj = p[j] as number
      let k = i - 1
      while (k >= 0 && (p[order[k] as number] as number) < pj) {
        order[k + 1] = order[k] as number
        k--
      }
      order[k + 1] = j
    }
    const rows = this.book
    for (let i = 0; i < n; i++) {
      const j = order[i] as number
      this.logp[i] = Math.log(p[j] as number)
      for (let d = 0; d < dim; d++) rows[i * dim + d] = book[j * dim + d] as number
    }
    return order[this.solve(n, dim, eps)] as number
  }

  private prepare(
    p: Float64Array,
    book: Float32Array | Float64Array,
    vocab: number,
    dim: number,
    eps: ArrayLike<number>,
    spec: FlowSpec,
  ): void {
    if (!Number.isSafeInteger(vocab) || vocab < 1 || !Number.isSafeInteger(dim) || dim < 1) {
      throw new RangeError(`vocab and dim must be positive integers, got ${vocab} and ${dim}`)
    }
    if (p.length !== vocab || book.length !== vocab * dim || eps.length !== dim) {
      throw new RangeError(
        `expected p [${vocab}], book [${vocab}, ${dim}], eps [${dim}]; ` +
          `got ${p.length}, ${book.length}, ${eps.length} values`,
      )
    }
    if (vocab > this.capacity) {
      this.capacity = vocab
      this.logp = new Float64Array(vocab)
      this.sq = new Float64Array(vocab)
      this.z = new Float64Array(vocab)
      this.order = new Int32Array(vocab)
    }
    if (vocab * dim > this.book.length) this.book = new Float64Array(vocab * dim)
    if (dim > this.dimCapacity) {
      this.dimCapacity = dim
      this.y = new Float64Array(dim)
      this.c = new Float64Array(dim)
      this.prevC = new Float64Array(dim)
      this.sqScratch = new Float64Array(dim)
    }
    const cached = this.gridSpec
    if (spec.steps !== cached.steps || spec.rMin !== cached.rMin || spec.rMax !== cached.rMax) {
      this.grid = flowGrid(spec) // milliseconds (exact powers): once per spec, not per call
      this.gridSpec = { steps: spec.steps, rMin: spec.rMin, rMax: spec.rMax }
    }
  }

  /** Integrates over the first n rows of logp/book and returns the row index of the final argmax. */
  private solve(n: number, dim: number, eps: ArrayLike<number>): number {
    const { book, sq, y, c, prevC, sqScratch, grid } = this
    for (let j = 0; j < n; j++) {
      for (let d = 0; d < dim; d++) {
        const b = book[j * dim + d] as number
        sqScratch[d] = b * b
      }
      sq[j] = laneSum(sqScratch, 0, dim)
    }
    for (let d = 0; d < dim; d++) y[d] = eps[d] as number
    let prevR = 0
    const last = grid.length - 1
    for (let k = 0; k < last; k++) {
      const r = grid[k] as number
      const h = (grid[k + 1] as number) - r
      this.posteriorMean(n, dim, r)
      if (k === 0) {
        for (let d = 0; d < dim; d++) y[d] = (y[d] as number) + h * (c[d] as number)
      } else {
        // Adams-Bashforth 2 with variable steps: extrapolate chat linearly from the last two evaluations.
        const g = h / (2.0 * (r - prevR))
        for (let d = 0; d < dim; d++) {
          const cd = c[d] as number
          y[d] = (y[d] as number) + h * (cd + (cd - (prevC[d] as number)) * g)
        }
      }
      prevR = r
      for (let d = 0; d < dim; d++) prevC[d] = c[d] as number
    }
    this.logits(n, dim, grid[last] as number)
    // torch.argmax: the first maximum.
    const z = this.z
    let best = 0
    let bestZ = z[0] as number
    for (let j = 1; j < n; j++) {
      const zj = z[j] as number
      if (zj > bestZ) {
        bestZ = zj
        best = j
      }
    }
    return best
  }

  /** z_j = log p_j + r y.c_j - (r^2 / 2) |c_j|^2, grouped as mapping._logits does; returns max_j z_j. */
  private logits(n: number, dim: number, r: number): number {
    const { logp, book, sq, z, y } = this
    const a = 0.5 * r * r
    let max = Number.NEGATIVE_INFINITY
    if (dim === 8) {
      // Every pack's codebook_dim: unrolled (same order, left to right) it is about a quarter faster.
      const y0 = y[0] as number
      const y1 = y[1] as number
      const y2 = y[2] as number
      const y3 = y[3] as number
      const y4 = y[4] as number
      const y5 = y[5] as number
      const y6 = y[6] as number
      const y7 = y[7] as number
      for (let j = 0, row = 0; j < n; j++, row += 8) {
        const dot =
          y0 * (book[row] as number) +
          y1 * (book[row + 1] as number) +
          y2 * (book[row + 2] as number) +
          y3 * (book[row + 3] as number) +
          y4 * (book[row + 4] as number) +
          y5 * (book[row + 5] as number) +
          y6 * (book[row + 6] as number) +
          y7 * (book[row + 7] as number)
        const zj = (logp[j] as number) + r * dot - a * (sq[j] as number)
        z[j] = zj
        if (zj > max) max = zj
      }
      return max
    }
    for (let j = 0; j < n; j++) {
      let dot = 0
      const row = j * dim
      for (let d = 0; d < dim; d++) dot += (y[d] as number) * (book[row + d] as number)
      const zj = (logp[j] as number) + r * dot - a * (sq[j] as number)
      z[j] = zj
      if (zj > max) max = zj
    }
    return max
  }

  /** c = softmax(z) @ book, the softmax as torch's: exp(z - max), lane sum, times the reciprocal of the sum. */
  private posteriorMean(n: number, dim: number, r: number): void {
    const { book, z, c } = this
    const max = this.logits(n, dim, r)
    for (let j = 0; j < n; j++) z[j] = Math.exp((z[j] as number) - max)
    const inv = 1 / laneSum(z, 0, n)
    // Codes in index order; an underflowed weight adds exactly nothing, so it is skipped.
    if (dim === 8) {
      let c0 = 0
      let c1 = 0
      let c2 = 0
      let c3 = 0
      let c4 = 0
      let c5 = 0
      let c6 = 0
      let c7 = 0
      for (let j = 0, row = 0; j < n; j++, row += 8) {
        const w = (z[j] as number) * inv
        if (w === 0) continue
        c0 += w * (book[row] as number)
        c1 += w * (book[row + 1] as number)
        c2 += w * (book[row + 2] as number)
        c3 += w * (book[row + 3] as number)
        c4 += w * (book[row + 4] as number)
        c5 += w * (book[row + 5] as number)
        c6 += w * (book[row + 6] as number)
        c7 += w * (book[row + 7] as number)
      }
      c[0] = c0
      c[1] = c1
      c[2] = c2
      c[3] = c3
      c[4] = c4
      c[5] = c5
      c[6] = c6
      c[7] = c7
      return
    }
    c.fill(0, 0, dim)
    for (let j = 0; j < n; j++) {
      const w = (z[j] as number) * inv
      if (w === 0) continue
      const row = j * dim
      for (let d = 0; d < dim; d++) c[d] = (c[d] as number) + w * (book[row + d] as number)
    }
  }
}

const shared = new FlowMapper()

/**
 * The teacher's token for one position (flow_map): p [vocab] with zeros allowed, book [vocab, dim] row-major,
 * eps [dim] (the position's dd-noise-v1 values). The same inputs always give the same token.
 */
export function flowMap(
  p: Float64Array,
  book: Float32Array | Float64Array,
  vocab: number,
  dim: number,
  eps: ArrayLike<number>,
  spec: FlowSpec,
): number {
  return shared.map(p, book, vocab, dim, eps, spec)
}

/** flowMap computed over the codes with p > 0 only (flow_map_support): the same token, less work after top-k. */
export function flowMapSupport(
  p: Float64Array,
  book: Float32Array | Float64Array,
  vocab: number,
  dim: number,
  eps: ArrayLike<number>,
  spec: FlowSpec,
): number {
  return shared.mapSupport(p, book, vocab, dim, eps, spec)
}
