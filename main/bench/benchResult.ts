/**
 * What a benchmark run records: the JSON written to <data dir>/bench/latest.json, first-run.json and --out. The
 * schema is the reader's contract too (the UI labels modes with first-run.json), so every number a reader may
 * use is checked to be finite.
 */
import { z } from 'zod'
import { EXECUTION_PROVIDERS } from '../../common/types.ts'

export const BENCH_FORMAT = 'dd-studio-bench'
export const BENCH_FORMAT_VERSION = 1

/** The modes the benchmark runs, fastest first. */
export const BENCH_MODES = ['1step', '2step', 'hybrid', 'exact', 'ar'] as const
export type BenchMode = (typeof BENCH_MODES)[number]
/** Modes that run the teacher once per step (token or scale): slow, so they get fewer repetitions. */
export const TEACHER_MODES: readonly BenchMode[] = ['hybrid', 'exact', 'ar']

// Zod 4 numbers are finite: a NaN or Infinity (null once in JSON) fails validation instead of reaching a reader.
const num = z.number()
const nonNeg = num.min(0)
const ms = nonNeg
const count = z.number().int().min(0)
const provider = z.enum(EXECUTION_PROVIDERS)
const graphName = z.enum([
  'generator',
  'decoder',
  'teacherStep',
  'teacherScale',
  'textEncoder',
  'teacherPrefill',
])

const SummarySchema = z.object({ n: count, min: ms, mean: ms, p50: ms, p90: ms, max: ms })

const MemoryPointSchema = z.object({ images: count, rssBytes: nonNeg, heapUsedBytes: nonNeg })

export const BenchCountsSchema = z.object({
  /** Batch-1 latency samples per DD mode (1step, 2step). */
  ddLatency: z.number().int().min(1),
  /** Batch-1 latency samples per teacher mode (hybrid, exact, ar). */
  teacherLatency: z.number().int().min(1),
  /** Untimed batch-1 runs per mode before anything is timed (the first is reported as firstRunMs). */
  warmUp: z.number().int().min(1),
  /** Images per batch size in the throughput runs (rounded up to whole batches). */
  ddThroughputImages: z.number().int().min(1),
  teacherThroughputImages: z.number().int().min(1),
  /** Batch sizes of the throughput runs besides 1 (batch 1 comes from the latency run). */
  batchSizes: z.array(z.number().int().min(2)),
  /** 1-step images at batch 1 in the memory run. */
  memoryImages: z.number().int().min(1),
})
export type BenchCounts = z.infer<typeof BenchCountsSchema>

const ThroughputSchema = z.object({
  batch: z.number().int().min(1),
  batches: z.number().int().min(1),
  images: z.number().int().min(1),
  elapsedMs: ms,
  imagesPerSecond: nonNeg,
  /** Share of the wall time outside session.run, 0..1. */
  outsideRunFraction: num,
})

export const ModeResultSchema = z.object({
  mode: z.enum(BENCH_MODES),
  /** The first warm-up generation: cold caches, first allocations. Not part of any statistic. */
  firstRunMs: ms,
  latency: z.object({
    samples: z.number().int().min(1),
    /** Wall time of generate() at batch 1: noise, sampling, decode, PNG with metadata. */
    totalMs: SummarySchema,
    tokenMs: SummarySchema,
    decodeMs: SummarySchema,
    /** total - token - decode: noise, tensors, PNG, metadata, awaits. */
    otherMs: SummarySchema,
    /** Share of the summed wall time outside session.run, 0..1. */
    outsideRunFraction: num,
    sessionRunsPerImage: nonNeg,
  }),
  /** Batch 1 (from the latency run) and every other batch size. */
  throughput: z.array(ThroughputSchema),
  /** p50 at batch 1 divided by 1-step's p50 at batch 1. */
  vsOneStep: nonNeg.nullable(),
})
export type ModeResult = z.infer<typeof ModeResultSchema>

export const BenchResultSchema = z.object({
  format: z.literal(BENCH_FORMAT),
  formatVersion: z.literal(BENCH_FORMAT_VERSION),
  createdAt: z.string().min(1),
  appVersion: z.string(),
  durationMs: ms,
  machine: z.object({
    cpuModel: z.string(),
    logicalCores: count,
    availableParallelism: count,
    totalMemoryBytes: nonNeg,
    platform: z.string(),
    arch: z.string(),
    osRelease: z.string(),
    /** 1, 5 and 15 minute load averages when the run started (zeros on Windows): other work skews timings. */
    loadAverage: z.array(nonNeg),
    /** The same at the end: a machine busy with other work gives slow, spread-out timings. */
    loadAverageAtEnd: z.array(nonNeg),
  }),
  runtime: z.object({ node: z.string(), onnxruntime: z.string() }),
  pack: z.object({
    id: z.string(),
    version: z.string(),
    manifestSha256: z.string(),
    dir: z.string(),
    tokens: count,
    /** What a step is and how many the teacher takes; left out by results from before VAR packs (tokens). */
    steps: z.object({ unit: z.enum(['token', 'scale']), count: z.number().int().min(1) }).optional(),
    width: count,
    height: count,
  }),
  provider: z.object({
    /** What was asked for: 'auto' (the app's choice) or a provider name. */
    requested: z.union([z.literal('auto'), provider]),
    /** The order tried; cpu is always last. */
    tried: z.array(provider),
    /** What each graph really runs on. */
    loaded: z.partialRecord(graphName, provider),
    /** Providers that were tried and failed, per graph, in the runtime's words. */
    fallbacks: z.array(z.object({ graph: graphName, provider, error: z.string() })),
    probes: z
      .array(
        z.object({
          name: provider,
          available: z.boolean(),
          error: z.string().nullable(),
          probeMs: ms.nullable(),
        }),
      )
      .nullable(),
  }),
  load: z.object({
    /** Reading the codebook and creating every session, each with one warm-up run on its provider. */
    totalMs: ms,
    graphs: z.array(z.object({ graph: graphName, provider, wallMs: ms, sessionMs: ms })),
  }),
  settings: z.object({
    classIndex: count,
    /** A text pack's prompt (its first example prompt); absent for a class pack. */
    prompt: z.string().optional(),
    seed: count,
    counts: BenchCountsSchema,
  }),
  modes: z.array(ModeResultSchema),
  memory: z.object({
    mode: z.literal('1step'),
    batch: z.literal(1),
    images: z.number().int().min(1),
    /** Whether garbage was collected before each reading (otherwise heap numbers include garbage). */
    gcForced: z.boolean(),
    start: MemoryPointSchema,
    end: MemoryPointSchema,
    rssDriftPercent: num,
    heapDriftPercent: num,
    /** Highest RSS seen during the run (read after every image). */
    peakRssBytes: nonNeg,
    /** The OS's peak RSS of the whole process at the end of the benchmark (batch 32 included). */
    processPeakRssBytes: nonNeg,
    trace: z.array(MemoryPointSchema),
  }),
  ratios: z.object({
    arOverOneStep: nonNeg.nullable(),
    exactOverOneStep: nonNeg.nullable(),
  }),
  targets: z.array(
    z.object({
      name: z.string(),
      target: z.string(),
      value: num.nullable(),
      unit: z.string(),
      /** null: informational, or not measured in this run. */
      pass: z.boolean().nullable(),
    }),
  ),
})
export type BenchResult = z.infer<typeof BenchResultSchema>
