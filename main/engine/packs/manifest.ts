/**
 * The model-pack manifest (models/PACK_FORMAT.md): the contract between the Python pipeline and the app.
 * This zod schema is the source of truth; models/pack.schema.json is generated from it (`npm run models:schema`)
 * for the pipeline, which validates every pack it writes against that file.
 */
import { z } from 'zod'

export const PACK_FORMAT = 'dd-studio-pack'
export const PACK_FORMAT_VERSION = 1

const fileName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a plain file name inside the pack (no folders, no ..)')

const dim = z.union([z.number().int().nonnegative(), z.string().min(1).max(40)])

const TensorSpec = z.strictObject({
  dtype: z.enum(['float32', 'int64', 'uint8']),
  shape: z.array(dim).max(8),
})

const GraphSpec = z.strictObject({
  file: fileName,
  inputs: z.record(z.string().min(1).max(60), TensorSpec),
  outputs: z.record(z.string().min(1).max(60), TensorSpec),
})

const TeacherStepSpec = GraphSpec.extend({
  layers: z.number().int().positive(),
  heads: z.number().int().positive(),
  headDim: z.number().int().positive(),
})

const HybridPreset = z.strictObject({
  /** Model passes in all: DD runs plus teacher steps. */
  steps: z.number().int().positive(),
  start: z.number().int().nonnegative(),
  end: z.number().int().positive(),
  splitT: z.number().int().nonnegative(),
})

const License = z.looseObject({
  package: z.string().optional(),
  name: z.string().optional(),
  license: z.string().min(1),
  attribution: z.string().optional(),
})

const ClassConditioning = z.strictObject({
  kind: z.literal('class'),
  nullClass: z.number().int().nonnegative(),
  classes: z
    .array(
      z.strictObject({
        index: z.number().int().nonnegative(),
        name: z.string().min(1).max(200),
        /** Revision 1.2: other names of the class (e.g. WordNet lemmas) for search and prompt matching. */
        synonyms: z.array(z.string().min(1).max(200)).max(64).optional(),
      }),
    )
    .min(1)
    .max(100_000),
})

/** The longest example prompt a manifest may carry (the request's own limit). */
export const MAX_EXAMPLE_PROMPT_CHARS = 2000

/**
 * Revision 1.3: a pack conditioned on a prompt. The word tokenizer (tokenizer.json) turns the prompt into
 * `maxTokens` slots (BOS and at most maxTokens - 1 words), which text_encoder.onnx turns into `cond`.
 */
const TextConditioning = z.strictObject({
  kind: z.literal('text'),
  tokenizer: z.strictObject({ file: fileName.regex(/\.json$/, 'must be a .json file') }),
  /** Prompt slots T: BOS plus at most T - 1 words. */
  maxTokens: z.number().int().min(2).max(256),
  /** The null prompt was trained (caption dropout): an empty prompt asks for an unconditional image. */
  unconditional: z.boolean(),
  /** Guidance's unconditional branch may take a (negative) prompt's slots instead of the null prompt's. */
  negativePrompt: z.boolean(),
  /** Training captions, for "surprise me" and as examples. */
  examplePrompts: z.array(z.string().min(1).max(MAX_EXAMPLE_PROMPT_CHARS)).max(500),
})

