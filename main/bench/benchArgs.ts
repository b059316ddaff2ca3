/** Options of `npm run bench`, validated before anything loads; a bad value is reported with its flag. */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { EXECUTION_PROVIDERS } from '../../common/types.ts'
import { describeIssues } from '../ipc/dispatcher.ts'
import type { BenchCounts } from './benchResult.ts'

export const DEFAULT_IMAGES = 200

/** Above this a default-sized run would take hours on a laptop CPU; nobody means that. */
export const MAX_IMAGES = 100_000

export const BENCH_USAGE = `Usage: npm run bench -- [--pack ID] [--ep auto|${EXECUTION_PROVIDERS.join('|')}] [--json] [--images N] [--out FILE]

Measures the engine in this process (no inference host, no IPC): every mode on class 0 with fixed seeds,
after loading the sessions and warming up.

  --pack ID        model pack (default: the built-in default pack)
  --ep EP          execution provider to try first, cpu being the fallback (default: the app's setting,
                   normally auto: the first provider that passes a probe)
  --json           print the result as JSON instead of the table (progress still goes to stderr)
  --images N       1 .. ${MAX_IMAGES} (default ${DEFAULT_IMAGES}): batch-1 samples and images per batch size of the DD
                   modes; the teacher modes (hybrid, exact, ar) take N/10, at least 3; the memory run makes
                   5 x N 1-step images
  --out FILE       also write the JSON result here (it always goes to <data dir>/bench/latest.json)
  --data-dir D     settings and models folder (default: the per-user data folder)`

/**
 * The counts a run uses, from one knob (`--images`, default 200): the DD modes take that many batch-1 samples
 * and that many images per batch size; the teacher modes, one model run per token (or scale), take a tenth (at
 * least 3 samples, at least one batch); the memory run makes five times as many 1-step images (1,000 by default).
 */
export function countsFor(images: number): BenchCounts {
  const teacher = Math.max(3, Math.round(images / 10))
  return {
    ddLatency: images,
    teacherLatency: teacher,
    warmUp: 3,
    ddThroughputImages: images,
    teacherThroughputImages: teacher,
    batchSizes: [8, 32],
    memoryImages: 5 * images,
  }
}

const BenchArgsSchema = z.strictObject({
  pack: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a pack id (lower-case letters, digits and dashes)')
    .max(64)
    .nullable(),
  ep: z.enum(['auto', ...EXECUTION_PROVIDERS]).nullable(),
  json: z.boolean(),
  images: z
    .number('must be a whole number')
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(MAX_IMAGES, `must be at most ${MAX_IMAGES}`),
  out: z.string().min(1, 'must not be empty').max(4096).nullable(),
  dataDir: z.string().min(1, 'must not be empty').max(4096).nullable(),
  help: z.boolean(),
})

export type BenchArgs = z.infer<typeof BenchArgsSchema>

const FLAGS: Record<string, string> = { dataDir: 'data-dir' }

export function parseBenchArgs(argv: string[]): BenchArgs {
  // parseArgs names unknown flags itself ("Unknown option '--foo'") and a string flag given no value.
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      pack: { type: 'string' },
      ep: { type: 'string' },
      json: { type: 'boolean' },
      images: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const parsed = BenchArgsSchema.safeParse({
    pack: values.pack ?? null,
    ep: values.ep ?? null,
    json: values.json ?? false,
    // Only plain digits count: '1e3', '10abc' or '' are errors, not numbers Number() happens to accept.
    images:
      values.images === undefined
        ? DEFAULT_IMAGES
        : /^\d+$/.test(values.images.trim())
          ? Number(values.images)
          : Number.NaN,
    // An empty value stays empty so the schema rejects it instead of falling back to the default.
    out: values.out === undefined ? null : values.out && path.resolve(values.out),
    dataDir: values['data-dir'] === undefined ? null : values['data-dir'] && path.resolve(values['data-dir']),
    help: values.help ?? false,
  })
  if (!parsed.success) {
    throw new Error(
      describeIssues(parsed.error).replace(/input\.(\w+)/g, (_, key: string) => `--${FLAGS[key] ?? key}`),
    )
  }
  return parsed.data
}
