/**
 * The types the registry's modules share. They live apart from registry.ts so that the importer, the cache and
 * the watcher can name them without importing the registry that imports them.
 */

import type { WordTokenizer } from '../text/tokenizer.ts'
import type { PackExamples } from './examples.ts'
import type { PackManifest } from './manifest.ts'

/** Debug detail is not logged: a scan that re-hashes a pack says so at info level, once per change. */
export type RegistryLogLevel = 'info' | 'warn' | 'error'

export type RegistryLog = (level: RegistryLogLevel, message: string) => void

export type PackSource = 'built-in' | 'user'
export type PackStatus = 'ready' | 'broken'

export interface PackEntry {
  /** The manifest's id; the folder name when the pack is broken and its manifest cannot be trusted. */
  id: string
  dir: string
  source: PackSource
  status: PackStatus
  /** Set for ready packs, and for packs that are valid but lose a duplicate-id conflict. */
  manifest: PackManifest | null
  problems: string[]
  /** Problems that leave a ready pack usable but without a part of it (a bad examples sheet), naming the field. */
  warnings: string[]
  /** The pack's checked examples sheet; null when it has none, when that sheet is unusable or the pack is broken. */
  examples: PackExamples | null
  /** A ready text pack's word tokenizer; null for class packs and broken packs. */
  tokenizer: WordTokenizer | null
  /** sha256 of manifest.json as it is on disk (null when it cannot be read): identifies the exact pack. */
  manifestSha256: string | null
}
