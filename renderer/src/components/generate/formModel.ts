/**
 * The Generate form as text fields, checked the way the server checks them (common/generation.ts and
 * main/engine/plan.ts), so most mistakes are shown before anything is sent. Steps, t2, t_list and the hybrid
 * bounds count the pack's steps: tokens, or scales for a VAR pack. What needs the pack's codebook (top-k's upper
 * bound) is left to the server, whose invalid_input message is shown next to the form. A text pack's request
 * carries the prompt (and negative prompt) where a class pack's carries the class.
 */
import {
  type GenerateRequest,
  type GenerationMode,
  MAX_PROMPT_CHARS,
  MAX_SEED,
  type PackSummary,
  type SingleMode,
} from '../../../../common/generation.ts'
import type { GenerateInput } from '../../app/useGeneration.ts'
import {
  defaultHybridSplitT,
  singleModesOf,
  stepsFor,
  stepUnitsOf,
  usesHybrid,
  usesTeacher,
} from './modes.ts'
import { wordCount } from './promptWords.ts'

/** The UI's cap on images per job (the contract allows more, for the CLI). */
export const MAX_UI_IMAGES = 16

/** The error of a text pack's empty prompt when the pack has no unconditional mode (the server's words). */
export const NEEDS_PROMPT = 'This pack needs a prompt: it has no unconditional mode.'

export interface AdvancedValues {
  /** The second step of '2 steps' (its step list is [0, t2]). */
  t2: string
  tList: string
  hybridStart: string
  hybridEnd: string
  /** split_t of the hybrid's distilled passes (a published preset sets its own). */
  hybridSplitT: string
  temperature: string
  topK: string
  topP: string
  cfgScale: string
}

export type FieldName =
  | keyof AdvancedValues
  | 'seed'
  | 'n'
  | 'class'
  | 'prompt'
  | 'negativePrompt'
  | 'compareModes'

export interface FormValues extends AdvancedValues {
  mode: GenerationMode
  /** What a compare job runs (ignored by the other modes). */
  compareModes: readonly SingleMode[]
  classIndex: number
  /** A text pack's prompt and negative prompt, as typed (the class is not sent for a text pack). */
  prompt: string
  negativePrompt: string
  seed: string
  n: string
}

/** Whether the pack reads a prompt rather than a class. */
export function isTextPack(pack: PackSummary | null): boolean {
  return pack?.conditioning === 'text'
}

export function advancedDefaults(pack: PackSummary | null): AdvancedValues {
  const d = pack?.defaults
  const steps = stepUnitsOf(pack).count
  const twoStep = d?.tLists['2step'] ?? [0, Math.floor(steps / 2)]
  const custom = d?.tLists.custom ?? twoStep
  return {
    t2: String(twoStep[1] ?? Math.floor(steps / 2)),
    tList: custom.join(', '),
    hybridStart: String(d?.hybrid.start ?? Math.floor(steps / 8)),
    hybridEnd: String(d?.hybrid.end ?? Math.floor(steps / 2)),
    hybridSplitT: String(d?.hybrid.splitT ?? d?.splitT ?? steps),
    temperature: String(d?.teacher.temperature ?? 1),
    topK: String(d?.teacher.topK ?? 1),
    topP: String(d?.teacher.topP ?? 1),
    cfgScale: String(d?.teacher.cfgScale ?? 0),
  }
}

export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0
}

function parseInteger(text: string): number | null {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : null
}

function parseNumber(text: string): number | null {
  return /^\s*(\d+\.?\d*|\.\d+)(e-?\d+)?\s*$/i.test(text) ? Number(text) : null
}

export function parseTList(text: string): number[] | null {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== '')
  if (parts.length === 0) return null
  const values = parts.map(parseInteger)
  return values.every((v): v is number => v !== null) ? values : null
}

/**
 * Model steps one run of a mode takes with these (maybe half-typed) settings, for the hint under the modes. An
 * unreadable step list or hybrid bound counts as its smallest value: the field shows its own error.
 */