export const PackManifestSchema = z.strictObject({
  format: z.literal(PACK_FORMAT),
  formatVersion: z.literal(PACK_FORMAT_VERSION),
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
  name: z.string().min(1).max(120),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be MAJOR.MINOR.PATCH'),
  description: z.string().max(2000),
  family: z.enum(['llamagen', 'var']),
  conditioning: z.discriminatedUnion('kind', [ClassConditioning, TextConditioning]),
  image: z.strictObject({
    width: z.number().int().positive().max(4096),
    height: z.number().int().positive().max(4096),
    channels: z.literal(3),
  }),
  tokens: z.strictObject({
    grid: z.tuple([z.number().int().positive(), z.number().int().positive()]),
    count: z.number().int().positive(),
    codebookSize: z.number().int().positive(),
    codebookDim: z.number().int().positive(),
    normalized: z.boolean(),
    /**
     * Revision 1.2, required by the 'var' family: the side of each scale's square token map, coarse to fine
     * (VAR: 1,2,3,4,5,6,8,10,13,16). Tokens are stored scale after scale, row-major within a scale; the sum of
     * the squares is `count` and the last scale is `grid`.
     */
    scales: z.array(z.number().int().positive().max(1024)).min(1).max(64).optional(),
  }),
  noise: z.looseObject({
    name: z.literal('dd-noise-v1'),
    shape: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  }),
  flow: z.strictObject({
    solver: z.string().min(1),
    steps: z.number().int().positive().max(10_000),
    rMin: z.number().positive(),
    rMax: z.number().positive(),
    schedule: z.string(),
    dtype: z.literal('float64'),
  }),
  sampling: z.strictObject({
    splitT: z.number().int().nonnegative(),
    tLists: z.record(z.string(), z.array(z.number().int().nonnegative()).min(1)),
    hybrid: z.strictObject({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() }),
    /**
     * Revision 1.2: the published teacher-involved schedules, fewest steps first. Each runs DD at 0 (skipped when
     * `start` is 0), the exact teacher over steps start..end-1, and DD at `end` with its own `splitT`.
     */
    hybridPresets: z.array(HybridPreset).min(1).max(8).optional(),
    teacher: z.strictObject({
      cfgScale: z.number().nonnegative(),
      /**
       * Revision 1.2: how guidance is applied. 'constant' (the default): u + s (c - u) at every step. 'linear-scale'
       * (VAR): at step k of K, w = s k / (K - 1) and the logits are c + w (c - u).
       */
      cfgSchedule: z.enum(['constant', 'linear-scale']).optional(),
      temperature: z.number().positive(),
      topK: z.number().int().nonnegative(),
      topP: z.number().gt(0).max(1),
    }),
  }),
  graphs: z.strictObject({
    generator: GraphSpec,
    decoder: GraphSpec,
    /** One KV-cached token step of the AR teacher; required by the 'llamagen' family. */
    teacherStep: TeacherStepSpec.optional(),
    /** Revision 1.2, required by the 'var' family: the teacher's logits for every token of one scale. */
    teacherScale: GraphSpec.optional(),
    /** Revision 1.3, required by text packs: prompt_ids [batch, T] -> cond [batch, T, width]. */
    textEncoder: GraphSpec.optional(),
    /**
     * Revision 1.3, required by text packs with a teacher step: cond -> token 0's logits and the KV cache of the
     * prompt's slots, whose `layers`, `heads` and `headDim` are the teacher step's.
     */
    teacherPrefill: TeacherStepSpec.optional(),
  }),
  codebook: z.strictObject({
    file: fileName,
    dtype: z.literal('float32'),
    shape: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  }),
  parity: z.strictObject({ file: fileName }).optional(),
  /**
   * Format revision 1.1: real training images for the class picker, one RGB PNG with one row per class (the row
   * is the class index) and `perClass` cells of `cell` [width, height] pixels in each row. Optional decoration:
   * loadPack checks the sheet's size against this entry and drops the examples, not the pack, on a mismatch.
   */
  examples: z
    .strictObject({
      file: fileName.regex(/\.png$/, 'must be a .png file'),
      perClass: z.number().int().positive().max(64),
      cell: z.tuple([z.number().int().positive().max(1024), z.number().int().positive().max(1024)]),
    })
    .optional(),
  eval: z.strictObject({ file: fileName }).optional(),
  files: z.record(
    fileName,
    z.strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex sha256'),
      bytes: z.number().int().nonnegative(),
    }),
  ),
  licenses: z.array(License),
  provenance: z.looseObject({
    pipelineRevision: z.string(),
    seed: z.number().int(),
  }),
})

/**
 * What a manifest must hold for its family, checked after the fields' own schema: a 'llamagen' pack has a
 * teacher step graph, a 'var' pack the scales and a teacher scale graph; a text pack its text graphs
 * (conditioningProblems). Not part of the generated JSON Schema (cross-field rules); the pipeline's exporters
 * write both families to this rule and the app enforces it.
 */
