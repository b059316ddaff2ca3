/**
 * The benchmark's core on the smoke pack with tiny counts: the result has the stored shape, every number in it
 * is finite, and the measured ones are positive. Nothing about speed is asserted: this machine's load decides it.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BENCH_MODES, type BenchResult, BenchResultSchema } from '../../main/bench/benchResult.ts'
import { readFirstRun, recordFirstRun, writeLatest } from '../../main/bench/benchStore.ts'
import { formatReport } from '../../main/bench/report.ts'
import { runBenchmark } from '../../main/bench/runBench.ts'
import { loadPack, sha256File } from '../../main/engine/packs/loadPack.ts'
import { SMOKE_PACK_DIR } from '../support/packs.ts'

/** Every number anywhere in a value, with its path. */
function numbers(value: unknown, at = ''): [string, number][] {
  if (typeof value === 'number') return [[at, value]]
  if (Array.isArray(value)) return value.flatMap((v, i) => numbers(v, `${at}.${i}`))
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => numbers(v, at ? `${at}.${k}` : k))
  return []
}

describe('the benchmark on the smoke pack', () => {
  it('measures every mode and returns a result of the stored shape', { timeout: 120_000 }, async () => {
    const pack = await loadPack(SMOKE_PACK_DIR)
    if (!pack.ok) throw new Error(`${SMOKE_PACK_DIR}: ${pack.problems.join('; ')}`)
    const progress: string[] = []
    const result = await runBenchmark({
      pack: {
        dir: SMOKE_PACK_DIR,
        manifest: pack.manifest,
        manifestSha256: await sha256File(path.join(SMOKE_PACK_DIR, 'manifest.json')),
      },
      providers: ['cpu'],
      requested: 'cpu',
      probes: null,
      counts: {
        ddLatency: 3,
        teacherLatency: 2,
        warmUp: 1,
        ddThroughputImages: 4,
        teacherThroughputImages: 2,
        batchSizes: [2],
        memoryImages: 4,
      },
      onProgress: (m) => progress.push(m),
    })

    // Through JSON, as a reader sees it: NaN or Infinity would become null and fail the schema.
    const stored: BenchResult = BenchResultSchema.parse(JSON.parse(JSON.stringify(result)))
    expect(stored.modes.map((m) => m.mode)).toEqual([...BENCH_MODES])
    expect(stored.provider.loaded).toEqual({ generator: 'cpu', decoder: 'cpu', teacherStep: 'cpu' })
    expect(stored.provider.tried).toEqual(['cpu'])
    expect(stored.load.graphs.map((g) => g.graph).sort()).toEqual(['decoder', 'generator', 'teacherStep'])
    expect(progress.length).toBeGreaterThan(0)

    for (const [at, v] of numbers(stored)) expect(Number.isFinite(v), at).toBe(true)
    const positive: [string, number][] = [
      ['durationMs', stored.durationMs],
      ['load.totalMs', stored.load.totalMs],
      ...stored.load.graphs.map((g): [string, number] => [`load ${g.graph}`, g.wallMs]),
      ['memory.start.rssBytes', stored.memory.start.rssBytes],
      ['memory.end.rssBytes', stored.memory.end.rssBytes],
      ['memory.start.heapUsedBytes', stored.memory.start.heapUsedBytes],
      ['memory.peakRssBytes', stored.memory.peakRssBytes],
      ['memory.processPeakRssBytes', stored.memory.processPeakRssBytes],
      ['ratios.arOverOneStep', stored.ratios.arOverOneStep ?? Number.NaN],
      ['ratios.exactOverOneStep', stored.ratios.exactOverOneStep ?? Number.NaN],
      ['machine.logicalCores', stored.machine.logicalCores],
    ]
    for (const m of stored.modes) {
      positive.push(
        [`${m.mode} firstRunMs`, m.firstRunMs],
        [`${m.mode} p50`, m.latency.totalMs.p50],
        [`${m.mode} p90`, m.latency.totalMs.p90],
        [`${m.mode} token p50`, m.latency.tokenMs.p50],
        [`${m.mode} decode p50`, m.latency.decodeMs.p50],
        [`${m.mode} outside run`, m.latency.outsideRunFraction],
        [`${m.mode} runs per image`, m.latency.sessionRunsPerImage],
        [`${m.mode} vsOneStep`, m.vsOneStep ?? Number.NaN],
      )
      expect(m.latency.totalMs.p90).toBeGreaterThanOrEqual(m.latency.totalMs.p50)
      expect(m.latency.outsideRunFraction).toBeLessThan(1)
      expect(m.throughput.map((t) => t.batch)).toEqual([1, 2])
      for (const t of m.throughput) positive.push([`${m.mode} batch ${t.batch} img/s`, t.imagesPerSecond])
    }
    for (const [at, v] of positive) expect(v, at).toBeGreaterThan(0)
    expect(stored.modes.find((m) => m.mode === '1step')?.vsOneStep).toBe(1)
    expect(stored.memory.images).toBe(4)
    expect(stored.memory.trace.at(-1)?.images).toBe(4)
    expect(stored.targets.map((t) => t.pass)).toEqual([
      expect.any(Boolean),
      expect.any(Boolean),
      expect.any(Boolean),
      null,
      null,
    ])

    // The table renders every mode; the files round-trip through the store.
    const table = formatReport(stored)
    for (const mode of BENCH_MODES) expect(table).toContain(mode)
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dd-bench-'))
    try {
      await writeLatest(dataDir, stored)
      expect((await recordFirstRun(dataDir, stored)).status).toBe('written')
      const first = await readFirstRun(dataDir)
      expect(first.status === 'ok' && first.result).toEqual(stored)
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true })
    }
  })
})
