/**
 * A generation request, checked against the pack it names and completed with the pack's defaults. The contract's
 * zod schema already checked types and ranges that do not depend on a pack; what depends on the pack (class
 * names, t_list against the token count, top-k against the codebook) is checked here, with errors that name the
 * field. The plan is plain data: it travels to the inference host and into each image's metadata.
 */

import {
  DEFAULT_COMPARE_MODES,
  type GenerateRequest,
  type GenerationMode,
  type SingleMode,
  type TeacherParams,
} from '../../common/generation.ts'
import { AppError } from '../../common/result.ts'
import type { PackManifest } from './packs/manifest.ts'

export interface GenerationPlan {
  packId: string
  packVersion: string
  /** sha256 of the pack's manifest.json, which pins every file of the pack. */
  packHash: string
  mode: GenerationMode
  /** The modes that run: one, or several for 'compare'. */
  modes: SingleMode[]
  classIndex: number
  className: string
  seed: number
  n: number
  /** The DD trajectory of the job's mode: [0] for '1step', the 2-step list, or the 'custom' list. */
  tList: number[]
  /** What '2step' runs: in a 'compare' job the pack's [0, t2] even when `tList` holds the 'custom' list. */
  twoStepTList: number[]
  splitT: number
  hybrid: { start: number; end: number }
  teacher: TeacherParams
}

function invalid(field: string, message: string): never {
  throw new AppError('invalid_input', `${field}: ${message}`)
}

export function resolveClass(
  manifest: PackManifest,
  value: number | string,
): { index: number; name: string } {
  const classes = manifest.conditioning.classes
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

function checkTList(tList: number[], tokens: number, field: string): number[] {
  if (tList.length === 0) invalid(field, 'must not be empty')
  if (tList[0] !== 0) invalid(field, 'must start at 0 (the first step sees only noise)')
  for (let i = 0; i < tList.length; i++) {
    const t = tList[i] as number
    if (!Number.isInteger(t) || t < 0 || t >= tokens) invalid(field, `${t} is outside 0..${tokens - 1}`)
    if (i > 0 && t <= (tList[i - 1] as number)) invalid(field, 'must be strictly increasing')
  }
  return tList
}

export function planGeneration(
  request: GenerateRequest,
  manifest: PackManifest,
  packHash: string,
): GenerationPlan {
  const tokens = manifest.tokens.count
  const vocab = manifest.tokens.codebookSize
  const cls = resolveClass(manifest, request.class)
  const defaults = manifest.sampling

  const packTwoStep = defaults.tLists['2step'] ?? [0, Math.floor(tokens / 2)]
  const modes: SingleMode[] =
    request.mode === 'compare' ? (request.compareModes ?? [...DEFAULT_COMPARE_MODES]) : [request.mode]
  if (new Set(modes).size !== modes.length) invalid('compareModes', 'lists a mode twice')

  if (request.tList) checkTList(request.tList, tokens, 'tList')
  if (modes.includes('custom') && !request.tList) invalid('tList', "is required for mode 'custom'")
  if (request.mode === '1step' && request.tList && request.tList.length !== 1)
    invalid('tList', "mode '1step' takes exactly one step ([0]); use mode 'custom' for more")
  if (request.mode === '2step' && request.tList && request.tList.length !== 2)
    invalid('tList', "mode '2step' takes exactly two steps ([0, t2]); use mode 'custom' for more or fewer")
  const twoStep = request.mode === '2step' && request.tList ? request.tList : packTwoStep
  // In a 'compare' job the request's tList is the 'custom' one; '2step' keeps the pack's.
  const tList = request.mode === '1step' ? [0] : (request.tList ?? packTwoStep)

  // Fields given as undefined (structured clone keeps them) must not hide the pack's defaults.
  const hybrid = {
    start: request.hybrid?.start ?? defaults.hybrid.start,
    end: request.hybrid?.end ?? defaults.hybrid.end,
  }
  if (hybrid.start < 0 || hybrid.start >= tokens) invalid('hybrid.start', `must be in 0..${tokens - 1}`)
  if (hybrid.end <= hybrid.start || hybrid.end >= tokens)
    invalid('hybrid.end', `must be greater than start (${hybrid.start}) and below ${tokens}`)

  const packTopK = defaults.teacher.topK > 0 ? defaults.teacher.topK : vocab
  const teacher: TeacherParams = {
    cfgScale: request.teacher?.cfgScale ?? defaults.teacher.cfgScale,
    temperature: request.teacher?.temperature ?? defaults.teacher.temperature,
    topK: request.teacher?.topK ?? packTopK,
    topP: request.teacher?.topP ?? defaults.teacher.topP,
  }
  if (teacher.topK < 1 || teacher.topK > vocab) invalid('teacher.topK', `must be in 1..${vocab}`)

  return {
    packId: manifest.id,
    packVersion: manifest.version,
    packHash,
    mode: request.mode,
    modes,
    classIndex: cls.index,
    className: cls.name,
    seed: request.seed ?? randomSeed(),
    n: request.n ?? 1,
    tList,
    twoStepTList: twoStep,
    splitT: defaults.splitT,
    hybrid,
    teacher,
  }
}

function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32)
}
