/**
 * A text pack's word tokenizer, read from the file its manifest names (conditioning.tokenizer.file). loadPack
 * reads it when it checks a pack, so a bad tokenizer makes the pack broken with a message naming the file; the
 * inference host reads it again when it opens the pack.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../../common/result.ts'
import type { PackManifest } from '../packs/manifest.ts'
import { loadTokenizer, type WordTokenizer } from './tokenizer.ts'

/** The pack's tokenizer; null for a class pack. Throws an AppError ('unavailable') that names the file. */
export async function readPackTokenizer(dir: string, manifest: PackManifest): Promise<WordTokenizer | null> {
  if (manifest.conditioning.kind !== 'text') return null
  const { file } = manifest.conditioning.tokenizer
  const maxTokens = manifest.conditioning.maxTokens
  let json: unknown
  try {
    json = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new AppError(
      'unavailable',
      code === 'ENOENT' ? `${file}: missing` : `${file}: not valid JSON (${(err as Error).message})`,
    )
  }
  const tokenizer = loadTokenizer(json, file)
  if (tokenizer.maxTokens !== maxTokens)
    throw new AppError(
      'unavailable',
      `${file}: maxTokens is ${tokenizer.maxTokens}, but the manifest's conditioning.maxTokens is ${maxTokens}`,
    )
  return tokenizer
}
