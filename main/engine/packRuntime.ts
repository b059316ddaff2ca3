/**
 * A pack ready to sample from: its manifest, its codebook in memory, a text pack's tokenizer and its (lazily
 * created) sessions.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { PackManifest } from './packs/manifest.ts'
import type { FlowSpec } from './sampling/flowMap.ts'
import { PackSessions, type PackSessionsOptions } from './sessions/packSessions.ts'
import { readPackTokenizer } from './text/packTokenizer.ts'
import type { WordTokenizer } from './text/tokenizer.ts'

export interface PackRuntime {
  dir: string
  manifest: PackManifest
  /** L2-normalised codebook, row-major [codebookSize, codebookDim]. */
  book: Float32Array
  flow: FlowSpec
  /** A text pack's word tokenizer; null for a class pack. */
  tokenizer: WordTokenizer | null
  sessions: PackSessions
}

export async function openPackRuntime(
  dir: string,
  manifest: PackManifest,
  options: PackSessionsOptions,
): Promise<PackRuntime> {
  const [vocab, dim] = manifest.codebook.shape
  const bytes = await fs.readFile(path.join(dir, manifest.codebook.file))
  if (bytes.byteLength !== vocab * dim * 4) {
    throw new Error(
      `${manifest.codebook.file}: ${bytes.byteLength} bytes, expected ${vocab * dim * 4} for [${vocab}, ${dim}] float32`,
    )
  }
  // Copy into an aligned buffer: readFile's Buffer may sit at any offset of a shared pool. Little-endian as the
  // format says; every platform the app ships on is little-endian.
  const book = new Float32Array(vocab * dim)
  new Uint8Array(book.buffer).set(bytes)
  const tokenizer = await readPackTokenizer(dir, manifest)
  return {
    dir,
    manifest,
    book,
    flow: { steps: manifest.flow.steps, rMin: manifest.flow.rMin, rMax: manifest.flow.rMax },
    tokenizer,
    sessions: new PackSessions(dir, manifest, options),
  }
}
