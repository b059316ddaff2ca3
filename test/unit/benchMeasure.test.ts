/** The benchmark's statistics: percentiles with linear interpolation, summaries, rates, drift and ratios. */
import { describe, expect, it } from 'vitest'
import {
  driftPercent,
  fractionOutside,
  imagesPerSecond,
  percentile,
  ratio,
  round,
  summarize,
} from '../../main/bench/measure.ts'

describe('percentile', () => {
  it('interpolates linearly between the nearest ranks (numpy default)', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5)
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3)
    // rank 0.9 * 9 = 8.1: 9 + 0.1 * (10 - 9)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBeCloseTo(9.1, 12)
    expect(percentile([10, 20], 90)).toBeCloseTo(19, 12)
  })

  it('does not depend on the order of the samples and leaves them as they are', () => {
    const samples = [5, 1, 4, 2, 3]
    expect(percentile(samples, 50)).toBe(3)
    expect(percentile(samples, 0)).toBe(1)
    expect(percentile(samples, 100)).toBe(5)
    expect(samples).toEqual([5, 1, 4, 2, 3])
  })

  it('sorts numerically, not as strings', () => {
    expect(percentile([100, 9, 10], 50)).toBe(10)
  })

  it('gives the only sample for any p', () => {
    expect(percentile([7], 0)).toBe(7)
    expect(percentile([7], 90)).toBe(7)
  })

  it('refuses no samples, non-finite samples and p outside 0..100', () => {
    expect(() => percentile([], 50)).toThrow(/no samples/)
    expect(() => percentile([1, Number.NaN], 50)).toThrow(/not finite/)
    expect(() => percentile([1, Number.POSITIVE_INFINITY], 50)).toThrow(/not finite/)
    expect(() => percentile([1], -1)).toThrow(/0\.\.100/)
    expect(() => percentile([1], 101)).toThrow(/0\.\.100/)
    expect(() => percentile([1], Number.NaN)).toThrow(/0\.\.100/)
  })
})

describe('summarize', () => {
  it('reports count, min, mean, p50, p90 and max', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ n: 4, min: 1, mean: 2.5, p50: 2.5, p90: 3.7, max: 4 })
  })

  it('refuses no samples', () => {
    expect(() => summarize([])).toThrow(/no samples/)
  })
})

describe('rates and ratios', () => {
  it('images per second from images and milliseconds', () => {
    expect(imagesPerSecond(32, 500)).toBe(64)
    expect(() => imagesPerSecond(1, 0)).toThrow(/> 0/)
  })

  it('the share outside a part of the time', () => {
    expect(fractionOutside(10, 9)).toBeCloseTo(0.1, 12)
    expect(fractionOutside(10, 0)).toBe(1)
    expect(() => fractionOutside(0, 0)).toThrow(/> 0/)
    expect(() => fractionOutside(10, -1)).toThrow(/>= 0/)
  })

  it('drift in percent, growing or shrinking', () => {
    expect(driftPercent(200, 210)).toBe(5)
    expect(driftPercent(200, 190)).toBe(-5)
    expect(() => driftPercent(0, 1)).toThrow(/> 0/)
  })

  it('ratio, null when a side is missing or the divisor is not positive', () => {
    expect(ratio(150, 10)).toBe(15)
    expect(ratio(null, 10)).toBeNull()
    expect(ratio(1, undefined)).toBeNull()
    expect(ratio(1, 0)).toBeNull()
  })

  it('rounds to the given decimals', () => {
    expect(round(1.23456)).toBe(1.235)
    expect(round(1.23456, 1)).toBe(1.2)
  })
})
