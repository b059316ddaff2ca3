/** Options of `npm run generate`, validated before the inference host starts. */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { describeIssues } from '../ipc/dispatcher.ts'

export const GENERATE_MODES = ['1step', '2step', 'hybrid', 'ar', 'exact', 'compare'] as const

export const GENERATE_USAGE = `Usage: npm run generate -- [--pack ID] [--class NAME|INDEX] [--mode MODE] [--seed N] [--n N] [--out DIR]

  --pack ID      model pack (default: the built-in default pack)
  --class C      class name or index
  --mode MODE    ${GENERATE_MODES.join(' | ')} (default 1step)
  --seed N       0 .. 2^32-1 (default: random)
  --n N          images, 1 .. 64 (default 1)
  --out DIR      where PNGs go (default ./dd-out)
  --data-dir D   settings and models folder (default: the per-user data folder)`

const GenerateArgsSchema = z.strictObject({
  pack: z.string().min(1).max(200).nullable(),
  class: z.string().min(1).max(200).nullable(),
  mode: z.enum(GENERATE_MODES),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullable(),
  n: z.number().int().min(1).max(64),
  out: z.string().min(1).max(4096),
  dataDir: z.string().min(1).max(4096).nullable(),
  help: z.boolean(),
})

export type GenerateArgs = z.infer<typeof GenerateArgsSchema>

function toNumber(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined
  return /^-?\d+$/.test(value) ? Number(value) : Number.NaN
}

export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      pack: { type: 'string' },
      class: { type: 'string' },
      mode: { type: 'string' },
      seed: { type: 'string' },
      n: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const parsed = GenerateArgsSchema.safeParse({
    pack: values.pack ?? null,
    class: values.class ?? null,
    mode: values.mode ?? '1step',
    seed: toNumber(values.seed) ?? null,
    n: toNumber(values.n) ?? 1,
    out: path.resolve(values.out ?? 'dd-out'),
    dataDir: values['data-dir'] ? path.resolve(values['data-dir']) : null,
    help: values.help ?? false,
  })
  if (!parsed.success) throw new Error(describeIssues(parsed.error).replaceAll('input.', '--'))
  return parsed.data
}
