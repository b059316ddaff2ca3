/**
 * Generation settings as text other tools understand, and back into settings DD Studio can reuse.
 *
 * Every image DD Studio writes carries two descriptions of how it was made: the `dd-studio` iTXt chunk (JSON,
 * exact, what the app reads back) and a `parameters` chunk in the AUTOMATIC1111 convention, which image viewers,
 * galleries and other generators already read:
 *
 *     <prompt, any number of lines>
 *     Negative prompt: <negative prompt, any number of lines>
 *     Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x512, Model hash: abc, Model: name
 *
 * The last line is comma-separated `Key: value` pairs; a value containing a comma, colon, quote or line break is
 * written as a JSON string. For an image of a class pack the prompt is the class name and there is no negative
 * prompt; for a text pack's image they are the prompt and negative prompt it was made with. The DD-specific
 * settings follow the usual keys (see formatParameters).
 *
 * The engine writes `parameters` as tEXt, the chunk those tools look in. tEXt holds only Latin-1, so a class
 * name or prompt outside it (CJK, emoji) makes the engine write the chunk as uncompressed iTXt under the same keyword
 * instead, as Pillow and so AUTOMATIC1111 do: nothing is ever replaced or lost, and A1111-aware readers (which
 * read either chunk) still find it.
 *
 * Pure TypeScript on zod: it runs in main and in the renderer alike.
 */
import { z } from 'zod'
import {
  type GenerateRequest,
  GenerateRequestSchema,
  MAX_PROMPT_CHARS,
  MAX_SEED,
  modelSteps,
  SINGLE_MODES,
  type SingleMode,
  TeacherParamsSchema,
} from './generation.ts'

/** The PNG text keyword of our JSON metadata. */
export const METADATA_KEY = 'dd-studio'
/** The PNG text keyword of the AUTOMATIC1111-style settings text. */
export const PARAMETERS_KEY = 'parameters'

// ---------------------------------------------------------------------------------------------------------------
// Our metadata

const wholeNumber = z.number().int('must be an integer').min(0, 'must be >= 0')
const seed = wholeNumber.max(MAX_SEED, `must be at most ${MAX_SEED}`)

/**
 * The `dd-studio` JSON each generated image carries (written by main/engine/generate.ts). Unknown fields are
 * allowed, so images from a later version still read; the fields settings are rebuilt from are required.
 */
export const DdStudioMetadataSchema = z
  .object({
    app: z.string().optional(),
    appVersion: z.string(),
    pack: z.object({
      id: z.string().min(1, 'must not be empty'),
      version: z.string(),
      manifestSha256: z.string(),
    }),
    mode: z.enum(SINGLE_MODES),
    /** The class of a class pack's image; null for a text pack's (which has `prompt`). */
    class: z.object({ index: wholeNumber, name: z.string() }).nullable(),
    /**
     * A text pack's image: the prompt and negative prompt as given, and the prompt's token ids (what the text
     * encoder got). Left out for a class pack's image.
     */
    prompt: z
      .object({
        text: z.string().max(MAX_PROMPT_CHARS),
        negative: z.string().max(MAX_PROMPT_CHARS).nullable(),
        ids: z.array(wholeNumber).max(4096),
      })
      .optional(),
    seed,
    jobSeed: seed.optional(),
    index: wholeNumber.optional(),
    noise: z.string().optional(),
    /** The DD trajectory of the image's mode; for the teacher modes and 'hybrid' the job's list, unused. */
    tList: z.array(wholeNumber).min(1, 'must not be empty'),
    splitT: wholeNumber,
    /** The hybrid schedule; `splitT` is its DD runs' split_t (left out by versions before hybrid presets). */
    hybrid: z.object({ start: wholeNumber, end: wholeNumber, splitT: wholeNumber.optional() }),
    /**
     * What the pack's steps are and how many the teacher takes (10 scales, 256 tokens): t, tList and hybrid count
     * these. Left out by versions before VAR packs, whose packs all counted tokens.
     */
    steps: z.object({ unit: z.enum(['token', 'scale']), count: z.number().int().positive() }).optional(),
    /** How guidance was applied ('constant' when left out): see the pack format's cfgSchedule. */
    cfgSchedule: z.enum(['constant', 'linear-scale']).optional(),
    teacher: TeacherParamsSchema,
    providers: z.record(z.string(), z.string()).optional(),
    timingsMs: z.record(z.string(), z.number()).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.class === null && !m.prompt)
      ctx.addIssue({ code: 'custom', path: ['class'], message: 'is null, so the image needs a prompt' })
  })
