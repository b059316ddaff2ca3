/**
 * A generation request, checked against the pack it names and completed with the pack's defaults. The contract's
 * zod schema already checked types and ranges that do not depend on a pack; what depends on the pack (class
 * names, a text pack's prompt through its tokenizer, t_list and the hybrid schedule against the pack's steps,
 * top-k against the codebook) is checked here, with errors that name the field. Steps are the pack's (models/PACK_FORMAT.md): tokens for a 'llamagen' pack,
 * scales for a 'var' pack. The plan is plain data: it travels to the inference host and into each image's
 * metadata.
 */

import { classFromText, type PreparedClasses, prepareClasses } from '../../common/classMatch.ts'
import {
  DEFAULT_COMPARE_MODES,
  type GenerateRequest,
  type GenerationMode,
  type HybridSettings,
  type PackFamily,
  type SingleMode,
  type StepUnits,
  type TeacherParams,
} from '../../common/generation.ts'
import { promptNotes } from '../../common/prompt.ts'
import { AppError } from '../../common/result.ts'
import { classesOf, type PackManifest } from './packs/manifest.ts'
import { stepUnitsOf } from './steps.ts'
import type { WordTokenizer } from './text/tokenizer.ts'

/** How classifier-free guidance mixes the logits (the manifest's sampling.teacher.cfgSchedule). */
export type CfgSchedule = 'constant' | 'linear-scale'

export interface GenerationPlan {
  packId: string
  packVersion: string
  /** sha256 of the pack's manifest.json, which pins every file of the pack. */
  packHash: string
  mode: GenerationMode
  family: PackFamily
  /** What t, tList and hybrid count (tokens or scales), and how many steps the teacher takes. */
  steps: StepUnits
  /** The modes that run: one, or several for 'compare'. */
  modes: SingleMode[]
  /** A class pack's class; null for a text pack. */
  classIndex: number | null
  className: string | null
  /** A text pack's prompt, tokenized; null for a class pack. */
  prompt: PlannedPrompt | null
  /** What became of the prompt and negative prompt (common/prompt.ts promptNotes), or the class a prompt picked. */
  promptNotes: string[]
  seed: number
  n: number
  /** The DD trajectory of the job's mode: [0] for '1step', the 2-step list, or the 'custom' list. */
  tList: number[]
  /** What '2step' runs: in a 'compare' job the pack's [0, t2] even when `tList` holds the 'custom' list. */
  twoStepTList: number[]
  splitT: number
  hybrid: HybridSettings
  teacher: TeacherParams
  cfgSchedule: CfgSchedule
}

/** A text pack's prompt as the job runs it: the text as given and what text_encoder.onnx gets for it. */
export interface PlannedPrompt {
  text: string
  /** The negative prompt; null when there is none (an empty one counts as none). */
  negative: string | null
  /** The prompt's token ids, maxTokens of them. */
  ids: number[]
  /** The unconditional branch of guidance: the negative prompt's ids, or the null prompt's. */
  uncondIds: number[]
}

function invalid(field: string, message: string): never {
  throw new AppError('invalid_input', `${field}: ${message}`)
}

export function resolveClass(
  manifest: PackManifest,
  value: number | string,
): { index: number; name: string } {
  const classes = classesOf(manifest)
  if (typeof value === 'number') {
    const found = classes.find((c) => c.index === value)
    if (!found)
      invalid('class', `${value} is not a class of pack '${manifest.id}' (0..${classes.length - 1})`)
    return { index: found.index, name: found.name }
  }
  const wanted = value.trim().toLowerCase()
  const exact = classes.find((c) => c.name.toLowerCase() === wanted)
  if (exact) return { index: exact.index, name: exact.name }
  const partial = classes.filter((c) => c.name.toLowerCase().includes(wanted))
  if (partial.length === 1 && partial[0]) return { index: partial[0].index, name: partial[0].name }
  if (partial.length > 1) {
    invalid(
      'class',
      `'${value}' matches ${partial.length} classes (${partial
        .slice(0, 5)
        .map((c) => `'${c.name}'`)
        .join(', ')}${partial.length > 5 ? ', …' : ''}); use a full name or an index`,
    )
  }
  invalid('class', `'${value}' is not a class of pack '${manifest.id}'`)
}

function checkTList(tList: number[], steps: StepUnits, field: string): number[] {
  if (tList.length === 0) invalid(field, 'must not be empty')
  if (tList[0] !== 0) invalid(field, 'must start at 0 (the first step sees only noise)')
  for (let i = 0; i < tList.length; i++) {
    const t = tList[i] as number
    if (!Number.isInteger(t) || t < 0 || t >= steps.count)
      invalid(field, `${t} is outside 0..${steps.count - 1} (${units(steps)})`)
    if (i > 0 && t <= (tList[i - 1] as number)) invalid(field, 'must be strictly increasing')
  }
  return tList
}

