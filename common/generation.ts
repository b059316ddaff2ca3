/**
 * What a generation request is and what comes back. The zod schema checks everything that does not depend on a
 * pack; main/engine/plan.ts checks the rest against the pack the request names.
 */
import { z } from 'zod'

export const SINGLE_MODES = ['1step', '2step', 'custom', 'hybrid', 'ar', 'exact'] as const
export type SingleMode = (typeof SINGLE_MODES)[number]
/** What 'compare' runs unless told otherwise ('custom' needs its own t_list). */
export const DEFAULT_COMPARE_MODES: readonly SingleMode[] = ['exact', '1step', '2step', 'hybrid', 'ar']
export const GENERATION_MODES = [...SINGLE_MODES, 'compare'] as const
export type GenerationMode = (typeof GENERATION_MODES)[number]

/** Images per request; larger batches belong in several jobs. */
export const MAX_IMAGES_PER_JOB = 64
export const MAX_SEED = 2 ** 32 - 1
/** The longest prompt or negative prompt a request may carry (the tokenizer keeps far fewer words). */
export const MAX_PROMPT_CHARS = 2000

/** The model families a pack can hold (models/PACK_FORMAT.md): LlamaGen makes a token per step, VAR a scale. */
export type PackFamily = 'llamagen' | 'var'

/**
 * What a pack's autoregressive steps are and how many the teacher takes: tokens for LlamaGen (e.g. 256), scales
 * for VAR (10). Every t, t_list entry and hybrid bound of a request counts these.
 */
export interface StepUnits {
  unit: 'token' | 'scale'
  count: number
}

/** One published teacher-involved schedule of a pack (its manifest's `sampling.hybridPresets`). */
export interface HybridPreset {
  /** Model passes in all: DD runs plus teacher steps. */
  steps: number
  start: number
  end: number
  splitT: number
}

/** A hybrid schedule: DD at 0 (unless start is 0), the exact teacher over start..end-1, DD at end (unless the last). */
export interface HybridSettings {
  start: number
  end: number
  /** split_t of the DD runs; the pack's matching preset's, else the pack's own, when a request leaves it out. */
  splitT: number
}

const packId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a pack id (lower-case letters, digits and dashes)')

export const TeacherParamsSchema = z.strictObject({
  cfgScale: z.number().min(0, 'must be >= 0').max(50, 'must be <= 50'),
  temperature: z.number().gt(0, 'must be > 0').max(10, 'must be <= 10'),
  /** 1..codebook size (checked against the pack); the codebook size means no truncation. */
  topK: z.number().int('must be an integer').min(1, 'must be >= 1'),
  topP: z.number().gt(0, 'must be > 0').max(1, 'must be <= 1'),
})
export type TeacherParams = z.infer<typeof TeacherParamsSchema>

export const GenerateRequestSchema = z.strictObject({
  /** The pack to use; the built-in default pack when omitted. */
  packId: packId.optional(),
  mode: z.enum(GENERATION_MODES),
  /**
   * A class index, or a class name (a unique part of one is enough). Required by class packs (unless `prompt`
   * picks the class); refused by text packs.
   */
  class: z
    .union([
      z.number().int('must be an integer').min(0, 'must be >= 0'),
      z.string().trim().min(1, 'must not be empty').max(200),
    ])
    .optional(),
  /**
   * What to draw, for a text pack (required there; empty asks for an unconditional image when the pack has that
   * mode). A class pack matches it against its class names when `class` is left out.
   */
  prompt: z.string().max(MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`).optional(),
  /** What guidance steers away from, for a text pack whose conditioning has `negativePrompt`; empty: none. */
  negativePrompt: z
    .string()
    .max(MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`)
    .optional(),
  /** Image i of the job uses seed (seed + i) mod 2^32; a random seed when omitted (and reported). */
  seed: z.number().int('must be an integer').min(0).max(MAX_SEED, `must be at most ${MAX_SEED}`).optional(),
  n: z.number().int('must be an integer').min(1).max(MAX_IMAGES_PER_JOB).optional(),
  /**
   * DD trajectory points, strictly increasing from 0: '1step' takes only [0], '2step' [0, t2] (default: the
   * pack's), 'custom' any (required). In a 'compare' job it is the 'custom' list; '2step' there keeps the pack's.
   */
  tList: z.array(z.number().int('must be an integer').min(0)).min(1).max(64).optional(),
  /** The hybrid schedule, in the pack's steps (tokens or scales); what is left out comes from the pack. */
  hybrid: z
    .strictObject({
      start: z.number().int().min(0),
      end: z.number().int().min(1),
      /** split_t of the hybrid's DD runs (a published preset's own value, e.g. 5 for VAR's 3-step preset). */
      splitT: z.number().int().min(0),
    })
    .partial()
    .optional(),
  teacher: TeacherParamsSchema.partial().optional(),
  /** For mode 'compare': the modes to run on the same noise (default: all). */
  compareModes: z.array(z.enum(SINGLE_MODES)).min(1).max(SINGLE_MODES.length).optional(),
})
export type GenerateRequest = z.infer<typeof GenerateRequestSchema>

