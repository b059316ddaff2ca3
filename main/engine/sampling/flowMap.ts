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
 *
 * Speed without changing a bit: every float64 operation of the map is the one it has always been, in the same
 * order; the work saved is work whose result is known exactly without doing it. The support is ordered with a
 * merge sort (the same stable order as an insertion sort, in n log n rather than n^2: at top-k 8000 the
 * quadratic sort alone took 28 ms of the 32 ms of a token), exp is not called where it would return exactly
 * 0, the posterior mean visits only the codes whose weight is not 0, and for dims other than 8 (VAR: 32) dots
 * and sums go eight dims at a time, each still added up in its own order. test/unit/flowMap.test.ts checks every
 * bit of the final logits against the map written plainly; scripts/bench-flowmap.ts times both.
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
 * Below this, Math.exp returns exactly +0: V8's exp is fdlibm's, which returns 0 for every x < -745.1332191019411
 * (the true value is then under half the smallest subnormal), by an explicit branch. -746 leaves a margin; the
 * unit test pins Math.exp(-746) === 0. So a weight whose logit is this far below the maximum is 0 without calling
 * exp, and NaN (a comparison that is false) still goes through exp as before.
 */
const EXP_ZERO_BELOW = -746

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
  private z = new Float64Array(0) // logits, then exp(logit - max)
  private order = new Int32Array(0) // support codes, most likely first
  private spare = new Int32Array(0) // the merge sort's other buffer
  private live = new Int32Array(0) // per step: the rows whose exp is not 0, in row order
  private ws = new Float64Array(0) // per step: their weights (dims other than 8)
  private y = new Float64Array(0)
  private c = new Float64Array(0)
  private prevC = new Float64Array(0)
  private sqScratch = new Float64Array(0)
  private grid: Float64Array = new Float64Array(0)
  private lastRows = 0 // rows of the last map
  private gridSpec: FlowSpec = { steps: 0, rMin: 0, rMax: 0 }

  /**
   * The logits at rMax of the last map, one per row it integrated (for mapSupport: the support, most likely
   * code first). A view of scratch space, valid until the next map: for checks that compare every bit.
   */
  finalLogits(): Float64Array {
    return this.z.subarray(0, this.lastRows)
  }

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
    const order = this.sortSupport(p, n)
    const rows = this.book
    for (let i = 0; i < n; i++) {
      const j = order[i] as number
      this.logp[i] = Math.log(p[j] as number)
      for (let d = 0; d < dim; d++) rows[i * dim + d] = book[j * dim + d] as number
    }
    return order[this.solve(n, dim, eps)] as number
  }

  /**
   * this.order[0..n) (codes in increasing order) sorted by descending p, ties in code order: torch.topk's order
   * for distinct p (ties only move rounding), and exactly the order the stable insertion sort used to give. A
   * bottom-up merge sort, stable because a tie takes the left run first; returns the buffer that holds the result.
   */
  private sortSupport(p: Float64Array, n: number): Int32Array {
    let src = this.order
    let dst = this.spare
    for (let width = 1; width < n; width *= 2) {
      for (let lo = 0; lo < n; lo += 2 * width) {
        const mid = Math.min(lo + width, n)
        const hi = Math.min(lo + 2 * width, n)
        let a = lo
        let b = mid
        let out = lo
        while (a < mid && b < hi) {
          const left = src[a] as number
          const right = src[b] as number
          if ((p[left] as number) >= (p[right] as number)) {
            dst[out++] = left
            a++
          } else {
            dst[out++] = right
            b++
          }
        }
        while (a < mid) dst[out++] = src[a++] as number
        while (b < hi) dst[out++] = src[b++] as number
      }
      const t = src
      src = dst
      dst = t
    }
    return src
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
      this.spare = new Int32Array(vocab)
      this.live = new Int32Array(vocab)
      this.ws = new Float64Array(vocab)
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
    this.lastRows = n
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
    // Other dims (VAR: 32). Each dot is still 0 + y_0 c_0 + y_1 c_1 + ... in that order, but it is built eight
    // dims at a time for all rows, the partial sums kept in z: the rows' chains of dependent additions then
    // overlap, where a row at a time waits on each addition in turn.
    z.fill(0, 0, n)
    let d0 = 0
    for (; d0 + 8 <= dim; d0 += 8) {
      const y0 = y[d0] as number
      const y1 = y[d0 + 1] as number
      const y2 = y[d0 + 2] as number
      const y3 = y[d0 + 3] as number
      const y4 = y[d0 + 4] as number
      const y5 = y[d0 + 5] as number
      const y6 = y[d0 + 6] as number
      const y7 = y[d0 + 7] as number
      for (let j = 0, row = d0; j < n; j++, row += dim) {
        z[j] =
          (z[j] as number) +
          y0 * (book[row] as number) +
          y1 * (book[row + 1] as number) +
          y2 * (book[row + 2] as number) +
          y3 * (book[row + 3] as number) +
          y4 * (book[row + 4] as number) +
          y5 * (book[row + 5] as number) +
          y6 * (book[row + 6] as number) +
          y7 * (book[row + 7] as number)
      }
    }
    for (; d0 < dim; d0++) {
      const yd = y[d0] as number
      for (let j = 0, row = d0; j < n; j++, row += dim) z[j] = (z[j] as number) + yd * (book[row] as number)
    }
    for (let j = 0; j < n; j++) {
      const zj = (logp[j] as number) + r * (z[j] as number) - a * (sq[j] as number)
      z[j] = zj
      if (zj > max) max = zj
    }
    return max
  }

  /**
   * c = softmax(z) @ book, the softmax as torch's: exp(z - max), lane sum, times the reciprocal of the sum.
   * The exp pass also lists the rows whose exp is not 0; the product visits only those, in row order, which is
   * the order (and the set, less exact zeros) of a pass over all rows that skips zero weights.
   */
  private posteriorMean(n: number, dim: number, r: number): void {
    const { book, z, c, live } = this
    const max = this.logits(n, dim, r)
    // laneSum(exp(z - max)) fused into the exp pass: lane l sums the rows j = l (mod 4), each left to right.
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    let count = 0
    let j = 0
    for (; j + 4 <= n; j += 4) {
      const d0 = (z[j] as number) - max
      const e0 = d0 < EXP_ZERO_BELOW ? 0 : Math.exp(d0)
      const d1 = (z[j + 1] as number) - max
      const e1 = d1 < EXP_ZERO_BELOW ? 0 : Math.exp(d1)
      const d2 = (z[j + 2] as number) - max
      const e2 = d2 < EXP_ZERO_BELOW ? 0 : Math.exp(d2)
      const d3 = (z[j + 3] as number) - max
      const e3 = d3 < EXP_ZERO_BELOW ? 0 : Math.exp(d3)
      z[j] = e0
      z[j + 1] = e1
      z[j + 2] = e2
      z[j + 3] = e3
      s0 += e0
      s1 += e1
      s2 += e2
      s3 += e3
      if (e0 !== 0) live[count++] = j
      if (e1 !== 0) live[count++] = j + 1
      if (e2 !== 0) live[count++] = j + 2
      if (e3 !== 0) live[count++] = j + 3
    }
    for (let lane = 0; j < n; j++, lane++) {
      const d = (z[j] as number) - max
      const e = d < EXP_ZERO_BELOW ? 0 : Math.exp(d)
      z[j] = e
      if (lane === 0) s0 += e
      else if (lane === 1) s1 += e
      else s2 += e
      if (e !== 0) live[count++] = j
    }
    const inv = 1 / (s0 + s1 + s2 + s3)
    // Codes in index order; a weight that underflows (exp 0, or w rounded to 0) adds exactly nothing: skipped.
    if (dim === 8) {
      let c0 = 0
      let c1 = 0
      let c2 = 0
      let c3 = 0
      let c4 = 0
      let c5 = 0
      let c6 = 0
      let c7 = 0
      for (let i = 0; i < count; i++) {
        const j = live[i] as number
        const w = (z[j] as number) * inv
        if (w === 0) continue
        const row = j * 8
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
    // Other dims: the nonzero weights once, then eight dims at a time over them (each c_d still adds its terms
    // in row order, from 0), the sums held in locals rather than in c.
    const ws = this.ws
    let m = 0
    for (let i = 0; i < count; i++) {
      const j = live[i] as number
      const w = (z[j] as number) * inv
      if (w === 0) continue
      live[m] = j * dim
      ws[m++] = w
    }
    let d0 = 0
    for (; d0 + 8 <= dim; d0 += 8) {
      let c0 = 0
      let c1 = 0
      let c2 = 0
      let c3 = 0
      let c4 = 0
      let c5 = 0
      let c6 = 0
      let c7 = 0
      for (let i = 0; i < m; i++) {
        const w = ws[i] as number
        const row = (live[i] as number) + d0
        c0 += w * (book[row] as number)
        c1 += w * (book[row + 1] as number)
        c2 += w * (book[row + 2] as number)
        c3 += w * (book[row + 3] as number)
        c4 += w * (book[row + 4] as number)
        c5 += w * (book[row + 5] as number)
        c6 += w * (book[row + 6] as number)
        c7 += w * (book[row + 7] as number)
      }
      c[d0] = c0
      c[d0 + 1] = c1
      c[d0 + 2] = c2
      c[d0 + 3] = c3
      c[d0 + 4] = c4
      c[d0 + 5] = c5
      c[d0 + 6] = c6
      c[d0 + 7] = c7
    }
    for (; d0 < dim; d0++) {
      let cd = 0
      for (let i = 0; i < m; i++) cd += (ws[i] as number) * (book[(live[i] as number) + d0] as number)
      c[d0] = cd
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