/** "the pack's 10 scales", for messages. */
function units(steps: StepUnits): string {
  return `the pack's ${steps.count} ${steps.unit}s`
}

/**
 * The hybrid schedule: the request's values over the pack's default (`sampling.hybrid`). split_t, when not
 * given, is that of the pack's preset with the same start and end (a published schedule keeps its own), else
 * the pack's. The teacher may run to the last step (end = count), which leaves out the final DD run.
 */
function resolveHybrid(
  request: GenerateRequest['hybrid'],
  manifest: PackManifest,
  steps: StepUnits,
): HybridSettings {
  const defaults = manifest.sampling
  // Fields given as undefined (structured clone keeps them) must not hide the pack's defaults.
  const start = request?.start ?? defaults.hybrid.start
  const end = request?.end ?? defaults.hybrid.end
  const preset = defaults.hybridPresets?.find((p) => p.start === start && p.end === end)
  const splitT = request?.splitT ?? preset?.splitT ?? defaults.splitT
  const last = steps.count
  if (start < 0 || start >= last) invalid('hybrid.start', `must be in 0..${last - 1} (${units(steps)})`)
  if (end <= start || end > last)
    invalid('hybrid.end', `must be greater than start (${start}) and at most ${last} (${units(steps)})`)
  if (splitT < 0 || splitT > last) invalid('hybrid.splitT', `must be in 0..${last} (${units(steps)})`)
  return { start, end, splitT }
}

/**
 * `tokenizer` is the pack's word tokenizer (loadPack and openPackRuntime read it); a text pack cannot be planned
 * without it.
 */
export function planGeneration(
  request: GenerateRequest,
  manifest: PackManifest,
  packHash: string,
  tokenizer: WordTokenizer | null = null,
): GenerationPlan {
  const steps = stepUnitsOf(manifest)
  const vocab = manifest.tokens.codebookSize
  const condition = resolveCondition(request, manifest, tokenizer)
  const defaults = manifest.sampling

  const packTwoStep = defaults.tLists['2step'] ?? [0, Math.floor(steps.count / 2)]
  const modes: SingleMode[] =
    request.mode === 'compare' ? (request.compareModes ?? [...DEFAULT_COMPARE_MODES]) : [request.mode]
  if (new Set(modes).size !== modes.length) invalid('compareModes', 'lists a mode twice')

  if (request.tList) checkTList(request.tList, steps, 'tList')
  if (modes.includes('custom') && !request.tList) invalid('tList', "is required for mode 'custom'")
  if (request.mode === '1step' && request.tList && request.tList.length !== 1)
    invalid('tList', "mode '1step' takes exactly one step ([0]); use mode 'custom' for more")
  if (request.mode === '2step' && request.tList && request.tList.length !== 2)
    invalid('tList', "mode '2step' takes exactly two steps ([0, t2]); use mode 'custom' for more or fewer")
  const twoStep = request.mode === '2step' && request.tList ? request.tList : packTwoStep
  // In a 'compare' job the request's tList is the 'custom' one; '2step' keeps the pack's.
  const tList = request.mode === '1step' ? [0] : (request.tList ?? packTwoStep)

  const hybrid = resolveHybrid(request.hybrid, manifest, steps)

  const packTopK = defaults.teacher.topK > 0 ? defaults.teacher.topK : vocab
  const teacher: TeacherParams = {
    cfgScale: request.teacher?.cfgScale ?? defaults.teacher.cfgScale,
    temperature: request.teacher?.temperature ?? defaults.teacher.temperature,
    topK: request.teacher?.topK ?? packTopK,
    topP: request.teacher?.topP ?? defaults.teacher.topP,
  }
  if (teacher.topK < 1 || teacher.topK > vocab) invalid('teacher.topK', `must be in 1..${vocab}`)
  const cfgSchedule = defaults.teacher.cfgSchedule ?? 'constant'
  const notes = [...condition.notes]
  if (condition.prompt?.negative) notes.push(...negativeUseNotes(modes, teacher, cfgSchedule))

  return {
    packId: manifest.id,
    packVersion: manifest.version,
    packHash,
    mode: request.mode,
    family: manifest.family,
    steps,
    modes,
    classIndex: condition.cls?.index ?? null,
    className: condition.cls?.name ?? null,
    prompt: condition.prompt,
    promptNotes: notes,
    seed: request.seed ?? randomSeed(),
    n: request.n ?? 1,
    tList,
    twoStepTList: twoStep,
    splitT: defaults.splitT,
    hybrid,
    teacher,
    cfgSchedule,
  }
}