export function stepsPerRun(
  modes: readonly SingleMode[],
  values: AdvancedValues,
  pack: PackSummary | null,
): number {
  const settings = {
    tList: parseTList(values.tList) ?? [0],
    hybrid: { start: Number(values.hybridStart) || 0, end: Number(values.hybridEnd) || 0 },
  }
  const steps = stepUnitsOf(pack).count
  return modes.reduce((sum, s) => sum + stepsFor(s, steps, settings, pack), 0)
}

export interface Checked {
  /** Problems with fields, by field; only those the mode uses stop a run. */
  errors: Partial<Record<FieldName, string>>
  /** The request, when every field the mode uses is valid. */
  request: GenerateInput | null
}

export function checkForm(values: FormValues, pack: PackSummary | null): Checked {
  const errors: Partial<Record<FieldName, string>> = {}
  const { count: steps, unit } = stepUnitsOf(pack)
  const { mode } = values
  const modes = singleModesOf(mode, values.compareModes)

  const seed = parseInteger(values.seed)
  if (seed === null) errors.seed = 'A whole number from 0.'
  else if (seed > MAX_SEED) errors.seed = `At most ${MAX_SEED}.`

  const n = parseInteger(values.n)
  if (n === null || n < 1 || n > MAX_UI_IMAGES) errors.n = `A whole number from 1 to ${MAX_UI_IMAGES}.`

  if (mode === 'compare' && modes.length < 2) errors.compareModes = 'Pick at least two modes to compare.'

  const text = isTextPack(pack) ? (pack?.text ?? null) : null
  if (isTextPack(pack)) {
    if (values.prompt.length > MAX_PROMPT_CHARS) errors.prompt = `At most ${MAX_PROMPT_CHARS} characters.`
    else if (wordCount(values.prompt) === 0 && !text?.unconditional) errors.prompt = NEEDS_PROMPT
    if (values.negativePrompt.length > MAX_PROMPT_CHARS)
      errors.negativePrompt = `At most ${MAX_PROMPT_CHARS} characters.`
  }

  const t2 = parseInteger(values.t2)
  if (t2 === null || t2 < 1 || t2 >= steps)
    errors.t2 = `A whole number from 1 to ${steps - 1}: where the second step starts.`

  const tList = parseTList(values.tList)
  if (tList === null)
    errors.tList = `Whole numbers separated by commas, e.g. ${unit === 'scale' ? '0, 4, 7' : '0, 16, 32'}.`
  else if (tList[0] !== 0) errors.tList = 'Must start at 0 (the first step sees only noise).'
  else if (tList.some((t) => t >= steps)) errors.tList = `Every step must be below ${steps} (${unit}s).`
  else if (tList.some((t, i) => i > 0 && t <= (tList[i - 1] as number)))
    errors.tList = 'Each step must be larger than the one before.'
  else if (tList.length > 64) errors.tList = 'At most 64 steps.'

  // The original model may run to the last step (end = the step count): no distilled pass after it.
  const start = parseInteger(values.hybridStart)
  const end = parseInteger(values.hybridEnd)
  const splitT = parseInteger(values.hybridSplitT)
  if (start === null || start >= steps) errors.hybridStart = `A whole number from 0 to ${steps - 1}.`
  if (end === null || end > steps || end < 1) errors.hybridEnd = `A whole number from 1 to ${steps}.`
  else if (start !== null && end <= start) errors.hybridEnd = `Must be larger than the start (${start}).`
  if (splitT === null || splitT > steps) errors.hybridSplitT = `A whole number from 0 to ${steps}.`

  const temperature = parseNumber(values.temperature)
  if (temperature === null || temperature <= 0 || temperature > 10)
    errors.temperature = 'A number above 0, at most 10.'
  const topK = parseInteger(values.topK)
  if (topK === null || topK < 1) errors.topK = 'A whole number from 1.'
  const topP = parseNumber(values.topP)
  if (topP === null || topP <= 0 || topP > 1) errors.topP = 'A number above 0, at most 1.'
  const cfgScale = parseNumber(values.cfgScale)
  if (cfgScale === null || cfgScale > 50) errors.cfgScale = 'A number from 0 to 50.'

  const used = usedFields(mode, values.compareModes, pack)
  const blocking = (Object.keys(errors) as FieldName[]).filter((f) => used.has(f))
  if (blocking.length > 0 || !pack) return { errors, request: null }

  const request: GenerateInput = { packId: pack.id, mode, seed: seed as number, n: n as number }
  if (isTextPack(pack)) {
    request.prompt = values.prompt.trim()
    const negative = values.negativePrompt.trim()
    if (text?.negativePrompt && negative !== '') request.negativePrompt = negative
  } else {
    request.class = values.classIndex
  }
  if (mode === 'compare') request.compareModes = modes
  if (mode === '2step') request.tList = [0, t2 as number]
  if (modes.includes('custom')) request.tList = tList as number[]
  if (usesHybrid(modes))
    request.hybrid = { start: start as number, end: end as number, splitT: splitT as number }
  if (usesTeacher(modes)) {
    request.teacher = {
      temperature: temperature as number,
      topK: topK as number,
      topP: topP as number,
      cfgScale: cfgScale as number,
    }
  }
  return { errors, request }
}