export type DdStudioMetadata = z.infer<typeof DdStudioMetadataSchema>

/** What formatParameters reads: the metadata's settings, without the run's providers and timings. */
export type ParametersSource = Pick<
  DdStudioMetadata,
  | 'app'
  | 'appVersion'
  | 'pack'
  | 'mode'
  | 'class'
  | 'prompt'
  | 'seed'
  | 'noise'
  | 'tList'
  | 'splitT'
  | 'hybrid'
  | 'teacher'
  | 'steps'
>

function describeIssues(what: string, error: z.ZodError): string {
  const shown = error.issues.slice(0, 5).map((issue) => {
    const field = issue.path.map(String).join('.')
    return `${field === '' ? '(top level)' : field}: ${issue.message}`
  })
  const more = error.issues.length > shown.length ? `; and ${error.issues.length - shown.length} more` : ''
  return `${what}: ${shown.join('; ')}${more}`
}

/**
 * Checks `dd-studio` metadata, given as the JSON text from the PNG or already parsed. Throws an Error naming
 * each wrong field ("dd-studio metadata: teacher.topP: must be <= 1").
 */
export function parseMetadata(json: unknown): DdStudioMetadata {
  let value = json
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json)
    } catch (error) {
      throw new Error(`dd-studio metadata is not valid JSON (${(error as Error).message})`)
    }
  }
  const parsed = DdStudioMetadataSchema.safeParse(value)
  if (!parsed.success) throw new Error(describeIssues('dd-studio metadata', parsed.error))
  return parsed.data
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** The A1111 "Sampler" name of each mode. */
export const SAMPLER_NAMES: Record<SingleMode, string> = {
  '1step': 'DD 1-step',
  '2step': 'DD 2-step',
  custom: 'DD custom',
  hybrid: 'DD hybrid',
  ar: 'AR teacher',
  exact: 'Exact teacher',
}

/** A1111 writes a value as a JSON string when it would break the `Key: value, ...` syntax. */
function quoteValue(value: string): string {
  const plain = !/[,:"\r\n]/.test(value) && value.trim() === value
  return plain ? value : JSON.stringify(value)
}

export interface FormatOptions {
  /** Image size, for "Size"; left out when unknown (our metadata does not repeat it). */
  width?: number
  height?: number
  /**
   * The pack's step count (tokens, or scales for VAR): the model passes of the teacher modes. Taken from the
   * metadata's `steps` when not given; "Steps" is left out for 'ar' and 'exact' when neither says. A hybrid
   * whose pack is unknown counts its final DD run.
   */
  tokens?: number
}

/**
 * The A1111-style `parameters` text of one of our images. The prompt line is the class name, or a text pack's
 * prompt (then a "Negative prompt:" line when it had one, and `Conditioning: text` on the settings line); the
 * settings line
 * has the keys other tools know (Steps = model passes of the mode, Sampler, CFG scale = the teacher's guidance,
 * Seed, Size, Model hash = first 10 hex digits of the manifest's sha256, Model = pack id), then DD's own.
 */
export function formatParameters(metadata: ParametersSource, options: FormatOptions = {}): string {
  const { mode, teacher, hybrid, tList } = metadata
  const settings: [string, string][] = []
  const teacherMode = mode === 'ar' || mode === 'exact'
  const packSteps = options.tokens ?? metadata.steps?.count
  if (!teacherMode || packSteps !== undefined) {
    // The metadata's tList is the mode's own trajectory, which is also what '2step' runs.
    const steps = modelSteps(mode, packSteps ?? Number.POSITIVE_INFINITY, {
      twoStepTList: tList,
      tList,
      hybrid,
    })
    settings.push(['Steps', String(steps)])
  }
  settings.push(['Sampler', SAMPLER_NAMES[mode]])
  settings.push(['CFG scale', String(teacher.cfgScale)])
  settings.push(['Seed', String(metadata.seed)])
  if (options.width !== undefined && options.height !== undefined) {
    settings.push(['Size', `${options.width}x${options.height}`])
  }
  settings.push(['Model hash', metadata.pack.manifestSha256.slice(0, 10)])
  settings.push(['Model', metadata.pack.id])
  settings.push(['Mode', mode])
  if (metadata.class) settings.push(['Class index', String(metadata.class.index)])
  else settings.push(['Conditioning', 'text'])
  settings.push(['T list', tList.join(', ')])
  settings.push(['Split t', String(metadata.splitT)])
  settings.push(['Hybrid', `${hybrid.start}-${hybrid.end}`])
  if (hybrid.splitT !== undefined) settings.push(['Hybrid split t', String(hybrid.splitT)])
  if (metadata.steps?.unit === 'scale') settings.push(['Step unit', 'scale'])
  settings.push(['Temperature', String(teacher.temperature)])
  settings.push(['Top k', String(teacher.topK)])
  settings.push(['Top p', String(teacher.topP)])
  if (metadata.noise !== undefined) settings.push(['Noise', metadata.noise])
  settings.push(['Pack version', metadata.pack.version])
  settings.push(['Version', `${metadata.app ?? 'DD Studio'} ${metadata.appVersion}`])
  const line = settings.map(([key, value]) => `${key}: ${quoteValue(value)}`).join(', ')
  const prompt = metadata.prompt?.text ?? metadata.class?.name ?? ''
  const negative = metadata.prompt?.negative ? `\n${NEGATIVE_PREFIX} ${metadata.prompt.negative}` : ''
  return `${prompt}${negative}\n${line}`
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

export interface ParsedParameters {
  prompt: string
  negativePrompt: string
  /** The settings line's pairs, values unquoted; a repeated key keeps its last value. */
  settings: Record<string, string>
}

/**
 * One `Key: value` pair, as A1111 reads them: a key of letters, digits, spaces, dashes and slashes, then a
 * JSON-quoted value or everything up to the next comma (colons included: "Time: 1:23" is one pair).
 */
const PAIR = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/.]*?)\s*:\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/gu
const NEGATIVE_PREFIX = 'Negative prompt:'
/** A1111 takes the last line as settings only when it has at least this many pairs; so do we. */
const MIN_SETTINGS_PAIRS = 3

