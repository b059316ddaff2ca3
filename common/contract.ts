/**
 * The single list of everything the renderer may ask of the app, and everything the app tells the renderer.
 *
 * - `invoke` entries: a zod schema for the input (validated in main, never trusted from the renderer), the
 *   result type, and an example input (used by docs and the fuzz tests).
 * - `event` entries: pushed from main to the renderer; their names start with `on`.
 *
 * The preload builds one named method per entry from this file, main registers every handler through one
 * adapter, and serve mode exposes the same entries over HTTP. Nothing else defines a channel.
 */
import { z } from 'zod'
import {
  CHECKPOINT_FAMILIES,
  CHECKPOINT_ROLES,
  CHECKPOINT_SIZES,
  type ConverterCheck,
  type ConvertJob,
  FAMILIES,
} from './convert.ts'
import {
  type GalleryChange,
  type GalleryDeleteResult,
  type GalleryItem,
  GalleryMarkSchema,
  type GalleryPage,
  GalleryQuerySchema,
  type GalleryRebuildResult,
  galleryIdSchema,
} from './gallery.ts'
import {
  GenerateRequestSchema,
  type GenerationResult,
  type JobSummary,
  MAX_PROMPT_CHARS,
  type ModeSpeed,
  type PackSummary,
  SINGLE_MODES,
} from './generation.ts'
import type { PromptCheck } from './prompt.ts'
import type { HostStatus, JobProgress, LogEntry, Settings, ShellCapabilities, SystemInfo } from './types.ts'
import { EXECUTION_PROVIDERS } from './types.ts'

export interface InvokeEntry<I extends z.ZodType, R> {
  kind: 'invoke'
  input: I
  example: z.input<I>
  summary: string
  /** Phantom: carries the result type; never read at run time. */
  result?: R
}

export interface EventEntry<P> {
  kind: 'event'
  summary: string
  /** Phantom: carries the payload type; never read at run time. */
  payload?: P
}

/** Curried so the result type is named while the schema type is inferred. */
function invoke<R>() {
  return <I extends z.ZodType>(def: {
    input: I
    example: z.input<I>
    summary: string
  }): InvokeEntry<I, R> => ({
    kind: 'invoke',
    ...def,
  })
}

function event<P>(summary: string): EventEntry<P> {
  return { kind: 'event', summary }
}

