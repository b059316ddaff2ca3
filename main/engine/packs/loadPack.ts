/**
 * Reads one pack folder: the manifest against the schema, then every file against its sha256. The result is
 * either a usable pack or a list of problems that name the file or field, so one broken pack never hides others.
 * A usable pack may still come with warnings: problems with optional decoration (the examples sheet) that
 * leave it out instead of the pack.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { z } from 'zod'
import { readPackTokenizer } from '../text/packTokenizer.ts'
import type { WordTokenizer } from '../text/tokenizer.ts'
import { checkExamples, type PackExamples } from './examples.ts'
import { CheckedPackManifestSchema, PACK_FORMAT_VERSION, type PackManifest } from './manifest.ts'

export type LoadedPack =
  | {
      ok: true
      dir: string
      manifest: PackManifest
      /** The examples sheet when the manifest has one and it matches its entry; null otherwise. */
      examples: PackExamples | null
      /** A text pack's word tokenizer (conditioning.tokenizer), checked; null for a class pack. */
      tokenizer: WordTokenizer | null
      /** Why optional parts of the pack are left out, naming the field or file; the pack is usable anyway. */
      warnings: string[]
    }
  | { ok: false; dir: string; problems: string[] }

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function describe(error: z.ZodError): string[] {
  return error.issues
    .slice(0, 10)
    .map((issue) => `manifest.json: ${['', ...issue.path].join('.') || '.'}: ${issue.message}`)
}

export async function loadPack(dir: string): Promise<LoadedPack> {
  const manifestFile = path.join(dir, 'manifest.json')
  let raw: unknown
  try {
    raw = JSON.parse(await fs.readFile(manifestFile, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const problem =
      code === 'ENOENT'
        ? 'manifest.json is missing'
        : `manifest.json is not valid JSON (${(err as Error).message})`
    return { ok: false, dir, problems: [problem] }
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion
  if (typeof version === 'number' && version > PACK_FORMAT_VERSION) {
    return {
      ok: false,
      dir,
      problems: [
        `manifest.json: format version ${version} is newer than this app supports (${PACK_FORMAT_VERSION})`,
      ],
    }
  }
  const parsed = CheckedPackManifestSchema.safeParse(raw)
  if (!parsed.success) return { ok: false, dir, problems: describe(parsed.error) }
  const manifest = parsed.data

  const problems: string[] = []
  const referenced = [
    manifest.graphs.generator.file,
    manifest.graphs.decoder.file,
    manifest.graphs.teacherStep?.file,
    manifest.graphs.teacherScale?.file,
    manifest.graphs.textEncoder?.file,
    manifest.graphs.teacherPrefill?.file,
    manifest.conditioning.kind === 'text' ? manifest.conditioning.tokenizer.file : undefined,
    manifest.codebook.file,
  ].filter((name): name is string => name !== undefined)
  for (const name of referenced) {
    if (!manifest.files[name]) problems.push(`manifest.json: ${name} is used but has no entry in files`)
  }
  for (const [name, entry] of Object.entries(manifest.files)) {
    const file = path.join(dir, name)
    try {
      const stat = await fs.stat(file)
      if (stat.size !== entry.bytes) {
        problems.push(`${name}: ${stat.size} bytes, the manifest says ${entry.bytes}`)
        continue
      }
      if ((await sha256File(file)) !== entry.sha256)
        problems.push(`${name}: sha256 does not match the manifest`)
    } catch {
      problems.push(`${name}: missing`)
    }
  }
  if (problems.length) return { ok: false, dir, problems }
  // After the sha256 check, so the file read is the one the pipeline wrote.
  let tokenizer: WordTokenizer | null
  try {
    tokenizer = await readPackTokenizer(dir, manifest)
  } catch (err) {
    return { ok: false, dir, problems: [(err as Error).message] }
  }
  // Only now: a sheet whose bytes fail their sha256 has already made the pack broken above.
  const { examples, problems: warnings } = await checkExamples(dir, manifest)
  return { ok: true, dir, manifest, examples, tokenizer, warnings }
}
