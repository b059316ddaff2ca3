/**
 * Teacher logits -> the categorical p that sampling (or the flow map, ./flowMap.ts) draws from: a port of
 * shape_distribution in models/ddpipe/mapping.py, plus VAR's guidance form (see TeacherSampling.cfgForm). Float64 throughout, operations in Python's order: CFG, then
 * temperature, top-k, top-p, softmax. Softmax follows torch's CPU kernel (exp(x - max), four-lane sum, times the
 * reciprocal of the sum) so that p agrees with Python's to a few ulps; the zero pattern agrees exactly.
 */
import { laneSum } from './flowMap.ts'

export interface TeacherSampling {
  /**
   * Classifier-free guidance. With cfgForm 'uncond' (the default, LlamaGen's): logits = u + cfgScale (c - u), 1 = no
   * guidance. With 'cond' (VAR's, cfgScale being that scale's weight w): logits = c + w (c - u), 0 = no guidance.
   */
  cfgScale: number
  cfgForm?: 'uncond' | 'cond'
  /** Logits are divided by max(temperature, 1e-6): 0 means greedy. */
  temperature: number
  /** Keep the logits >= the k-th largest (ties at the k-th all stay); 0, or >= vocab, keeps all. */
  topK: number
  /** Keep the smallest most-likely prefix whose mass reaches topP (the most likely code always stays); 1 keeps all. */
  topP: number
}

/**
 * torch's CPU softmax over x, in place: exp(x - max), the exps summed in four interleaved lanes (index mod 4,
 * as reduce_all over Vectorized<double> does) folded left to right, then each times the reciprocal of the sum.
 */
function softmaxInPlace(x: Float64Array): void {
  const n = x.length
  let max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < n; i++) if ((x[i] as number) > max) max = x[i] as number
  for (let i = 0; i < n; i++) x[i] = Math.exp((x[i] as number) - max)
  const inv = 1 / laneSum(x, 0, n)
  for (let j = 0; j < n; j++) x[j] = (x[j] as number) * inv
}

/** shape_distribution for one position: cond (and uncond, used only when cfgScale != 1) [vocab] -> p [vocab]. */
export function shapeDistribution(
  cond: Float32Array,
  uncond: Float32Array | null,
  s: TeacherSampling,
): Float64Array {
  const n = cond.length
  if (uncond !== null && uncond.length !== n) {
    throw new RangeError(`cond has ${n} logits but uncond has ${uncond.length}`)
  }
  if (!Number.isSafeInteger(s.topK)) throw new RangeError(`topK must be an integer, got ${s.topK}`)
  const logits = new Float64Array(n)
  const fromCond = s.cfgForm === 'cond'
  if (uncond !== null && fromCond && s.cfgScale !== 0) {
    // VAR writes it (1 + w) c - w u; the same mix, grouped like the constant form.
    for (let i = 0; i < n; i++) {
      const c = cond[i] as number
      logits[i] = c + s.cfgScale * (c - (uncond[i] as number))
    }
  } else if (uncond !== null && !fromCond && s.cfgScale !== 1) {
    for (let i = 0; i < n; i++) {
      const u = uncond[i] as number
      logits[i] = u + s.cfgScale * ((cond[i] as number) - u)
    }
  } else {
    logits.set(cond)
  }
  const t = Math.max(s.temperature, 1e-6)
  for (let i = 0; i < n; i++) logits[i] = (logits[i] as number) / t

  if (s.topK > 0 && s.topK < n) {
    // Masking `logits < kth` keeps every logit tied with the k-th largest, whatever order topk found them in.
    const kth = Float64Array.from(logits).sort()[n - s.topK] as number
    for (let i = 0; i < n; i++) if ((logits[i] as number) < kth) logits[i] = Number.NEGATIVE_INFINITY
  }

  if (s.topP < 1) {
    // Python sorts with torch.sort, which is not stable: when tied logits straddle the cut, which of them stay
    // is up to std::sort. Here ties go in index order (the shared vectors only hold cases where it cannot matter).
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => (logits[b] as number) - (logits[a] as number) || a - b,
    )
    const probs = new Float64Array(n)
    for (let i = 0; i < n; i++) probs[i] = logits[order[i] as number] as number
    softmaxInPlace(probs)
    let cum = 0
    for (let i = 0; i < n; i++) {
      const pi = probs[i] as number
      cum += pi // torch.cumsum: sequential, in float64
      if (cum - pi >= s.topP) logits[order[i] as number] = Number.NEGATIVE_INFINITY
    }
  }

  softmaxInPlace(logits)
  return logits
}

/**
 * Inverse-CDF draw from p with a uniform u in [0, 1): the first index whose running total exceeds u.
 * Zero-probability codes are never chosen; if rounding leaves u at or above the total, the last code with p > 0.
 */
export function sampleCategorical(p: Float64Array, u: number): number {
  let total = 0
  let last = -1
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] as number
    if (!(pi > 0)) continue
    total += pi
    last = i
    if (u < total) return i
  }
  if (last < 0) throw new RangeError('p has no positive entry')
  return last
}
