/**
 * This machine's measured speed of each mode, per pack: what the Steps options and the model card show.
 *
 * Two sources: the benchmark's stored results (<data dir>/bench/latest.json and first-run.json, read once when
 * the app starts) and the user's own finished jobs. A mode's jobs win over the benchmark as soon as there is
 * one: they ran with this app's current settings and provider. Job measurements (the last SAMPLE_LIMIT per pack
 * and mode) persist in <data dir>/speeds.json, written atomically and validated on load; a damaged file, like
 * a damaged benchmark file, is ignored with a warning rather than stopping the app.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import {
  type GenerationResult,
  type ModeSpeed,
  SINGLE_MODES,
  type SingleMode,
} from '../../common/generation.ts'
import { writeFileAtomic } from '../app/atomicWrite.ts'
import type { BenchResult } from '../bench/benchResult.ts'
import { firstRunFile, latestFile, readBenchFile } from '../bench/benchStore.ts'
import { describeIssues } from '../ipc/dispatcher.ts'

/** Measurements kept per pack and mode: enough for a stable median, few enough to follow a change of machine load. */
export const SAMPLE_LIMIT = 20

const SPEEDS_FORMAT = 'dd-studio-speeds'
const SPEEDS_FORMAT_VERSION = 1

const SampleSchema = z.strictObject({
  /** Total milliseconds per image of one job (its mode's total divided by its images). */
  ms: z.number().min(0),
  provider: z.string().min(1).max(40),
  at: z.string().min(1).max(40),
  /** Model passes of the run (a hybrid's depend on its schedule); left out by files from before. */
  steps: z.number().int().positive().optional(),
})
type Sample = z.infer<typeof SampleSchema>

const SpeedsFileSchema = z.strictObject({
  format: z.literal(SPEEDS_FORMAT),
  formatVersion: z.literal(SPEEDS_FORMAT_VERSION),
  packs: z.record(
    z.string().min(1).max(64),
    z.partialRecord(z.enum(SINGLE_MODES), z.array(SampleSchema).max(SAMPLE_LIMIT)),
  ),
})
type SpeedsFile = z.infer<typeof SpeedsFileSchema>

type PackSamples = Partial<Record<SingleMode, Sample[]>>
type PackBench = Partial<Record<SingleMode, ModeSpeed>>

export interface SpeedServiceOptions {
  /** The app's data folder: speeds.json lives there, the benchmark's results in its bench/ folder. */
  dataDir: string
  warn(message: string): void
}

export function speedsFile(dataDir: string): string {
  return path.join(dataDir, 'speeds.json')
}

export class SpeedService {
  private writing: Promise<void> = Promise.resolve()

  private constructor(
    private readonly file: string,
    private readonly jobs: Map<string, PackSamples>,
    private readonly bench: Map<string, PackBench>,
  ) {}

  static async open(options: SpeedServiceOptions): Promise<SpeedService> {
    const file = speedsFile(options.dataDir)
    const jobs = await loadJobSamples(file, options.warn)
    const bench = await loadBench(options.dataDir, options.warn)
    return new SpeedService(file, jobs, bench)
  }

  /** Every mode of the pack with a measurement, in SINGLE_MODES order; modes never measured are left out. */
  speeds(packId: string): ModeSpeed[] {
    const samples = this.jobs.get(packId) ?? {}
    const bench = this.bench.get(packId) ?? {}
    const out: ModeSpeed[] = []
    for (const mode of SINGLE_MODES) {
      const fromJobs = summarize(mode, samples[mode] ?? [])
      const speed = fromJobs ?? bench[mode]
      if (speed) out.push(speed)
    }
    return out
  }