function pairsOf(line: string): [string, string][] {
  const pairs: [string, string][] = []
  for (const match of line.matchAll(PAIR)) {
    const key = match[1] as string
    const raw = (match[2] as string).trim()
    pairs.push([key, unquote(raw)])
  }
  return pairs
}

function unquote(raw: string): string {
  if (raw.length < 2 || !raw.startsWith('"') || !raw.endsWith('"')) return raw
  try {
    const value: unknown = JSON.parse(raw)
    if (typeof value === 'string') return value
  } catch {
    // Not valid JSON (a tool that quotes without escaping): the text between the quotes is the best guess.
  }
  return raw.slice(1, -1)
}

function looksLikeJson(text: string): boolean {
  if (!/^[[{]/.test(text)) return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * Reads A1111-style parameters text: prompt and negative prompt (each any number of lines), then the settings
 * line. Tolerates a missing negative prompt, an empty prompt, CRLF line ends, blank and indented lines, and
 * trailing whitespace. Throws an Error saying why when the text is not in this format.
 */
export function parseParameters(text: string): ParsedParameters {
  if (typeof text !== 'string') throw new Error(`parameters must be text, got ${typeof text}`)
  const trimmed = text.trim()
  if (trimmed === '') throw new Error('the parameters text is empty')
  if (looksLikeJson(trimmed)) {
    throw new Error('the parameters text is JSON, not AUTOMATIC1111-style "prompt + settings line" text')
  }
  const lines = trimmed.split(/\r\n|\r|\n/).map((line) => line.trim())
  const last = lines.pop() as string
  const pairs = pairsOf(last)
  if (pairs.length < MIN_SETTINGS_PAIRS) {
    throw new Error(
      'the parameters text has no settings line: its last line should be comma-separated "Key: value" pairs ' +
        `such as "Steps: 20, Sampler: Euler a, Seed: 1" (found ${JSON.stringify(last.slice(0, 80))})`,
    )
  }
  const prompt: string[] = []
  const negative: string[] = []
  let inNegative = false
  for (const line of lines) {
    if (!inNegative && line.startsWith(NEGATIVE_PREFIX)) {
      inNegative = true
      negative.push(line.slice(NEGATIVE_PREFIX.length).trim())
    } else {
      ;(inNegative ? negative : prompt).push(line)
    }
  }
  const settings: Record<string, string> = {}
  for (const [key, value] of pairs) settings[key] = value
  return { prompt: prompt.join('\n').trim(), negativePrompt: negative.join('\n').trim(), settings }
}

// ---------------------------------------------------------------------------------------------------------------
// Back to settings

/**
 * The settings an image of ours was made with, ready for "Use these settings": pack, mode, class index (or a
 * text pack's prompt and negative prompt), the
 * image's own seed (so n = 1 remakes exactly this image), and the mode's trajectory, hybrid range and teacher
 * parameters. The batch size is left to the user. Throws an Error naming the field when the metadata is wrong.
 */
export function settingsFromMetadata(ourJson: unknown): GenerateRequest {
  const m = parseMetadata(ourJson)
  const request: GenerateRequest = {
    packId: m.pack.id,
    mode: m.mode,
    ...(m.prompt
      ? { prompt: m.prompt.text, ...(m.prompt.negative ? { negativePrompt: m.prompt.negative } : {}) }
      : { class: m.class?.index }),
    seed: m.seed,
    hybrid: {
      start: m.hybrid.start,
      end: m.hybrid.end,
      ...(m.hybrid.splitT !== undefined ? { splitT: m.hybrid.splitT } : {}),
    },
    teacher: { ...m.teacher },
  }
  // '1step' always runs [0], and the teacher modes and 'hybrid' carry a list they did not use.
  if (m.mode === '2step' || m.mode === 'custom') request.tList = [...m.tList]
  const checked = GenerateRequestSchema.safeParse(request)
  if (!checked.success) throw new Error(describeIssues('dd-studio metadata', checked.error))
  return checked.data
}

export interface A1111Settings {
  /** True when the text names DD Studio (Version) or one of its samplers: the DD keys are then read too. */
  fromDdStudio: boolean
  prompt: string
  negativePrompt: string
  /** "Size", which DD packs do not take as a setting (each pack has one image size). */
  size: { width: number; height: number } | null
  /**
   * What maps onto a generation request: the seed and CFG scale (the teacher's guidance); from our own text also
   * pack, mode, class (or a text pack's prompt and negative prompt), trajectory, hybrid range and teacher
   * sampling. A foreign prompt is not a class: match `prompt` against the pack's class names before using it as
   * one.
   */
  request: Partial<GenerateRequest>
  /** Keys of the settings line that mean nothing to a DD pack (Steps, Sampler, Model hash of other tools, ...). */
  notApplicable: string[]
  /** Values that were present but could not be used, each naming the key and saying why. */
  problems: string[]
}

/** Why a settings value cannot be used (a class, so it cannot be mistaken for a value). */
class Unusable {
  readonly why: string
  constructor(why: string) {
    this.why = why
  }
}

/** Keys our own text carries that describe the image but are not inputs (derived from the mode, or fixed). */
const DD_INFORMATIONAL = new Set([
  'Steps',
  'Sampler',
  'Model hash',
  'Split t',
  'Noise',
  'Pack version',
  'Version',
  'Step unit',
])

function parseWhole(value: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(value)) return null
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null
}

function parseDecimal(value: string): number | null {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) return null
  return Number(value)
}

function modeOf(settings: Record<string, string>): SingleMode | null {
  const mode = settings.Mode
  if (mode !== undefined && (SINGLE_MODES as readonly string[]).includes(mode)) return mode as SingleMode
  const sampler = settings.Sampler
  const bySampler = (Object.keys(SAMPLER_NAMES) as SingleMode[]).find((m) => SAMPLER_NAMES[m] === sampler)
  return bySampler ?? null
}

/**
 * What an A1111-style parameters text offers DD Studio: seed, CFG scale, prompt and size from any tool, and the
 * full settings when DD Studio wrote it. Keys with no DD meaning are listed, not dropped silently, so the UI
 * can say what was left behind; bad values are reported in `problems`.
 */
export function settingsFromA1111(parsed: ParsedParameters): A1111Settings {
  const { settings } = parsed
  const used = new Set<string>()
  const problems: string[] = []
  const request: Partial<GenerateRequest> = {}
  const teacher: NonNullable<GenerateRequest['teacher']> = {}
  const fromDdStudio =
    (settings.Version ?? '').startsWith('DD Studio') ||
    Object.values(SAMPLER_NAMES).includes(settings.Sampler ?? '')

  /** Reads one key if present: `read` returns the value to keep, or a reason it cannot be used. */
  const take = <T>(key: string, read: (value: string) => T | Unusable): T | undefined => {
    const value = settings[key]
    if (value === undefined) return undefined
    used.add(key)
    const result = read(value)
    if (result instanceof Unusable) {
      problems.push(`${key}: ${JSON.stringify(value)} ${result.why}`)
      return undefined
    }
    return result as T
  }

  const seedValue = take(
    'Seed',
    (v) => parseWhole(v, 0, MAX_SEED) ?? new Unusable(`is not a whole number from 0 to ${MAX_SEED}`),
  )
  if (seedValue !== undefined) request.seed = seedValue
  const cfg = take('CFG scale', (v) => {
    const n = parseDecimal(v)
    return n !== null && n >= 0 && n <= 50 ? n : new Unusable('is not a number from 0 to 50')
  })
  if (cfg !== undefined) teacher.cfgScale = cfg
  const size =
    take('Size', (v) => {
      const match = /^(\d+)\s*x\s*(\d+)$/i.exec(v)
      const width = match ? parseWhole(match[1] as string, 1, 65535) : null
      const height = match ? parseWhole(match[2] as string, 1, 65535) : null
      return width !== null && height !== null
        ? { width, height }
        : new Unusable('is not a size like 512x512')
    }) ?? null

  if (fromDdStudio) {
    const mode = modeOf(settings)
    if (mode !== null) request.mode = mode
    else problems.push('Mode: missing or not a DD Studio mode')
    used.add('Mode')
    const packId = take('Model', (v) => v)
    if (packId !== undefined) request.packId = packId
    const classIndex = take(
      'Class index',
      (v) => parseWhole(v, 0, Number.MAX_SAFE_INTEGER) ?? new Unusable('is not a whole number'),
    )
    const textPack = take('Conditioning', (v) => (v === 'text' ? true : new Unusable('is not "text"')))
    if (textPack) {
      // A text pack's image: its prompt lines are the prompt, not a class name.
      request.prompt = parsed.prompt
      if (parsed.negativePrompt !== '') request.negativePrompt = parsed.negativePrompt
    } else if (classIndex !== undefined) request.class = classIndex
    else if (parsed.prompt !== '') request.class = parsed.prompt
    const tList = take('T list', (v) => {
      const parts = v.split(',').map((p) => parseWhole(p.trim(), 0, Number.MAX_SAFE_INTEGER))
      return parts.every((p) => p !== null)
        ? (parts as number[])
        : new Unusable('is not a list of whole numbers')
    })
    if (tList !== undefined && (mode === '2step' || mode === 'custom')) request.tList = tList
    const hybrid = take('Hybrid', (v) => {
      const match = /^(\d+)\s*-\s*(\d+)$/.exec(v)
      return match
        ? { start: Number(match[1]), end: Number(match[2]) }
        : new Unusable('is not a range like 4-12')
    })
    const hybridSplitT = take(
      'Hybrid split t',
      (v) => parseWhole(v, 0, Number.MAX_SAFE_INTEGER) ?? new Unusable('is not a whole number'),
    )
    if (hybrid !== undefined)
      request.hybrid = hybridSplitT === undefined ? hybrid : { ...hybrid, splitT: hybridSplitT }
    const temperature = take('Temperature', (v) => {
      const n = parseDecimal(v)
      return n !== null && n > 0 && n <= 10 ? n : new Unusable('is not a number above 0 and at most 10')
    })
    if (temperature !== undefined) teacher.temperature = temperature
    const topK = take(
      'Top k',
      (v) => parseWhole(v, 1, Number.MAX_SAFE_INTEGER) ?? new Unusable('is not a whole number >= 1'),
    )
    if (topK !== undefined) teacher.topK = topK
    const topP = take('Top p', (v) => {
      const n = parseDecimal(v)
      return n !== null && n > 0 && n <= 1 ? n : new Unusable('is not a number above 0 and at most 1')
    })
    if (topP !== undefined) teacher.topP = topP
    for (const key of DD_INFORMATIONAL) used.add(key)
  }
  if (Object.keys(teacher).length > 0) request.teacher = teacher

  return {
    fromDdStudio,
    prompt: parsed.prompt,
    negativePrompt: parsed.negativePrompt,
    size,
    request,
    notApplicable: Object.keys(settings).filter((key) => !used.has(key)),
    problems,
  }
}