/**
 * The fields a mode reads; problems elsewhere are shown but do not stop a run. In a compare job '2 steps' runs
 * the pack's own step list (the engine's rule), so t2 is not read there. A text pack reads the prompts, a
 * class pack the class.
 */
export function usedFields(
  mode: GenerationMode,
  compareModes: readonly SingleMode[],
  pack: PackSummary | null = null,
): Set<FieldName> {
  const modes = singleModesOf(mode, compareModes)
  const fields = new Set<FieldName>(['seed', 'n'])
  if (isTextPack(pack)) {
    fields.add('prompt')
    if (pack?.text?.negativePrompt) fields.add('negativePrompt')
  } else {
    fields.add('class')
  }
  if (mode === 'compare') fields.add('compareModes')
  if (mode === '2step') fields.add('t2')
  if (modes.includes('custom')) fields.add('tList')
  if (usesHybrid(modes)) {
    fields.add('hybridStart')
    fields.add('hybridEnd')
    fields.add('hybridSplitT')
  }
  if (usesTeacher(modes)) for (const f of ['temperature', 'topK', 'topP', 'cfgScale'] as const) fields.add(f)
  return fields
}

const SERVER_FIELDS: [string, FieldName][] = [
  ['compareModes', 'compareModes'],
  ['tList', 'tList'],
  ['hybrid.start', 'hybridStart'],
  ['hybrid.end', 'hybridEnd'],
  ['hybrid.splitT', 'hybridSplitT'],
  ['teacher.temperature', 'temperature'],
  ['teacher.topK', 'topK'],
  ['teacher.topP', 'topP'],
  ['teacher.cfgScale', 'cfgScale'],
  ['seed', 'seed'],
  ['n', 'n'],
  ['class', 'class'],
  ['negativePrompt', 'negativePrompt'],
  ['prompt', 'prompt'],
]

/**
 * The form field a server message is about ("teacher.topK: must be in 1..512" -> topK). '2 steps' sends its
 * step list as tList, which the form shows as t2.
 */
export function fieldOfServerMessage(message: string, mode: GenerationMode): FieldName | null {
  for (const [path, field] of SERVER_FIELDS) {
    if (new RegExp(`(^|[\\s.])${path.replace('.', '\\.')}:`).test(message))
      return field === 'tList' && mode === '2step' ? 't2' : field
  }
  return null
}

/** Settings from elsewhere (an image in the gallery, a dropped PNG) as changes to the form. */
export interface FormPatch {
  /** The pack to switch to; null keeps the current one. */
  packId: string | null
  classIndex: number | null
  /** A text pack's prompt and negative prompt (set together: an image without a negative prompt clears it). */
  prompt: string | null
  negativePrompt: string | null
  mode: GenerationMode | null
  compareModes: SingleMode[] | null
  seed: string | null
  /** The advanced values to use: `base` with whatever the request sets. */
  advanced: AdvancedValues
  /** What could not be applied, in words for the user. */
  problems: string[]
}

