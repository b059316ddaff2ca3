/**
 * Turning official DD checkpoint files into a model pack: the families and sizes the converter (models/convert)
 * knows, the three files each needs, and what main reports about the Python check and a running conversion.
 * Plain data, shared by the contract, main's convert service and the import dialog.
 */
import type { PackSummary } from './generation.ts'

export const CHECKPOINT_FAMILIES = ['llamagen', 'var'] as const
export type CheckpointFamily = (typeof CHECKPOINT_FAMILIES)[number]

/** Every size any family has; which ones a family takes is in FAMILIES. */
export const CHECKPOINT_SIZES = ['B', 'L', '16', '20', '24'] as const
export type CheckpointSize = (typeof CHECKPOINT_SIZES)[number]

/** The three files of a conversion; the tokenizer is LlamaGen's VQ-16 model or VAR's multi-scale VQVAE. */
export const CHECKPOINT_ROLES = ['student', 'teacher', 'tokenizer'] as const
export type CheckpointRole = (typeof CHECKPOINT_ROLES)[number]

export interface FamilyInfo {
  label: string
  /** What a size is called in this family ("Size", "Depth"). */
  sizeName: string
  sizes: readonly CheckpointSize[]
  /** The converter's subcommand and its flags for the size and the tokenizer file. */
  command: string
  sizeFlag: '--size' | '--depth'
  tokenizerFlag: '--vq' | '--vae'
  /** What each file is. */
  files: Record<CheckpointRole, string>
  /** The file's name as published, for a size ("c2i_B_256.pt"): a hint for which file goes where. */
  publishedName(role: CheckpointRole, size: string): string
}

export const FAMILIES: Record<CheckpointFamily, FamilyInfo> = {
  llamagen: {
    label: 'LlamaGen-DD',
    sizeName: 'Size',
    sizes: ['B', 'L'],
    command: 'llamagen',
    sizeFlag: '--size',
    tokenizerFlag: '--vq',
    files: {
      student: 'LlamaGen-DD student',
      teacher: 'LlamaGen class-to-image teacher',
      tokenizer: 'VQ-16 tokenizer',
    },
    publishedName: (role, size) =>
      ({ student: `llamagen-${size}.pt`, teacher: `c2i_${size}_256.pt`, tokenizer: 'vq_ds16_c2i.pt' })[role],
  },
  var: {
    label: 'VAR-DD',
    sizeName: 'Depth',
    sizes: ['16', '20', '24'],
    command: 'var',
    sizeFlag: '--depth',
    tokenizerFlag: '--vae',
    files: {
      student: 'VAR-DD student',
      teacher: 'VAR teacher',
      tokenizer: 'VAR multi-scale VQVAE',
    },
    publishedName: (role, size) =>
      ({ student: `var-d${size}.pth`, teacher: `var_d${size}.pth`, tokenizer: 'vae_ch160v4096z32.pth' })[
        role
      ],
  },
}

/** "LlamaGen-DD B", "VAR-DD d20". */
export function modelLabel(family: CheckpointFamily, size: string): string {
  return family === 'var' ? `${FAMILIES.var.label} d${size}` : `${FAMILIES[family].label} ${size}`
}

/** What `python -m convert check` found, with the interpreter the app ran and what to do when it is not ok. */
export interface ConverterCheck {
  ok: boolean
  /** The interpreter the app ran (and would run for a conversion). */
  interpreter: string
  /** Why that one: the DDSTUDIO_PYTHON variable, the system's /usr/bin/python3, or python3 on the PATH. */
  interpreterFrom: 'DDSTUDIO_PYTHON' | 'system' | 'PATH'
  /** The versions the check reported; null when missing or when the check could not run. */
  python: string | null
  torch: string | null
  onnx: string | null
  /** What is wrong, in the converter's words where it gave some. */
  problems: string[]
  /** What to do about it, one step a line; empty when ok. */
  instructions: string[]
}

export type ConvertState = 'running' | 'validating' | 'done' | 'failed' | 'cancelled'

/** One conversion as main reports it (convert.start answers with it; convert.onProgress sends each change). */
export interface ConvertJob {
  jobId: string
  family: CheckpointFamily
  size: string
  state: ConvertState
  /** The converter's current stage ("loading student", "exporting generator"), or main's own once it has done. */
  stage: string | null
  /** Progress within the stage; total is 0 until the converter has said. */
  done: number
  total: number
  startedAt: string
  finishedAt: string | null
  /** The pack, once it validated and is in the models folder. */
  pack: PackSummary | null
  /** Why it failed: the converter's message as it gave it (naming the file and what was expected), or main's. */
  error: string | null
}
