/**
 * The measured speeds per pack and mode: seeded from the benchmark's files (a damaged one ignored with a
 * warning), then medians over the user's recent jobs, persisted in speeds.json and read back (a damaged
 * speeds.json ignored with a warning too).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { GenerationResult, SingleMode, Timings } from '../../common/generation.ts'
import { firstRunFile, latestFile, writeBenchFile } from '../../main/bench/benchStore.ts'
import { median, SAMPLE_LIMIT, SpeedService, speedsFile } from '../../main/services/speedService.ts'
import { fakeBenchResult, modeResult } from '../support/benchFixture.ts'
import { tempDir } from '../support/testApp.ts'

function timings(totalMs: number): Timings {
  return { tokenMs: totalMs * 0.8, decodeMs: totalMs * 0.1, otherMs: totalMs * 0.1, totalMs }
}

/** A finished job with `n` images per mode; `totalMs` is each mode's total over the job. */
function jobResult(
  totals: Partial<Record<SingleMode, number>>,
  n = 1,
  options: { packId?: string; provider?: string; steps?: Partial<Record<SingleMode, number>> } = {},
): GenerationResult {
  const modes = Object.keys(totals) as SingleMode[]
  return {
    jobId: '00000000-0000-4000-8000-000000000000',
    packId: options.packId ?? 'emoji32',
    classIndex: 0,
    className: 'a class',
    prompt: null,
    promptNotes: [],
    seed: 1,
    modes,
    provider: options.provider ?? 'cpu',
    images: modes.flatMap((mode) =>
      Array.from({ length: n }, (_, index) => ({
        index,
        seed: 1 + index,
        mode,
        width: 32,
        height: 32,
        png: new Uint8Array(),
        ids: [],
        timings: timings((totals[mode] as number) / n),
        agreement: null,
        galleryId: null,
      })),
    ),
    modeTimings: Object.fromEntries(modes.map((m) => [m, timings(totals[m] as number)])),
    modeSteps: options.steps ?? {},
    loadMs: 0,
    agreement: {},
    galleryError: null,
  }
}

async function open(dataDir: string, warnings: string[] = []): Promise<SpeedService> {
  return SpeedService.open({ dataDir, warn: (m) => warnings.push(m) })
}

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([7])).toBe(7)
  })
})