/**
 * Model passes of a hybrid schedule: DD at 0 unless the teacher starts at 0, a teacher step for each of
 * start..end-1, and DD at `end` unless the teacher ran to the last of the pack's `steps`.
 */
export function hybridSteps(hybrid: { start: number; end: number }, steps: number): number {
  return (hybrid.start > 0 ? 1 : 0) + (hybrid.end - hybrid.start) + (hybrid.end < steps ? 1 : 0)
}

/**
 * Model passes one mode takes (generator runs, teacher steps): what progress counts, and the UI's cost hint.
 * `steps` is the pack's step count (StepUnits.count): the teacher's passes. The engine and the renderer both use
 * this one definition.
 */
export function modelSteps(
  mode: SingleMode,
  steps: number,
  settings: { twoStepTList: number[]; tList: number[]; hybrid: { start: number; end: number } },
): number {
  switch (mode) {
    case '1step':
      return 1
    case '2step':
      return settings.twoStepTList.length
    case 'custom':
      return settings.tList.length
    case 'hybrid':
      return hybridSteps(settings.hybrid, steps)
    case 'ar':
    case 'exact':
      return steps
  }
}

export interface Timings {
  /** Token generation: generator runs, teacher steps and the flow map. */
  tokenMs: number
  decodeMs: number
  /** Noise, tensors, PNG encoding and everything else. */
  otherMs: number
  totalMs: number
}

export interface TokenAgreement {
  /** Share of tokens identical to the exact teacher's on the same noise, 0..1. */
  identical: number
  /**
   * Per position of the image's token grid, row-major, the share of this job's images whose token differs from
   * the exact teacher's: every token of a LlamaGen pack; the last (finest) scale of a VAR pack, whose grid is
   * the image's (its coarser scales count in `identical` only).
   */
  disagreement: number[]
}

export interface GeneratedImage {
  index: number
  seed: number
  mode: SingleMode
  width: number
  height: number
  /** PNG with the generation metadata in iTXt chunks. */
  png: Uint8Array
  ids: number[]
  /** Timings of the batch this image was part of, divided by the batch size. */
  timings: Timings
  agreement: TokenAgreement | null
  /** Where main saved it in the gallery (see common/gallery.ts); null until saved, or when saving failed. */
  galleryId: string | null
}

/** The prompt of a text pack's job, as given. */
export interface JobPrompt {
  text: string
  /** The negative prompt; null when there is none. */
  negative: string | null
}

export interface GenerationResult {
  jobId: string
  packId: string
  /** The class of a class pack's job; null for a text pack's. */
  classIndex: number | null
  className: string | null
  /** The prompt of a text pack's job; null for a class pack's. */
  prompt: JobPrompt | null
  /**
   * What became of the prompt and negative prompt: unknown words with the nearest known one, words cut off,
   * characters ignored; for a class pack given a prompt, the class it picked. Empty when there is nothing to say.
   */
  promptNotes: string[]
  seed: number
  modes: SingleMode[]
  provider: string
  images: GeneratedImage[]
  /** Per mode, over the whole job. */
  modeTimings: Record<string, Timings>
  /** Per mode, the model passes one run took (what its timings are for: a hybrid preset's 3 or 6 steps). */
  modeSteps: Record<string, number>
  /** Creating the pack's sessions for this job (0 when they were already loaded); not part of any mode's timings. */
  loadMs: number
  agreement: Record<string, TokenAgreement>
  /** Why the images could not be saved to the gallery (they are still here); null when they were. */
  galleryError: string | null
}

