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

const License = z.looseObject({
  package: z.string().optional(),
  name: z.string().optional(),
  license: z.string().min(1),
  attribution: z.string().optional(),
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
  conditioning: z.strictObject({
    kind: z.enum(['class', 'text']),
    nullClass: z.number().int().nonnegative(),
    classes: z
      .array(z.strictObject({ index: z.number().int().nonnegative(), name: z.string().min(1).max(200) }))
      .min(1)
      .max(100_000),
  }),
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
    teacher: z.strictObject({
      cfgScale: z.number().nonnegative(),
      temperature: z.number().positive(),
      topK: z.number().int().nonnegative(),
      topP: z.number().gt(0).max(1),
    }),
  }),
  graphs: z.strictObject({
    generator: GraphSpec,
    decoder: GraphSpec,
    teacherStep: TeacherStepSpec,
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

export type PackManifest = z.infer<typeof PackManifestSchema>