  /** Takes a finished job's timings (per mode: its total over its images) and persists them. */
  async record(result: GenerationResult): Promise<void> {
    const pack = this.jobs.get(result.packId) ?? {}
    const at = new Date().toISOString()
    let added = 0
    for (const mode of result.modes) {
      const timings = result.modeTimings[mode]
      const images = result.images.filter((img) => img.mode === mode).length
      if (!timings || images === 0 || !Number.isFinite(timings.totalMs) || timings.totalMs < 0) continue
      const steps = result.modeSteps[mode]
      const sample: Sample = { ms: timings.totalMs / images, provider: result.provider, at }
      if (steps !== undefined) sample.steps = steps
      const list = [...(pack[mode] ?? []), sample]
      pack[mode] = list.slice(-SAMPLE_LIMIT)
      added++
    }
    if (added === 0) return
    this.jobs.set(result.packId, pack)
    await this.persist()
  }

  /** Resolves when every write started so far has finished. */
  flush(): Promise<void> {
    return this.writing
  }

  private persist(): Promise<void> {
    // Serialised, and each write takes the state at the time it runs: the last one on disk is the newest.
    const write = this.writing.then(() => writeFileAtomic(this.file, serialize(this.jobs)))
    this.writing = write.catch(() => undefined)
    return write
  }
}

/**
 * The speed a mode's job samples give: the median over the samples on the provider, and with the model passes,
 * of the newest one.
 */
function summarize(mode: SingleMode, samples: Sample[]): ModeSpeed | null {
  const newest = samples.at(-1)
  if (!newest) return null
  // Timings on another provider (before the user changed it) describe another machine, in effect; those of
  // another hybrid schedule (3 steps vs 6) another amount of work.
  const same = samples.filter((s) => s.provider === newest.provider && s.steps === newest.steps)
  return {
    mode,
    ...(newest.steps !== undefined ? { steps: newest.steps } : {}),
    msPerImage: round(median(same.map((s) => s.ms))),
    samples: same.length,
    source: 'jobs',
    provider: newest.provider,
    measuredAt: newest.at,
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

function serialize(jobs: Map<string, PackSamples>): string {
  const file: SpeedsFile = {
    format: SPEEDS_FORMAT,
    formatVersion: SPEEDS_FORMAT_VERSION,
    packs: Object.fromEntries(jobs),
  }
  return `${JSON.stringify(file, null, 2)}\n`
}

async function loadJobSamples(file: string, warn: (m: string) => void): Promise<Map<string, PackSamples>> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    warn(`speeds file ${file} cannot be read (${(err as Error).message}); measuring speeds afresh`)
    return new Map()
  }
  let problem: string
  try {
    const parsed = SpeedsFileSchema.safeParse(JSON.parse(text))
    if (parsed.success) return new Map(Object.entries(parsed.data.packs))
    problem = describeIssues(parsed.error)
  } catch (err) {
    problem = `not valid JSON (${(err as Error).message})`
  }
  // Only measurements: nothing the user made is lost when the next job's write replaces it.
  warn(`speeds file ${file} was ignored: ${problem}; measuring speeds afresh`)
  return new Map()
}

/**
 * The benchmark's p50 per mode, per pack. latest.json is newer than first-run.json, so it wins for the pack it
 * measured; first-run.json still counts for a pack that only it measured.
 */
async function loadBench(dataDir: string, warn: (m: string) => void): Promise<Map<string, PackBench>> {
  const bench = new Map<string, PackBench>()
  for (const file of [latestFile(dataDir), firstRunFile(dataDir)]) {
    const read = await readBenchFile(file)
    if (read.status === 'invalid') warn(`benchmark result ignored: ${read.error}`)
    if (read.status !== 'ok' || bench.has(read.result.pack.id)) continue
    bench.set(read.result.pack.id, benchSpeeds(read.result))
  }
  return bench
}

function benchSpeeds(result: BenchResult): PackBench {
  const loaded = result.provider.loaded
  const provider = loaded.generator ?? loaded.teacherStep ?? loaded.teacherScale ?? loaded.decoder ?? 'cpu'
  const speeds: PackBench = {}
  for (const m of result.modes) {
    speeds[m.mode] = {
      mode: m.mode,
      msPerImage: round(m.latency.totalMs.p50),
      samples: m.latency.samples,
      source: 'bench',
      provider,
      measuredAt: result.createdAt,
    }
  }
  return speeds
}
