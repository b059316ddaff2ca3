/**
 * The benchmark itself, in-process: the engine's generate() on a pack runtime, exactly as the inference host
 * calls it, with no IPC in the way. Order of work:
 *
 *   load      codebook and every session the modes need (each with its warm-up run): reported as load time
 *   warm-up   a few untimed batch-1 generations per mode
 *   memory    N 1-step images at batch 1; RSS and heap after warm-up and at the end (garbage collected first)
 *   latency   batch-1 generations per mode: wall time of generate() (noise to PNG bytes), its token and decode
 *             parts, the rest, and the share of it spent outside session.run
 *   batches   images/s at the larger batch sizes, each size warmed up once before it is timed
 *
 * The memory run comes straight after warm-up so its start is a warmed-up process that has not yet grown
 * arenas for large batches; drift then means what each further image leaves behind.
 */
import os from 'node:os'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { ExecutionProviderName, ProviderProbe } from '../../common/types.ts'
import { APP_VERSION } from '../app/appMeta.ts'
import { generate, graphsFor } from '../engine/generate.ts'
import { openPackRuntime } from '../engine/packRuntime.ts'
import type { PackManifest } from '../engine/packs/manifest.ts'
import { planGeneration } from '../engine/plan.ts'
import { ortVersion } from '../engine/providers.ts'
import { stepUnitsOf } from '../engine/steps.ts'
import {
  BENCH_FORMAT,
  BENCH_FORMAT_VERSION,
  BENCH_MODES,
  type BenchCounts,
  BenchCountsSchema,
  type BenchMode,
  type BenchResult,
  type ModeResult,
  TEACHER_MODES,
} from './benchResult.ts'
import {
  driftPercent,
  fractionOutside,
  imagesPerSecond,
  ratio,
  round,
  type Summary,
  summarize,
} from './measure.ts'

/** Image i of a run uses seed BENCH_SEED + i, the same for every mode: every mode sees the same noise. */
export const BENCH_SEED = 1000

/** Targets the engine is held to; reported, never asserted. */
export const TARGETS = { oneStepP50Ms: 15, outsideRunFraction: 0.1, rssDriftPercent: 5 } as const

export interface BenchPack {
  dir: string
  manifest: PackManifest
  manifestSha256: string
}

export interface BenchOptions {
  pack: BenchPack
  /** Providers in the order to try; the sessions append cpu. */
  providers: ExecutionProviderName[]
  requested: 'auto' | ExecutionProviderName
  /** The provider probes behind an 'auto' choice; null when a provider was named. */
  probes: ProviderProbe[] | null
  counts: BenchCounts
  /** Must include '1step', the reference of the ratios and the memory run. Default: all of BENCH_MODES. */
  modes?: readonly BenchMode[]
  classIndex?: number
  seed?: number
  /** One line per phase, for a person watching. */
  onProgress?: (message: string) => void
}

interface Sample {
  wallMs: number
  tokenMs: number
  decodeMs: number
  runMs: number
  runs: number
}

interface MemoryPoint {
  images: number
  rssBytes: number
  heapUsedBytes: number
}

const isTeacherMode = (mode: BenchMode) => TEACHER_MODES.includes(mode)