export function familyProblems(m: z.infer<typeof PackManifestSchema>): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = []
  if (m.family === 'llamagen') {
    if (!m.graphs.teacherStep)
      problems.push({ path: ['graphs', 'teacherStep'], message: "is required for family 'llamagen'" })
    if (m.graphs.teacherScale)
      problems.push({ path: ['graphs', 'teacherScale'], message: "belongs to family 'var', not 'llamagen'" })
    if (m.tokens.scales)
      problems.push({ path: ['tokens', 'scales'], message: "belongs to family 'var', not 'llamagen'" })
  } else {
    if (!m.graphs.teacherScale)
      problems.push({ path: ['graphs', 'teacherScale'], message: "is required for family 'var'" })
    if (m.graphs.teacherStep)
      problems.push({ path: ['graphs', 'teacherStep'], message: "belongs to family 'llamagen', not 'var'" })
    const scales = m.tokens.scales
    if (!scales) problems.push({ path: ['tokens', 'scales'], message: "is required for family 'var'" })
    else {
      const total = scales.reduce((sum, s) => sum + s * s, 0)
      if (total !== m.tokens.count)
        problems.push({
          path: ['tokens', 'scales'],
          message: `squares sum to ${total}, but tokens.count is ${m.tokens.count}`,
        })
      const last = scales[scales.length - 1]
      if (m.tokens.grid[0] !== last || m.tokens.grid[1] !== last)
        problems.push({ path: ['tokens', 'scales'], message: `the last scale (${last}) is not tokens.grid` })
    }
  }
  problems.push(...stepProblems(m))
  problems.push(...conditioningProblems(m))
  return problems
}

type Problem = { path: string[]; message: string }

/**
 * Revision 1.3: what the conditioning kind asks of the graphs. A text pack is a 'llamagen' pack whose condition
 * enters as `cond` [batch, T, width] from its text encoder: the generator and the teacher prefill take it, the
 * teacher step takes no class, and T is the tokenizer's `maxTokens` everywhere. A class pack has none of the
 * text graphs.
 */
function conditioningProblems(m: z.infer<typeof PackManifestSchema>): Problem[] {
  const problems: Problem[] = []
  const c = m.conditioning
  const { graphs } = m
  if (c.kind === 'class') {
    for (const name of ['textEncoder', 'teacherPrefill'] as const)
      if (graphs[name])
        problems.push({ path: ['graphs', name], message: "belongs to text packs (conditioning.kind 'text')" })
    return problems
  }
  if (m.family !== 'llamagen')
    problems.push({ path: ['conditioning', 'kind'], message: "text packs are family 'llamagen' only" })
  if (!m.files[c.tokenizer.file])
    problems.push({
      path: ['conditioning', 'tokenizer', 'file'],
      message: `'${c.tokenizer.file}' has no entry in files`,
    })
  if (!graphs.textEncoder)
    problems.push({ path: ['graphs', 'textEncoder'], message: 'is required for a text pack' })
  if (graphs.teacherStep && !graphs.teacherPrefill)
    problems.push({
      path: ['graphs', 'teacherPrefill'],
      message: 'is required for a text pack with a teacherStep',
    })
  if (graphs.teacherPrefill && !graphs.teacherStep)
    problems.push({ path: ['graphs', 'teacherPrefill'], message: 'is only used with a teacherStep' })
  if (graphs.teacherPrefill && graphs.teacherStep)
    for (const key of ['layers', 'heads', 'headDim'] as const)
      if (graphs.teacherPrefill[key] !== graphs.teacherStep[key])
        problems.push({
          path: ['graphs', 'teacherPrefill', key],
          message: `is ${graphs.teacherPrefill[key]}, but the teacherStep's cache has ${graphs.teacherStep[key]}`,
        })

  const T = c.maxTokens
  const widths = new Set<number>()
  /** A `cond` tensor: [batch, T, width], T the prompt slots and width one number across the graphs. */
  const checkCond = (path: string[], spec: { shape: (number | string)[] } | undefined, required: string) => {
    if (!spec) {
      problems.push({ path, message: required })
      return
    }
    const [, slots, width] = spec.shape
    if (spec.shape.length !== 3 || slots !== T || typeof width !== 'number')
      problems.push({
        path: [...path, 'shape'],
        message: `must be [batch, ${T}, width] (T = conditioning.maxTokens, width a number), not [${spec.shape.join(', ')}]`,
      })
    else widths.add(width)
  }
  if (graphs.textEncoder) {
    const ids = graphs.textEncoder.inputs.prompt_ids
    if (!ids)
      problems.push({ path: ['graphs', 'textEncoder', 'inputs', 'prompt_ids'], message: 'is required' })
    else if (ids.dtype !== 'int64' || ids.shape.length !== 2 || ids.shape[1] !== T)
      problems.push({
        path: ['graphs', 'textEncoder', 'inputs', 'prompt_ids'],
        message: `must be int64 [batch, ${T}] (T = conditioning.maxTokens)`,
      })
    checkCond(['graphs', 'textEncoder', 'outputs', 'cond'], graphs.textEncoder.outputs.cond, 'is required')
  }
  checkCond(
    ['graphs', 'generator', 'inputs', 'cond'],
    graphs.generator.inputs.cond,
    "is required for a text pack (it takes the text encoder's output instead of class_ids)",
  )
  if (graphs.teacherPrefill)
    checkCond(
      ['graphs', 'teacherPrefill', 'inputs', 'cond'],
      graphs.teacherPrefill.inputs.cond,
      'is required',
    )
  if (widths.size > 1)
    problems.push({
      path: ['graphs'],
      message: `the cond tensors disagree on their width (${[...widths].join(', ')})`,
    })
  for (const name of ['generator', 'teacherStep'] as const) {
    if (graphs[name]?.inputs.class_ids)
      problems.push({
        path: ['graphs', name, 'inputs', 'class_ids'],
        message: 'belongs to class packs; a text pack is conditioned through cond',
      })
  }
  return problems
}

