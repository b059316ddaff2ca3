/** A complete, valid benchmark result with made-up numbers, for the tests of readers of the bench files. */
import { countsFor } from '../../main/bench/benchArgs.ts'
import type { BenchResult, ModeResult } from '../../main/bench/benchResult.ts'

const summary = (p50: number) => ({ n: 3, min: p50 * 0.9, mean: p50, p50, p90: p50 * 1.1, max: p50 * 1.2 })

export function modeResult(mode: ModeResult['mode'], ms: number): ModeResult {
  return {
    mode,
    firstRunMs: ms * 2,
    latency: {
      samples: 3,
      totalMs: summary(ms),
      tokenMs: summary(ms * 0.7),
      decodeMs: summary(ms * 0.2),
      otherMs: summary(ms * 0.1),
      outsideRunFraction: 0.08,
      sessionRunsPerImage: 2,
    },
    throughput: [
      {
        batch: 1,
        batches: 3,
        images: 3,
        elapsedMs: ms * 3,
        imagesPerSecond: 1000 / ms,
        outsideRunFraction: 0.08,
      },
    ],
    vsOneStep: ms / 10,
  }
}

export function fakeBenchResult(createdAt = '2025-01-01T00:00:00.000Z'): BenchResult {
  const point = { images: 0, rssBytes: 200e6, heapUsedBytes: 20e6 }
  return {
    format: 'dd-studio-bench',
    formatVersion: 1,
    createdAt,
    appVersion: '0.1.0',
    durationMs: 1000,
    machine: {
      cpuModel: 'Test CPU',
      logicalCores: 2,
      availableParallelism: 2,
      totalMemoryBytes: 8e9,
      platform: 'linux',
      arch: 'x64',
      osRelease: '6.0',
      loadAverage: [0.5, 0.4, 0.3],
      loadAverageAtEnd: [0.6, 0.4, 0.3],
    },
    runtime: { node: '22.23.3', onnxruntime: '1.30.0' },
    pack: {
      id: 'emoji32',
      version: '1.0.0',
      manifestSha256: 'ab',
      dir: '/packs/emoji32',
      tokens: 64,
      width: 32,
      height: 32,
    },
    provider: {
      requested: 'auto',
      tried: ['cpu'],
      loaded: { generator: 'cpu', decoder: 'cpu' },
      fallbacks: [],
      probes: [{ name: 'cpu', available: true, error: null, probeMs: 3 }],
    },
    load: { totalMs: 100, graphs: [{ graph: 'generator', provider: 'cpu', wallMs: 60, sessionMs: 59 }] },
    settings: { classIndex: 0, seed: 1000, counts: countsFor(10) },
    modes: [modeResult('1step', 10), modeResult('ar', 150)],
    memory: {
      mode: '1step',
      batch: 1,
      images: 50,
      gcForced: true,
      start: point,
      end: { ...point, images: 50, rssBytes: 201e6 },
      rssDriftPercent: 0.5,
      heapDriftPercent: 0,
      peakRssBytes: 202e6,
      processPeakRssBytes: 250e6,
      trace: [point, { ...point, images: 50, rssBytes: 201e6 }],
    },
    ratios: { arOverOneStep: 15, exactOverOneStep: null },
    targets: [
      { name: 'DD 1-step latency p50, batch 1', target: '<= 15 ms', value: 10, unit: 'ms', pass: true },
    ],
  }
}