// Paths come from the renderer and end up in fs calls in main: absolute, bounded, no NUL bytes.
const absolutePath = z
  .string()
  .min(1, 'must not be empty')
  .max(4096, 'must be at most 4096 characters')
  .refine((p) => !p.includes('\0'), 'must not contain NUL characters')
  .refine(
    (p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'),
    'must be an absolute path',
  )

const jobId = z.string().regex(/^[0-9a-f-]{36}$/, 'must be a job id (a UUID)')

const packId = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a pack id (lower-case letters, digits and dashes)')

/** A conversion of official checkpoint files; the size must be one of the family's. */
export const ConvertStartSchema = z
  .strictObject({
    family: z.enum(CHECKPOINT_FAMILIES),
    size: z.enum(CHECKPOINT_SIZES),
    student: absolutePath,
    teacher: absolutePath,
    /** LlamaGen: the VQ-16 tokenizer; VAR: the multi-scale VQVAE. */
    tokenizer: absolutePath,
    /** The new pack's id; the converter's default for the model when omitted. */
    id: packId.optional(),
    /** Half-precision graphs, for GPU execution providers. */
    fp16: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    const family = FAMILIES[v.family]
    if (!family.sizes.includes(v.size))
      ctx.addIssue({
        code: 'custom',
        path: ['size'],
        message: `must be one of ${family.sizes.join(', ')} for ${family.label}`,
      })
  })

export const SettingsSchema = z.strictObject({
  theme: z.enum(['dark', 'light']),
  galleryDir: absolutePath,
  modelsDir: absolutePath,
  executionProvider: z.enum(['auto', ...EXECUTION_PROVIDERS]),
  defaultMode: z.enum(SINGLE_MODES),
})

export const SettingsPatchSchema = SettingsSchema.partial()

export const contract = {
  'system.info': invoke<SystemInfo>()({
    summary: 'App, Node and onnxruntime versions, and the execution providers that really work here.',
    input: z.strictObject({
      /** Probe the execution providers again instead of answering from the cached probe. */
      refresh: z.boolean().optional(),
    }),
    example: { refresh: false },
  }),
  'system.capabilities': invoke<ShellCapabilities>()({
    summary:
      "What this shell can do beyond the common app (the desktop app's gallery actions); needs no host.",
    input: z.strictObject({}),
    example: {},
  }),
  'host.status': invoke<HostStatus>()({
    summary: 'State of the inference host process.',
    input: z.strictObject({}),
    example: {},
  }),
  'host.restart': invoke<HostStatus>()({
    summary: 'Restart the inference host (after it failed, or to pick up new settings).',
    input: z.strictObject({}),
    example: {},
  }),
  'settings.get': invoke<Settings>()({
    summary: 'Current settings.',
    input: z.strictObject({}),
    example: {},
  }),
  'settings.update': invoke<Settings>()({
    summary: 'Change some settings; answers with all of them.',
    input: SettingsPatchSchema,
    example: { theme: 'light' },
  }),
  'packs.list': invoke<PackSummary[]>()({
    summary:
      'Every model pack found (built-in and in the models folder), usable or with the problems that stop it.',
    input: z.strictObject({ rescan: z.boolean().optional() }),
    example: { rescan: false },
  }),
  'packs.import': invoke<PackSummary>()({
    summary:
      'Import a pack from a folder or a .zip into the models folder (validated before it becomes visible).',
    input: z.strictObject({ path: absolutePath }),
    example: { path: '/home/me/Downloads/my-pack.zip' },
  }),
  'packs.speeds': invoke<ModeSpeed[]>()({
    summary:
      "This machine's measured milliseconds per image for each mode of a pack (the default pack when omitted).",
    input: z.strictObject({ packId: z.string().min(1).max(64).optional() }),
    example: { packId: 'emoji32' },
  }),
  'prompts.check': invoke<PromptCheck & { maxTokens: number }>()({
    summary:
      "What a text pack's tokenizer makes of a prompt (the default pack when omitted): token ids, words kept, unknown words with the nearest known one, words cut off, characters ignored.",
    input: z.strictObject({
      packId: packId.optional(),
      prompt: z.string().max(MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`),
    }),
    example: { packId: 'emoji32-text', prompt: 'a red heart' },
  }),
  'jobs.submit': invoke<JobSummary>()({
    summary: 'Queue a generation job; answers at once with its id and place in the queue.',
    input: GenerateRequestSchema,
    example: { mode: '1step', class: 0, seed: 42, n: 4 },
  }),
  'jobs.wait': invoke<GenerationResult>()({
    summary: "Wait for a job to finish; answers with its images, or the job's error.",
    input: z.strictObject({ jobId: jobId }),
    example: { jobId: '00000000-0000-4000-8000-000000000000' },
  }),
  'jobs.cancel': invoke<JobSummary[]>()({
    summary: 'Cancel one job (queued: removed; running: stopped at its next step), or all of them.',
    // One object rather than a union, so an error names the field (a union's only says 'Invalid input').
    input: z
      .strictObject({ jobId: jobId.optional(), all: z.literal(true).optional() })
      .refine((v) => (v.jobId === undefined) !== (v.all === undefined), 'give either jobId or all: true'),
    example: { all: true },
  }),
  'jobs.list': invoke<JobSummary[]>()({
    summary: 'Queued, running and recently finished jobs.',
    input: z.strictObject({}),
    example: {},
  }),
  'gallery.list': invoke<GalleryPage>()({
    summary: 'Saved images, newest first unless told otherwise, filtered and searched; one page at a time.',
    input: GalleryQuerySchema,
    example: { text: 'animals', favorite: true, limit: 100 },
  }),
  'gallery.get': invoke<GalleryItem>()({
    summary: 'One saved image with its metadata.',
    input: z.strictObject({ id: galleryIdSchema }),
    example: { id: '2026-11-26/101500-emoji32-1step-42.png' },
  }),
  'gallery.mark': invoke<GalleryItem[]>()({
    summary: 'Set or clear favorite and rating on some images.',
    input: GalleryMarkSchema,
    example: { ids: ['2026-11-26/101500-emoji32-1step-42.png'], favorite: true },
  }),
  'gallery.delete': invoke<GalleryDeleteResult>()({
    summary: 'Move images to the trash; answers with a token that undoes it.',
    input: z.strictObject({ ids: z.array(galleryIdSchema).min(1).max(500) }),
    example: { ids: ['2026-11-26/101500-emoji32-1step-42.png'] },
  }),
  'gallery.undoDelete': invoke<GalleryItem[]>()({
    summary: 'Put back the images of one delete.',
    input: z.strictObject({ undoToken: z.string().regex(/^[0-9a-f-]{36}$/, 'must be an undo token') }),
    example: { undoToken: '00000000-0000-4000-8000-000000000000' },
  }),
  'gallery.rebuild': invoke<GalleryRebuildResult>()({
    summary: 'Recreate the index from the PNG files in the gallery folder.',
    input: z.strictObject({}),
    example: {},
  }),
  'gallery.reveal': invoke<null>()({
    summary: "Show the image's file selected in the system's file manager (desktop app only).",
    input: z.strictObject({ id: galleryIdSchema }),
    example: { id: '2026-11-26/101500-emoji32-1step-42.png' },
  }),
  'gallery.startDrag': invoke<null>()({
    summary:
      "Drag the image's file out to other apps from the calling window, on dragstart (desktop app only).",
    input: z.strictObject({ id: galleryIdSchema }),
    example: { id: '2026-11-26/101500-emoji32-1step-42.png' },
  }),
  'convert.check': invoke<ConverterCheck>()({
    summary:
      'Whether the Python that converts official checkpoints is there with torch and onnx; what to do if not.',
    input: z.strictObject({}),
    example: {},
  }),
  'convert.start': invoke<ConvertJob>()({
    summary:
      'Convert official checkpoint files into a pack in the models folder (one at a time); progress comes as convert.onProgress.',
    input: ConvertStartSchema,
    example: {
      family: 'llamagen',
      size: 'B',
      student: '/home/me/Downloads/llamagen-B.pt',
      teacher: '/home/me/Downloads/c2i_B_256.pt',
      tokenizer: '/home/me/Downloads/vq_ds16_c2i.pt',
    },
  }),
  'convert.cancel': invoke<ConvertJob>()({
    summary: 'Stop a conversion; answers once the converter has stopped and its files are gone.',
    input: z.strictObject({ jobId }),
    example: { jobId: '00000000-0000-4000-8000-000000000000' },
  }),
  'convert.list': invoke<ConvertJob[]>()({
    summary: 'The running conversion and the ones that ended since the app started, newest first.',
    input: z.strictObject({}),
    example: {},
  }),
  'convert.pickFile': invoke<string | null>()({
    summary:
      "Choose one checkpoint file in the system's file dialog (desktop app only); null when the user cancels.",
    input: z.strictObject({ family: z.enum(CHECKPOINT_FAMILIES), role: z.enum(CHECKPOINT_ROLES) }),
    example: { family: 'llamagen', role: 'student' },
  }),
  'host.onState': event<HostStatus>('The inference host started, crashed, restarted or gave up.'),
  'app.onLog': event<LogEntry>('A log line from main or the inference host.'),
  'jobs.onProgress': event<JobProgress>('Progress of a running generation job.'),
  'jobs.onChange': event<JobSummary[]>('A job was queued, started, finished, failed or was cancelled.'),
  'convert.onProgress': event<ConvertJob>(
    'A conversion moved on (stage, progress) or ended (done with its pack, failed, cancelled).',
  ),
  'packs.onChange': event<PackSummary[]>('The models folder changed and the packs were scanned again.'),
  'gallery.onChange': event<GalleryChange>(
    'Images were saved, marked, deleted or restored, or the index was rebuilt.',
  ),
} as const

export type Contract = typeof contract
export type MethodName = keyof Contract

export type InvokeName = {
  [K in MethodName]: Contract[K] extends InvokeEntry<z.ZodType, unknown> ? K : never
}[MethodName]

export type EventName = {
  [K in MethodName]: Contract[K] extends EventEntry<unknown> ? K : never
}[MethodName]

/** What a caller passes (before schema defaults and transforms). */
export type InputOf<K extends InvokeName> =
  Contract[K] extends InvokeEntry<infer I, unknown> ? z.input<I> : never
/** What a handler receives (after validation). */
export type ParsedInputOf<K extends InvokeName> =
  Contract[K] extends InvokeEntry<infer I, unknown> ? z.output<I> : never
export type ResultOf<K extends InvokeName> = Contract[K] extends InvokeEntry<z.ZodType, infer R> ? R : never
export type PayloadOf<K extends EventName> = Contract[K] extends EventEntry<infer P> ? P : never

export const invokeNames = Object.keys(contract).filter(
  (k) => contract[k as MethodName].kind === 'invoke',
) as InvokeName[]
export const eventNames = Object.keys(contract).filter(
  (k) => contract[k as MethodName].kind === 'event',
) as EventName[]

export function isInvokeName(name: string): name is InvokeName {
  return Object.hasOwn(contract, name) && contract[name as MethodName].kind === 'invoke'
}

/** The IPC channel an entry travels on in Electron. */
export function channelOf(name: MethodName): string {
  return `ddstudio:${name}`
}