/**
 * The sampling defaults against the pack's steps (tokens for 'llamagen', scales for 'var'): every t and bound in
 * range, and each hybrid preset's `steps` equal to the model passes its schedule takes (common/generation.ts
 * hybridSteps: DD at 0 unless start is 0, end - start teacher steps, DD at end unless it is the last step).
 */
function stepProblems(m: z.infer<typeof PackManifestSchema>): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = []
  const k = m.family === 'var' ? (m.tokens.scales?.length ?? 0) : m.tokens.count
  if (k === 0) return problems
  const unit = m.family === 'var' ? 'scales' : 'tokens'
  const { sampling } = m
  if (sampling.splitT > k)
    problems.push({
      path: ['sampling', 'splitT'],
      message: `${sampling.splitT} is beyond the pack's ${k} ${unit}`,
    })
  for (const [mode, list] of Object.entries(sampling.tLists)) {
    if (list.some((t, i) => t >= k || (i > 0 && t <= (list[i - 1] as number))) || list[0] !== 0)
      problems.push({
        path: ['sampling', 'tLists', mode],
        message: `must start at 0 and increase strictly below ${k} (${unit})`,
      })
  }
  if (sampling.hybrid.start >= sampling.hybrid.end || sampling.hybrid.end > k)
    problems.push({ path: ['sampling', 'hybrid'], message: `needs start < end <= ${k} (${unit})` })
  for (const [i, preset] of (sampling.hybridPresets ?? []).entries()) {
    const where = ['sampling', 'hybridPresets', String(i)]
    if (preset.start >= preset.end || preset.end > k || preset.splitT > k) {
      problems.push({ path: where, message: `needs start < end <= ${k} and splitT <= ${k} (${unit})` })
      continue
    }
    const passes = (preset.start > 0 ? 1 : 0) + (preset.end - preset.start) + (preset.end < k ? 1 : 0)
    if (preset.steps !== passes)
      problems.push({
        path: [...where, 'steps'],
        message: `is ${preset.steps}, but the schedule takes ${passes}`,
      })
  }
  return problems
}

/** The manifest schema with the family rules: what loadPack and import parse with. */
export const CheckedPackManifestSchema = PackManifestSchema.superRefine((m, ctx) => {
  for (const p of familyProblems(m)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message })
})

export type PackManifest = z.infer<typeof PackManifestSchema>
export type ClassConditioningOf = z.infer<typeof ClassConditioning>
export type TextConditioningOf = z.infer<typeof TextConditioning>

/** A class pack's classes; empty for a text pack. */
export function classesOf(manifest: PackManifest): ClassConditioningOf['classes'] {
  return manifest.conditioning.kind === 'class' ? manifest.conditioning.classes : []
}

/** A text pack's conditioning; null for a class pack. */
export function textConditioningOf(manifest: PackManifest): TextConditioningOf | null {
  return manifest.conditioning.kind === 'text' ? manifest.conditioning : null
}
export type GraphName = keyof PackManifest['graphs']
export type GraphSpecOf = z.infer<typeof GraphSpec>

/** A graph the pack must have for this use; loadPack's family check makes a missing one a broken pack. */
export function requireGraph<N extends GraphName>(
  manifest: PackManifest,
  name: N,
): NonNullable<PackManifest['graphs'][N]> {
  const spec = manifest.graphs[name]
  if (!spec) throw new Error(`pack '${manifest.id}' (family '${manifest.family}') has no ${name} graph`)
  return spec as NonNullable<PackManifest['graphs'][N]>
}