/** A class named by index, or by name: the exact name (any case), else the one class whose name contains it. */
export function classIndexOf(value: number | string, pack: PackSummary): number | null {
  if (typeof value === 'number') return pack.classes.some((c) => c.index === value) ? value : null
  const wanted = value.trim().toLowerCase()
  const exact = pack.classes.find((c) => c.name.toLowerCase() === wanted)
  if (exact) return exact.index
  const partial = pack.classes.filter((c) => c.name.toLowerCase().includes(wanted))
  return partial.length === 1 ? (partial[0] as { index: number }).index : null
}

/**
 * Turns a (maybe partial) request into form changes for `pack` (the request's pack when it is installed):
 * every setting the request has is applied, the rest stays as it is. `base` is the advanced values the form
 * has for that pack.
 */
export function formPatchOf(
  request: Partial<GenerateRequest>,
  pack: PackSummary | null,
  base: AdvancedValues,
): FormPatch {
  const problems: string[] = []
  const advanced = { ...base }
  let packId: string | null = null
  if (request.packId !== undefined) {
    if (pack?.id === request.packId) packId = pack.id
    else problems.push(`The pack “${request.packId}” is not installed here; the current pack is kept.`)
  }
  let classIndex: number | null = null
  let prompt: string | null = null
  let negativePrompt: string | null = null
  const packName = pack ? (pack.name ?? pack.id) : ''
  if (pack && isTextPack(pack)) {
    if (request.prompt !== undefined) {
      prompt = request.prompt
      negativePrompt = request.negativePrompt ?? ''
      if (negativePrompt !== '' && !pack.text?.negativePrompt) {
        problems.push(`${packName} takes no negative prompt; “${negativePrompt}” is left out.`)
        negativePrompt = ''
      }
    } else if (request.class !== undefined) {
      problems.push(`${packName} reads a prompt, not a class: the class “${request.class}” is not used.`)
    }
  } else if (pack) {
    if (request.class !== undefined) {
      classIndex = classIndexOf(request.class, pack)
      if (classIndex === null)
        problems.push(`The class “${request.class}” is not one of ${packName}’s classes.`)
    } else if (request.prompt !== undefined && request.prompt.trim() !== '') {
      problems.push(`${packName} draws classes, not prompts: the prompt “${request.prompt}” is not used.`)
    }
  }
  const mode = request.mode ?? null
  const { tList, hybrid, teacher } = request
  if (tList && mode === '2step') {
    if (tList.length === 2 && tList[0] === 0) advanced.t2 = String(tList[1])
    else problems.push(`The step list ${tList.join(', ')} is not a 2-step list (0, t2).`)
  } else if (tList && (mode === 'custom' || mode === 'compare')) {
    advanced.tList = tList.join(', ')
  }
  if (hybrid?.start !== undefined) advanced.hybridStart = String(hybrid.start)
  if (hybrid?.end !== undefined) advanced.hybridEnd = String(hybrid.end)
  if (hybrid?.splitT !== undefined) advanced.hybridSplitT = String(hybrid.splitT)
  else if (hybrid?.start !== undefined || hybrid?.end !== undefined) {
    // A range without split_t (settings from before hybrid presets): what the engine picks for that range.
    const splitT = defaultHybridSplitT(pack, Number(advanced.hybridStart), Number(advanced.hybridEnd))
    if (splitT !== null) advanced.hybridSplitT = String(splitT)
  }
  if (teacher?.temperature !== undefined) advanced.temperature = String(teacher.temperature)
  if (teacher?.topK !== undefined) advanced.topK = String(teacher.topK)
  if (teacher?.topP !== undefined) advanced.topP = String(teacher.topP)
  if (teacher?.cfgScale !== undefined) advanced.cfgScale = String(teacher.cfgScale)
  return {
    packId,
    classIndex,
    prompt,
    negativePrompt,
    mode,
    compareModes: request.compareModes ? [...request.compareModes] : null,
    seed: request.seed !== undefined ? String(request.seed) : null,
    advanced,
    problems,
  }
}
