/** `npm run bench` options: defaults, every flag, and errors that name the bad flag. */
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { countsFor, DEFAULT_IMAGES, MAX_IMAGES, parseBenchArgs } from '../../main/bench/benchArgs.ts'
import { BenchCountsSchema } from '../../main/bench/benchResult.ts'

describe('parseBenchArgs', () => {
  it('has defaults for everything', () => {
    expect(parseBenchArgs([])).toEqual({
      pack: null,
      ep: null,
      json: false,
      images: DEFAULT_IMAGES,
      out: null,
      dataDir: null,
      help: false,
    })
  })

  it('reads every flag, with paths made absolute', () => {
    expect(
      parseBenchArgs([
        '--pack',
        'emoji32',
        '--ep',
        'cuda',
        '--json',
        '--images',
        '40',
        '--out',
        'bench.json',
        '--data-dir',
        'data',
        '-h',
      ]),
    ).toEqual({
      pack: 'emoji32',
      ep: 'cuda',
      json: true,
      images: 40,
      out: path.resolve('bench.json'),
      dataDir: path.resolve('data'),
      help: true,
    })
  })

  it.each(['cpu', 'webgpu', 'cuda', 'dml', 'coreml', 'auto'])('accepts --ep %s', (ep) => {
    expect(parseBenchArgs(['--ep', ep]).ep).toBe(ep)
  })

  it.each([
    [['--ep', 'tpu'], /--ep/],
    [['--images', '0'], /--images: must be at least 1/],
    [['--images', String(MAX_IMAGES + 1)], /--images: must be at most/],
    [['--images', '1e3'], /--images: must be a whole number/],
    [['--images', '2.5'], /--images: must be a whole number/],
    [['--images', 'ten'], /--images: must be a whole number/],
    [['--pack', 'Emoji 32'], /--pack: must be a pack id/],
    [['--out', ''], /--out: must not be empty/],
    [['--data-dir', ''], /--data-dir: must not be empty/],
  ])('names the flag of a bad value: %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(message)
  })

  it('names unknown flags, missing values and stray words', () => {
    expect(() => parseBenchArgs(['--imagez', '3'])).toThrow(/--imagez/)
    expect(() => parseBenchArgs(['--images'])).toThrow(/--images/)
    expect(() => parseBenchArgs(['fast'])).toThrow(/fast/)
  })
})

describe('countsFor', () => {
  it('gives the teacher modes a tenth of the DD counts (at least 3) and the memory run 5x', () => {
    expect(countsFor(200)).toEqual({
      ddLatency: 200,
      teacherLatency: 20,
      warmUp: 3,
      ddThroughputImages: 200,
      teacherThroughputImages: 20,
      batchSizes: [8, 32],
      memoryImages: 1000,
    })
    expect(countsFor(1).teacherLatency).toBe(3)
  })

  it('always gives counts the stored result accepts', () => {
    for (const n of [1, 7, DEFAULT_IMAGES, MAX_IMAGES])
      expect(BenchCountsSchema.parse(countsFor(n))).toBeTruthy()
  })
})