export async function runBenchmark(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now()
  const createdAt = new Date().toISOString()
  const loadAverage = os.loadavg().map((v) => round(v, 2))
  const { pack } = options
  // Counts come from callers other than the CLI too (tests): the same bounds the stored result promises.
  const counts = BenchCountsSchema.parse(options.counts)
  const manifest = pack.manifest
  const modes = BENCH_MODES.filter((m) => (options.modes ?? BENCH_MODES).includes(m))
  if (!modes.includes('1step'))
    throw new Error("the benchmark needs mode '1step' (the reference of its ratios)")
  const classIndex = options.classIndex ?? 0
  const seed = options.seed ?? BENCH_SEED
  const progress = (message: string) =>
    options.onProgress?.(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`)
  const collect = garbageCollector()

  progress(`loading pack '${manifest.id}' (trying ${options.providers.join(', ') || 'cpu'})`)
  const loadStarted = performance.now()
  const rt = await openPackRuntime(pack.dir, manifest, { providers: options.providers, idleMs: 0 })
  try {
    const graphs: BenchResult['load']['graphs'] = []
    const fallbacks: BenchResult['provider']['fallbacks'] = []
    // The graphs the engine loads for these modes: the family's teacher (teacherStep or teacherScale) included.
    for (const graph of graphsFor(modes, manifest)) {
      const t0 = performance.now()
      const loaded = await rt.sessions.graph(graph)
      graphs.push({
        graph,
        provider: loaded.provider,
        wallMs: round(performance.now() - t0),
        sessionMs: round(loaded.loadMs),
      })
      for (const f of loaded.fallbacks) fallbacks.push({ graph, provider: f.provider, error: f.error })
    }
    const loadMs = performance.now() - loadStarted
    const loadedProviders = await rt.sessions.loadedProviders()
    progress(
      `loaded in ${loadMs.toFixed(0)} ms: ${graphs.map((g) => `${g.graph} on ${g.provider}`).join(', ')}`,
    )

    // A text pack draws its first example prompt (or the null prompt); a class pack the benchmark's class.
    const text = manifest.conditioning.kind === 'text' ? manifest.conditioning : null
    const condition = text ? { prompt: text.examplePrompts[0] ?? '' } : { class: classIndex }
    let jobs = 0
    const once = async (mode: BenchMode, n: number, firstSeed: number): Promise<Sample> => {
      // The plan is made before a job reaches the host, so it stays outside the timed part like in the app.
      const plan = planGeneration(
        { mode, ...condition, seed: firstSeed % 2 ** 32, n },
        manifest,
        pack.manifestSha256,
        rt.tokenizer,
      )
      const before = rt.sessions.runStats
      const t0 = performance.now()
      const result = await generate(rt, plan, { appVersion: APP_VERSION, jobId: `bench-${++jobs}` })
      const wallMs = performance.now() - t0
      const after = rt.sessions.runStats
      const timings = result.modeTimings[mode]
      // A benchmark of a path that produced nothing would be meaningless: check the PNGs are there.
      if (!timings || result.images.length !== n || result.images.some((im) => im.png.byteLength === 0))
        throw new Error(`${mode} at batch ${n} did not produce ${n} PNG image(s)`)
      return {
        wallMs,
        tokenMs: timings.tokenMs,
        decodeMs: timings.decodeMs,
        runMs: after.ms - before.ms,
        runs: after.runs - before.runs,
      }
    }

    const firstRunMs = new Map<BenchMode, number>()
    for (const mode of modes) {
      progress(`warm-up ${mode}: ${counts.warmUp} image(s) at batch 1`)
      for (let i = 0; i < counts.warmUp; i++) {
        const sample = await once(mode, 1, seed + i)
        if (i === 0) firstRunMs.set(mode, sample.wallMs)
      }
    }

    progress(`memory: ${counts.memoryImages} 1-step images at batch 1`)
    const memory = await memoryRun(counts.memoryImages, collect, (i) => once('1step', 1, seed + i))

    const results: ModeResult[] = []
    for (const mode of modes) {
      const samples = isTeacherMode(mode) ? counts.teacherLatency : counts.ddLatency
      progress(`latency ${mode}: ${samples} image(s) at batch 1`)
      const latency: Sample[] = []
      const t0 = performance.now()
      for (let i = 0; i < samples; i++) latency.push(await once(mode, 1, seed + i))
      const loopMs = performance.now() - t0

      const throughput: ModeResult['throughput'] = [
        {
          batch: 1,
          batches: samples,
          images: samples,
          elapsedMs: round(loopMs),
          imagesPerSecond: round(imagesPerSecond(samples, loopMs)),
          outsideRunFraction: round(outsideOf(latency), 5),
        },
      ]
      const wanted = isTeacherMode(mode) ? counts.teacherThroughputImages : counts.ddThroughputImages
      for (const batch of counts.batchSizes) {
        const batches = Math.max(1, Math.ceil(wanted / batch))
        progress(`throughput ${mode}: ${batches} batch(es) of ${batch}, after one untimed`)
        // onnxruntime sizes its buffers on the first run of a shape: that one is warm-up, not throughput.
        await once(mode, batch, seed)
        const runs: Sample[] = []
        const b0 = performance.now()
        for (let k = 0; k < batches; k++) runs.push(await once(mode, batch, seed + k * batch))
        const elapsed = performance.now() - b0
        throughput.push({
          batch,
          batches,
          images: batches * batch,
          elapsedMs: round(elapsed),
          imagesPerSecond: round(imagesPerSecond(batches * batch, elapsed)),
          outsideRunFraction: round(outsideOf(runs), 5),
        })
      }

      const wall = latency.map((s) => s.wallMs)
      results.push({
        mode,
        firstRunMs: round(firstRunMs.get(mode) ?? 0),
        latency: {
          samples,
          totalMs: roundSummary(summarize(wall)),
          tokenMs: roundSummary(summarize(latency.map((s) => s.tokenMs))),
          decodeMs: roundSummary(summarize(latency.map((s) => s.decodeMs))),
          // Rounded timings from generate() can exceed a tiny wall time by a microsecond: never below 0.
          otherMs: roundSummary(
            summarize(latency.map((s) => Math.max(0, s.wallMs - s.tokenMs - s.decodeMs))),
          ),
          outsideRunFraction: round(outsideOf(latency), 5),
          sessionRunsPerImage: round(latency.reduce((sum, s) => sum + s.runs, 0) / samples, 2),
        },
        throughput,
        vsOneStep: null,
      })
    }

    const p50Of = (mode: BenchMode) => results.find((r) => r.mode === mode)?.latency.totalMs.p50 ?? null
    const oneStep = p50Of('1step')
    for (const r of results) {
      const v = ratio(r.latency.totalMs.p50, oneStep)
      r.vsOneStep = v === null ? null : round(v, 2)
    }
    const arOverOneStep = ratio(p50Of('ar'), oneStep)
    const exactOverOneStep = ratio(p50Of('exact'), oneStep)
    const one = results.find((r) => r.mode === '1step')
    const memoryResult: BenchResult['memory'] = {
      mode: '1step',
      batch: 1,
      ...memory,
      gcForced: collect !== null,
      processPeakRssBytes: process.resourceUsage().maxRSS * 1024,
    }

    const durationMs = performance.now() - started
    progress(`done in ${(durationMs / 1000).toFixed(1)} s`)
    return {
      format: BENCH_FORMAT,
      formatVersion: BENCH_FORMAT_VERSION,
      createdAt,
      appVersion: APP_VERSION,
      durationMs: round(durationMs),
      machine: { ...machineInfo(loadAverage), loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)) },
      runtime: { node: process.versions.node, onnxruntime: ortVersion() },
      pack: {
        id: manifest.id,
        version: manifest.version,
        manifestSha256: pack.manifestSha256,
        dir: pack.dir,
        tokens: manifest.tokens.count,
        steps: stepUnitsOf(manifest),
        width: manifest.image.width,
        height: manifest.image.height,
      },
      provider: {
        requested: options.requested,
        tried: rt.sessions.providers,
        loaded: loadedProviders,
        fallbacks,
        probes: options.probes,
      },
      load: { totalMs: round(loadMs), graphs },
      settings: { classIndex, ...('prompt' in condition ? { prompt: condition.prompt } : {}), seed, counts },
      modes: results,
      memory: memoryResult,
      ratios: {
        arOverOneStep: arOverOneStep === null ? null : round(arOverOneStep, 2),
        exactOverOneStep: exactOverOneStep === null ? null : round(exactOverOneStep, 2),
      },
      targets: [
        {
          name: 'DD 1-step latency p50, batch 1',
          target: `<= ${TARGETS.oneStepP50Ms} ms`,
          value: one ? one.latency.totalMs.p50 : null,
          unit: 'ms',
          pass: one ? one.latency.totalMs.p50 <= TARGETS.oneStepP50Ms : null,
        },
        {
          name: 'time outside session.run, 1-step batch 1',
          target: `<= ${TARGETS.outsideRunFraction * 100}%`,
          value: one ? round(one.latency.outsideRunFraction * 100, 2) : null,
          unit: '%',
          pass: one ? one.latency.outsideRunFraction <= TARGETS.outsideRunFraction : null,
        },
        {
          name: `RSS drift over ${memory.images} 1-step images`,
          target: `<= ${TARGETS.rssDriftPercent}%`,
          value: memory.rssDriftPercent,
          unit: '%',
          pass: memory.rssDriftPercent <= TARGETS.rssDriftPercent,
        },
        {
          name: 'AR / DD 1-step latency (p50, batch 1)',
          target: 'reported',
          value: arOverOneStep === null ? null : round(arOverOneStep, 2),
          unit: 'x',
          pass: null,
        },
        {
          name: 'exact teacher / DD 1-step latency (p50, batch 1)',
          target: 'reported',
          value: exactOverOneStep === null ? null : round(exactOverOneStep, 2),
          unit: 'x',
          pass: null,
        },
      ],
    }
  } finally {
    await rt.sessions.close()
  }
}

async function memoryRun(
  images: number,
  collect: (() => void) | null,
  generateOne: (i: number) => Promise<unknown>,
): Promise<
  Pick<
    BenchResult['memory'],
    'images' | 'start' | 'end' | 'rssDriftPercent' | 'heapDriftPercent' | 'peakRssBytes' | 'trace'
  >
> {
  const point = (done: number): MemoryPoint => {
    const usage = process.memoryUsage()
    return { images: done, rssBytes: usage.rss, heapUsedBytes: usage.heapUsed }
  }
  collect?.()
  const start = point(0)
  const trace: MemoryPoint[] = [start]
  // Ten points in between: a curve that flattens is warm-up, one that keeps climbing is a leak.
  const every = Math.max(1, Math.round(images / 10))
  let peak = start.rssBytes
  for (let i = 0; i < images; i++) {
    await generateOne(i)
    const rss = process.memoryUsage.rss()
    if (rss > peak) peak = rss
    if ((i + 1) % every === 0 && i + 1 < images) trace.push(point(i + 1))
  }
  collect?.()
  const end = point(images)
  trace.push(end)
  return {
    images,
    start,
    end,
    rssDriftPercent: round(driftPercent(start.rssBytes, end.rssBytes), 3),
    heapDriftPercent: round(driftPercent(start.heapUsedBytes, end.heapUsedBytes), 3),
    peakRssBytes: Math.max(peak, end.rssBytes),
    trace,
  }
}

function outsideOf(samples: Sample[]): number {
  const wall = samples.reduce((sum, s) => sum + s.wallMs, 0)
  const inside = samples.reduce((sum, s) => sum + s.runMs, 0)
  return fractionOutside(wall, inside)
}

function roundSummary(s: Summary): Summary {
  return {
    n: s.n,
    min: round(s.min),
    mean: round(s.mean),
    p50: round(s.p50),
    p90: round(s.p90),
    max: round(s.max),
  }
}

/**
 * global.gc when node runs with --expose-gc; otherwise the same function from a fresh context after turning the
 * flag on at run time. Null if neither works: heap readings then include garbage, and the result says so.
 */
function garbageCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc
  if (typeof exposed === 'function') return exposed as () => void
  try {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as unknown
    return typeof gc === 'function' ? (gc as () => void) : null
  } catch {
    return null
  }
}

function machineInfo(loadAverage: number[]): Omit<BenchResult['machine'], 'loadAverageAtEnd'> {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    logicalCores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
    loadAverage,
  }
}
