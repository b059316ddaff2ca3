/**
 * The benchmark's statistics, as pure functions so they can be tested without a model: percentiles, summaries,
 * rates and ratios. Nothing here reads a clock.
 */

export interface Summary {
  n: number
  min: number
  mean: number
  p50: number
  p90: number
  max: number
}

function checkSamples(values: readonly number[], what: string): void {
  if (values.length === 0) throw new RangeError(`${what}: no samples`)
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`${what}: sample ${v} is not finite`)
}

/**
 * The p-th percentile (0..100) with linear interpolation between the two nearest ranks (numpy's default, Hyndman
 * and Fan type 7): p50 of [1, 2, 3, 4] is 2.5. Small runs (the teacher modes take few samples) then still give a
 * p90 between their slowest samples instead of jumping to the maximum.
 */
export function percentile(values: readonly number[], p: number): number {
  checkSamples(values, 'percentile')
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in 0..100, not ${p}`)
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (rank - lo)
}

export function summarize(values: readonly number[]): Summary {
  checkSamples(values, 'summarize')
  let sum = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const v of values) {
    sum += v
    if (v < min) min = v
    if (v > max) max = v
  }
  return {
    n: values.length,
    min,
    mean: sum / values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    max,
  }
}

export function imagesPerSecond(images: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) throw new RangeError(`imagesPerSecond: elapsed time must be > 0 ms, not ${elapsedMs}`)
  return (images * 1000) / elapsedMs
}

/** Share (0..1) of `totalMs` not spent in `insideMs`, e.g. everything outside session.run. */
export function fractionOutside(totalMs: number, insideMs: number): number {
  if (!(totalMs > 0)) throw new RangeError(`fractionOutside: total must be > 0 ms, not ${totalMs}`)
  if (!(insideMs >= 0)) throw new RangeError(`fractionOutside: inside must be >= 0 ms, not ${insideMs}`)
  return (totalMs - insideMs) / totalMs
}

/** (end - start) / start, in percent: how much a quantity (RSS, heap) grew over a run. */
export function driftPercent(start: number, end: number): number {
  if (!(start > 0)) throw new RangeError(`driftPercent: start must be > 0, not ${start}`)
  return ((end - start) / start) * 100
}

/** a / b, or null when either side is missing (a mode that was not run). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !(b > 0)) return null
  return a / b
}

/** Rounds to `digits` decimals, for JSON that people read. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