export type JobStateName = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

export interface JobSummary {
  jobId: string
  state: JobStateName
  position: number | null
  packId: string
  mode: string
  n: number
  seed: number
  /** The class of a class pack's job; null for a text pack's. */
  className: string | null
  /** The prompt of a text pack's job; null for a class pack's. */
  prompt: string | null
  error: { code: string; message: string } | null
}

/** One licence entry of a pack's manifest (models/PACK_FORMAT.md, `licenses`). */
export interface PackLicense {
  /** An SPDX id or the licence's name: "MIT", "CC-BY-4.0". */
  license: string
  /** The credit line to show, when the manifest gives one. */
  attribution: string | null
  /** What is licensed (a package or a data set's name), when given. */
  source: string | null
  url: string | null
}

/** A model pack as the UI sees it. */
export interface PackSummary {
  id: string
  source: 'built-in' | 'user'
  status: 'ready' | 'broken'
  /** Why a broken pack cannot be used, one line per problem (naming the file or field). */
  problems: string[]
  /** What a ready pack lacks and why (an examples sheet that does not match its manifest entry). */
  warnings: string[]
  dir: string
  name: string | null
  version: string | null
  description: string | null
  /** Licences and credits of what the pack was trained on, as its manifest lists them. */
  licenses: PackLicense[]
  /** What the pack is conditioned on: its classes, or a text prompt; null for a pack that did not load. */
  conditioning: 'class' | 'text' | null
  /** `synonyms`: other names of the class (e.g. WordNet lemmas) for search and prompt matching, when the pack has them. */
  classes: { index: number; name: string; synonyms?: string[] }[]
  /** A text pack's prompt settings (conditioning 'text'); null for class packs and packs that did not load. */
  text: PackTextInfo | null
  image: { width: number; height: number } | null
  tokens: number | null
  /** The model family; null for a pack that did not load. */
  family: PackFamily | null
  /** What a step is (token or scale) and how many the teacher takes; null for a pack that did not load. */
  steps: StepUnits | null
  /** The pack's default settings for each mode, in its steps. */
  defaults: {
    tLists: Record<string, number[]>
    splitT: number
    hybrid: HybridSettings
    /** The published hybrid schedules, fewest steps first; empty when the pack has none. */
    hybridPresets: HybridPreset[]
    teacher: TeacherParams
  } | null
  /** Real training images per class, for the class picker; null when the pack has none (or none usable). */
  examples: PackExamplesInfo | null
  isDefault: boolean
}

/** What a text pack reads (models/PACK_FORMAT.md, revision 1.3). */
export interface PackTextInfo {
  /** Prompt slots: BOS and at most maxTokens - 1 words. */
  maxTokens: number
  /** An empty prompt asks for an unconditional image. */
  unconditional: boolean
  /** The pack takes a negative prompt. */
  negativePrompt: boolean
  /** Training captions, for "surprise me" and as examples (up to 500). */
  examplePrompts: string[]
}

/**
 * Where a pack's example images are: one sprite sheet with a row per class (the row is the class index) and
 * `perClass` cells of `cell` [width, height] pixels in each row. Main serves it by pack id (serve mode:
 * /pack-examples/<id>; the desktop app: dd-gallery://pack-examples/<id>); `version` changes with the sheet.
 */
export interface PackExamplesInfo {
  perClass: number
  cell: [number, number]
  rows: number
  version: string
}

/** This machine's measured speed of one mode on one pack (what the Steps options show). */
export interface ModeSpeed {
  mode: SingleMode
  /** Model passes of the measured runs, when known (a hybrid's depends on its schedule). */
  steps?: number
  /** Median total milliseconds per image (batch 1), over the last measurements. */
  msPerImage: number
  samples: number
  /** 'bench': `npm run bench` or the first-run measurement; 'jobs': the user's own recent generations. */
  source: 'bench' | 'jobs'
  provider: string
  measuredAt: string
}
