/** Options of `npm run generate`, validated before the inference host starts. */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import {
  GENERATION_MODES,
  MAX_IMAGES_PER_JOB,
  MAX_PROMPT_CHARS,
  MAX_SEED,
  TeacherParamsSchema,
} from '../../common/generation.ts'
import { describeIssues } from '../ipc/dispatcher.ts'

export const GENERATE_USAGE = `Usage: npm run generate -- [--pack ID] [--class NAME|INDEX | --prompt TEXT] [--mode MODE] [--seed N] [--n N] [--out DIR]

  --pack ID          model pack (default: the built-in default pack)
  --class C          class pack: class index, or a class name (a unique part of one is enough; default 0)
  --prompt TEXT      text pack: what to draw ("" for an unconditional image, when the pack has that mode);
                       class pack: picks the class the text names, as the app's prompt box does
  --negative-prompt TEXT
                     text pack: what guidance steers away from (the teacher modes: hybrid, exact, ar)
  --mode MODE        ${GENERATION_MODES.join(' | ')} (default 1step)
                       1step, 2step, custom: the DD student (custom takes --t-list)
                       hybrid: DD, then the teacher for the first tokens, then DD
                       ar: the original AR teacher; exact: the teacher driven by the same noise as DD
                       compare: every mode on the same noise, with token agreement to the exact teacher
  --seed N           0 .. ${MAX_SEED} (default: random; printed)
  --n N              images, 1 .. ${MAX_IMAGES_PER_JOB} (default 1)
  --t-list L         DD trajectory points, e.g. 0,32 (default: the pack's)
  --hybrid S,E[,T]   hybrid: teacher from step S to step E (tokens; scales for VAR packs), and the DD runs'
                       split_t T (default: the pack's schedule)
  --temperature T    teacher sampling (ar, exact, hybrid; default: the pack's), (0, 10]
  --top-k K          1 .. codebook size
  --top-p P          (0, 1]
  --cfg S            classifier-free guidance scale, 0 .. 50
  --out DIR          where PNGs go (default ./dd-out)
  --data-dir D       settings and models folder (default: the per-user data folder)`

const intList = z.array(z.number().int().min(0)).min(1).max(64)

const GenerateArgsSchema = z.strictObject({
  pack: z.string().min(1).max(200).nullable(),
  /** --class, or class 0 when neither --class nor --prompt is given (a text pack then gets no class). */
  class: z.union([z.number().int().min(0), z.string().min(1).max(200)]).nullable(),
  /** Whether --class was given, rather than defaulted. */
  classGiven: z.boolean(),
  prompt: z.string().max(MAX_PROMPT_CHARS).nullable(),
  negativePrompt: z.string().max(MAX_PROMPT_CHARS).nullable(),
  mode: z.enum(GENERATION_MODES),
  seed: z.number().int().min(0).max(MAX_SEED).nullable(),
  n: z.number().int().min(1).max(MAX_IMAGES_PER_JOB),
  tList: intList.nullable(),
  hybrid: z
    .union([
      z.tuple([z.number().int().min(0), z.number().int().min(1)]),
      z.tuple([z.number().int().min(0), z.number().int().min(1), z.number().int().min(0)]),
    ])
    .nullable(),
  // The contract's ranges, so a bad value is refused naming the flag before the host starts.
  temperature: TeacherParamsSchema.shape.temperature.nullable(),
  topK: TeacherParamsSchema.shape.topK.nullable(),
  topP: TeacherParamsSchema.shape.topP.nullable(),
  cfg: TeacherParamsSchema.shape.cfgScale.nullable(),
  out: z.string().min(1).max(4096),
  dataDir: z.string().min(1).max(4096).nullable(),
  help: z.boolean(),
})

export type GenerateArgs = z.infer<typeof GenerateArgsSchema>

function toInt(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  return /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
}

function toFloat(value: string | undefined): number | null {
  if (value === undefined) return null
  return /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(value.trim()) ? Number(value) : Number.NaN
}

function toList(value: string | undefined): number[] | null {
  if (value === undefined) return null
  return value.split(',').map((v) => toInt(v) ?? Number.NaN)
}

export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      pack: { type: 'string' },
      class: { type: 'string' },
      prompt: { type: 'string' },
      'negative-prompt': { type: 'string' },
      mode: { type: 'string' },
      seed: { type: 'string' },
      n: { type: 'string' },
      't-list': { type: 'string' },
      hybrid: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      cfg: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  // Without --class: class 0, unless --prompt says what to draw.
  const classArg = values.class ?? (values.prompt === undefined ? '0' : null)
  const parsed = GenerateArgsSchema.safeParse({
    pack: values.pack ?? null,
    class: classArg === null ? null : /^\d+$/.test(classArg) ? Number(classArg) : classArg,
    classGiven: values.class !== undefined,
    prompt: values.prompt ?? null,
    negativePrompt: values['negative-prompt'] ?? null,
    mode: values.mode ?? '1step',
    seed: toInt(values.seed) ?? null,
    n: toInt(values.n) ?? 1,
    tList: toList(values['t-list']),
    hybrid: toList(values.hybrid),
    temperature: toFloat(values.temperature),
    topK: toInt(values['top-k']) ?? null,
    topP: toFloat(values['top-p']),
    cfg: toFloat(values.cfg),
    out: path.resolve(values.out ?? 'dd-out'),
    dataDir: values['data-dir'] ? path.resolve(values['data-dir']) : null,
    help: values.help ?? false,
  })
  if (!parsed.success) {
    const flags: Record<string, string> = {
      tList: 't-list',
      topK: 'top-k',
      topP: 'top-p',
      dataDir: 'data-dir',
      negativePrompt: 'negative-prompt',
    }
    throw new Error(
      describeIssues(parsed.error).replace(/input\.(\w+)/g, (_, key: string) => `--${flags[key] ?? key}`),
    )
  }
  return parsed.data
}

/** Request fields as the command line spells them. */
const FLAG_OF_FIELD: Record<string, string> = {
  packId: '--pack',
  class: '--class',
  prompt: '--prompt',
  negativePrompt: '--negative-prompt',
  mode: '--mode',
  seed: '--seed',
  n: '--n',
  tList: '--t-list',
  'hybrid.start': '--hybrid',
  'hybrid.end': '--hybrid',
  'hybrid.splitT': '--hybrid',
  hybrid: '--hybrid',
  'teacher.temperature': '--temperature',
  'teacher.topK': '--top-k',
  'teacher.topP': '--top-p',
  'teacher.cfgScale': '--cfg',
}

/**
 * A refusal of jobs.submit (e.g. `teacher.topK: must be in 1..512`, which depends on the pack) in the words of
 * the command line: `--top-k: must be in 1..512`.
 */
export function inFlagTerms(message: string): string {
  return message
    .replace(/^jobs\.submit: /, '')
    .replace(
      /(?<![\w.-])(?:input\.)?([A-Za-z]+(?:\.[A-Za-z]+)?)(?=:)/g,
      (whole, field: string) => FLAG_OF_FIELD[field] ?? whole,
    )
}