describe('measured speeds', () => {
  it('know nothing on a fresh machine', async () => {
    const service = await open(tempDir('speeds'))
    expect(service.speeds('emoji32')).toEqual([])
  })

  it("start from the benchmark's p50 per mode, latest.json before first-run.json", async () => {
    const dataDir = tempDir('speeds')
    const first = fakeBenchResult('2025-01-01T00:00:00.000Z')
    first.modes = [modeResult('1step', 20), modeResult('exact', 300)]
    await writeBenchFile(firstRunFile(dataDir), first)
    const latest = fakeBenchResult('2025-03-01T00:00:00.000Z')
    latest.modes = [modeResult('1step', 4), modeResult('2step', 6), modeResult('ar', 70)]
    await writeBenchFile(latestFile(dataDir), latest)

    const warnings: string[] = []
    const speeds = (await open(dataDir, warnings)).speeds('emoji32')
    expect(warnings).toEqual([])
    // latest.json measured the same pack, so first-run.json's numbers are not mixed in.
    expect(speeds.map((s) => [s.mode, s.msPerImage, s.source])).toEqual([
      ['1step', 4, 'bench'],
      ['2step', 6, 'bench'],
      ['ar', 70, 'bench'],
    ])
    expect(speeds[0]).toMatchObject({ samples: 3, provider: 'cpu', measuredAt: '2025-03-01T00:00:00.000Z' })
  })

  it('ignore a damaged benchmark file with a warning and use the other', async () => {
    const dataDir = tempDir('speeds')
    fs.mkdirSync(path.dirname(latestFile(dataDir)), { recursive: true })
    fs.writeFileSync(latestFile(dataDir), '{"format": "dd-studio-bench", "formatVersion": 1, "modes": [')
    await writeBenchFile(firstRunFile(dataDir), fakeBenchResult())

    const warnings: string[] = []
    const service = await open(dataDir, warnings)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/latest\.json.*not valid JSON/)
    expect(service.speeds('emoji32').map((s) => [s.mode, s.msPerImage])).toEqual([
      ['1step', 10],
      ['ar', 150],
    ])

    // A file that parses but is not a benchmark result (a field of the wrong type) is refused the same way.
    const wrong = JSON.parse(fs.readFileSync(firstRunFile(dataDir), 'utf8'))
    wrong.modes[0].latency.totalMs.p50 = 'fast'
    fs.writeFileSync(firstRunFile(dataDir), JSON.stringify(wrong))
    const again: string[] = []
    expect((await open(dataDir, again)).speeds('emoji32')).toEqual([])
    expect(again).toHaveLength(2)
    expect(again[1]).toMatch(/first-run\.json: modes\.0\.latency\.totalMs\.p50/)
  })

  it("take the median of the user's jobs per image, which then wins over the benchmark", async () => {
    const dataDir = tempDir('speeds')
    await writeBenchFile(latestFile(dataDir), fakeBenchResult())
    const service = await open(dataDir)

    // 4 images in 40 ms: 10 ms each; then 30 and 20 ms for single images.
    await service.record(jobResult({ '1step': 40 }, 4))
    await service.record(jobResult({ '1step': 30 }))
    await service.record(jobResult({ '1step': 20 }))
    const speeds = service.speeds('emoji32')
    expect(speeds.find((s) => s.mode === '1step')).toMatchObject({
      msPerImage: 20,
      samples: 3,
      source: 'jobs',
      provider: 'cpu',
    })
    // A mode the jobs have not run keeps the benchmark's number.
    expect(speeds.find((s) => s.mode === 'ar')).toMatchObject({ msPerImage: 150, source: 'bench' })

    // A compare job teaches every mode it ran; another pack is kept apart.
    await service.record(jobResult({ exact: 200, '2step': 16 }, 2))
    await service.record(jobResult({ hybrid: 50 }, 1, { packId: 'other' }))
    expect(service.speeds('emoji32').map((s) => [s.mode, s.msPerImage, s.source])).toEqual([
      ['1step', 20, 'jobs'],
      ['2step', 8, 'jobs'],
      ['ar', 150, 'bench'],
      ['exact', 100, 'jobs'],
    ])
    expect(service.speeds('other').map((s) => [s.mode, s.msPerImage])).toEqual([['hybrid', 50]])
  })

  it(`keep the last ${SAMPLE_LIMIT} jobs per mode, and only count the newest one's provider`, async () => {
    const service = await open(tempDir('speeds'))
    // 1..25 ms: the last 20 are 6..25, whose median is 15.5.
    for (let ms = 1; ms <= 25; ms++) await service.record(jobResult({ '1step': ms }))
    expect(service.speeds('emoji32')[0]).toMatchObject({ msPerImage: 15.5, samples: SAMPLE_LIMIT })

    await service.record(jobResult({ '1step': 2 }, 1, { provider: 'webgpu' }))
    expect(service.speeds('emoji32')[0]).toMatchObject({ msPerImage: 2, samples: 1, provider: 'webgpu' })
  })

  it("count only the newest run's hybrid schedule (its model passes), and say which it was", async () => {
    const dataDir = tempDir('speeds')
    const service = await open(dataDir)
    await service.record(jobResult({ hybrid: 60 }, 1, { steps: { hybrid: 6 } }))
    await service.record(jobResult({ hybrid: 30 }, 1, { steps: { hybrid: 3 } }))
    await service.record(jobResult({ hybrid: 34 }, 1, { steps: { hybrid: 3 } }))
    expect(service.speeds('emoji32')[0]).toMatchObject({
      mode: 'hybrid',
      msPerImage: 32,
      samples: 2,
      steps: 3,
    })
    await service.flush()
    expect((await open(dataDir)).speeds('emoji32')).toEqual(service.speeds('emoji32'))
  })

  it('persist in speeds.json and read it back after a restart', async () => {
    const dataDir = tempDir('speeds')
    const service = await open(dataDir)
    await service.record(jobResult({ '1step': 9, exact: 120 }))
    await service.record(jobResult({ '1step': 3 }))
    await service.flush()
    const before = service.speeds('emoji32')

    const warnings: string[] = []
    const reopened = await open(dataDir, warnings)
    expect(warnings).toEqual([])
    expect(reopened.speeds('emoji32')).toEqual(before)
    expect(before.map((s) => [s.mode, s.msPerImage])).toEqual([
      ['1step', 6],
      ['exact', 120],
    ])
    // Written whole, with no temporary files left next to it.
    expect(JSON.parse(fs.readFileSync(speedsFile(dataDir), 'utf8')).format).toBe('dd-studio-speeds')
    expect(fs.readdirSync(dataDir)).toEqual(['speeds.json'])
  })

  it('ignore a damaged speeds.json with a warning, and replace it with new measurements', async () => {
    const dataDir = tempDir('speeds')
    const damaged = [
      '{ not json',
      '[]',
      '{"format": "dd-studio-speeds", "formatVersion": 1, "packs": {"emoji32": {"1step": [{"ms": -1}]}}}',
      '{"format": "dd-studio-speeds", "formatVersion": 1, "packs": {"emoji32": {"turbo": []}}}',
    ]
    for (const text of damaged) {
      fs.writeFileSync(speedsFile(dataDir), text)
      const warnings: string[] = []
      const service = await open(dataDir, warnings)
      expect(service.speeds('emoji32')).toEqual([])
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/speeds\.json was ignored/)
    }
    const service = await open(dataDir, [])
    await service.record(jobResult({ '2step': 7 }))
    const warnings: string[] = []
    expect((await open(dataDir, warnings)).speeds('emoji32')).toMatchObject([
      { mode: '2step', msPerImage: 7 },
    ])
    expect(warnings).toEqual([])
  })
})