interface Condition {
  cls: { index: number; name: string } | null
  prompt: PlannedPrompt | null
  notes: string[]
}

/**
 * What the images are conditioned on. A class pack takes `class`, or else a prompt that names one of its classes
 * (matched as the prompt box matches it: common/classMatch.ts); a text pack takes `prompt` (and a negative prompt
 * when it supports one) and refuses a class.
 */
function resolveCondition(
  request: GenerateRequest,
  manifest: PackManifest,
  tokenizer: WordTokenizer | null,
): Condition {
  const c = manifest.conditioning
  const negative = request.negativePrompt?.trim() ? request.negativePrompt : null
  if (c.kind === 'class') {
    if (negative !== null)
      invalid(
        'negativePrompt',
        `pack '${manifest.id}' draws classes; only a text pack takes a negative prompt`,
      )
    if (request.class !== undefined)
      return { cls: resolveClass(manifest, request.class), prompt: null, notes: [] }
    if (request.prompt?.trim()) return classFromPrompt(manifest, request.prompt)
    invalid(
      'class',
      `is required: pack '${manifest.id}' draws classes (give a class, or a prompt that names one)`,
    )
  }
  if (request.class !== undefined)
    invalid('class', `pack '${manifest.id}' draws from a text prompt, not classes: give a prompt instead`)
  if (!tokenizer) throw new AppError('unavailable', `pack '${manifest.id}': its tokenizer is not loaded`)
  if (request.prompt === undefined)
    invalid(
      'prompt',
      `is required: pack '${manifest.id}' draws from a text prompt${c.unconditional ? ' (an empty prompt asks for an unconditional image)' : ''}`,
    )
  const check = tokenizer.check(request.prompt)
  const notes = promptNotes(check)
  if (check.empty && !c.unconditional)
    invalid(
      'prompt',
      `this pack needs a prompt: it has no unconditional mode${check.ignored.length ? ` (${notes.join('; ')})` : ''}`,
    )
  let uncondIds = tokenizer.check('').ids
  if (negative !== null) {
    if (!c.negativePrompt) invalid('negativePrompt', `pack '${manifest.id}' does not take a negative prompt`)
    const negativeCheck = tokenizer.check(negative)
    notes.push(...promptNotes(negativeCheck).map((note) => `negative prompt: ${note}`))
    if (!negativeCheck.empty) uncondIds = negativeCheck.ids
  }
  return {
    cls: null,
    prompt: { text: request.prompt, negative, ids: check.ids, uncondIds },
    notes,
  }
}

/** Prepared once per class list: matching 1000 classes with synonyms needs their normalised forms. */
const preparedByClasses = new WeakMap<object, PreparedClasses>()

/** A class pack given a prompt: the class it names, as the prompt box would pick it; otherwise an error. */
function classFromPrompt(manifest: PackManifest, prompt: string): Condition {
  const classes = classesOf(manifest)
  let prepared = preparedByClasses.get(classes)
  if (!prepared) {
    prepared = prepareClasses(classes)
    preparedByClasses.set(classes, prepared)
  }
  const found = classFromText(prepared, prompt)
  if (found.kind === 'none') invalid('prompt', `names no class of pack '${manifest.id}': ${found.reason}`)
  if (found.kind === 'ambiguous') {
    const tied = found.candidates.slice(0, found.tied).map((m) => `'${m.name}'`)
    invalid(
      'prompt',
      `${found.reason} (${tied.join(', ')}${found.tied > tied.length ? ', …' : ''}); give the class instead`,
    )
  }
  const { index, name } = found.match
  return {
    cls: { index, name },
    prompt: null,
    notes: [`the prompt picked class ${index}, ${name} (${found.match.reason})`],
  }
}

/** Where a negative prompt has no effect: it steers only the teacher's guided branch. */
function negativeUseNotes(modes: SingleMode[], teacher: TeacherParams, cfgSchedule: CfgSchedule): string[] {
  if (!modes.some((m) => m === 'hybrid' || m === 'exact' || m === 'ar'))
    return ['negative prompt: only the teacher modes (hybrid, exact, ar) use it; DD steps do not']
  const unguided = cfgSchedule === 'linear-scale' ? teacher.cfgScale === 0 : teacher.cfgScale === 1
  if (unguided) return [`negative prompt: no effect at CFG scale ${teacher.cfgScale} (no guidance)`]
  return []
}

function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32)
}
