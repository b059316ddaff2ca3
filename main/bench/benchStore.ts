/**
 * Benchmark results on disk, in <data dir>/bench: latest.json (every run) and first-run.json (the first run on
 * this machine, kept so the UI can label each mode with this machine's speed). Files from disk are outside
 * input: the reader validates them and answers a damaged one with a message that names the file and the field,
 * never with an exception.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { z } from 'zod'
import { writeFileAtomic, writeSyncedTemp } from '../app/atomicWrite.ts'
import { BENCH_FORMAT, BENCH_FORMAT_VERSION, type BenchResult, BenchResultSchema } from './benchResult.ts'

/** A result is a few KB; a file far beyond that is not one, and is not read into memory. */
const MAX_RESULT_BYTES = 4 * 1024 * 1024

export type BenchRead =
  | { status: 'missing'; file: string }
  | { status: 'ok'; file: string; result: BenchResult }
  | { status: 'invalid'; file: string; error: string }

export function benchDir(dataDir: string): string {
  return path.join(dataDir, 'bench')
}

export function latestFile(dataDir: string): string {
  return path.join(benchDir(dataDir), 'latest.json')
}

export function firstRunFile(dataDir: string): string {
  return path.join(benchDir(dataDir), 'first-run.json')
}

export async function readBenchFile(file: string): Promise<BenchRead> {
  let text: string
  try {
    const stat = await fs.stat(file)
    if (!stat.isFile()) return { status: 'invalid', file, error: `${file} is not a file` }
    if (stat.size > MAX_RESULT_BYTES)
      return {
        status: 'invalid',
        file,
        error: `${file} is ${stat.size} bytes, too large for a benchmark result`,
      }
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', file }
    return { status: 'invalid', file, error: `${file} cannot be read: ${(err as Error).message}` }
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    return { status: 'invalid', file, error: `${file} is not valid JSON (${(err as Error).message})` }
  }
  // A file of another format or a newer version gets its own message rather than a list of field errors.
  const head = raw as { format?: unknown; formatVersion?: unknown } | null
  if (typeof head !== 'object' || head === null || head.format !== BENCH_FORMAT) {
    return { status: 'invalid', file, error: `${file} is not a DD Studio benchmark result` }
  }
  if (typeof head.formatVersion === 'number' && head.formatVersion > BENCH_FORMAT_VERSION) {
    return {
      status: 'invalid',
      file,
      error: `${file} has format version ${head.formatVersion}, newer than this app reads (${BENCH_FORMAT_VERSION})`,
    }
  }
  const parsed = BenchResultSchema.safeParse(raw)
  if (!parsed.success) return { status: 'invalid', file, error: `${file}: ${describe(parsed.error)}` }
  return { status: 'ok', file, result: parsed.data }
}

export function readFirstRun(dataDir: string): Promise<BenchRead> {
  return readBenchFile(firstRunFile(dataDir))
}

export function readLatest(dataDir: string): Promise<BenchRead> {
  return readBenchFile(latestFile(dataDir))
}

function serialize(result: BenchResult): string {
  // Never write what the reader would refuse (a NaN would become null in JSON).
  return `${JSON.stringify(BenchResultSchema.parse(result), null, 2)}\n`
}

/** Writes (or replaces) a result file atomically: a crash leaves the old file or the new one. */
export async function writeBenchFile(file: string, result: BenchResult): Promise<void> {
  await writeFileAtomic(file, serialize(result))
}

export async function writeLatest(dataDir: string, result: BenchResult): Promise<string> {
  const file = latestFile(dataDir)
  await writeBenchFile(file, result)
  return file
}

export type FirstRunRecord =
  | { status: 'written'; file: string }
  | { status: 'kept'; file: string; existing: BenchResult }
  /** A damaged first-run.json is left as it is (it may be worth a look); deleting it lets the next run record. */
  | { status: 'damaged'; file: string; error: string }

/** Stores `result` as first-run.json unless that file exists already; an existing one is never replaced. */
export async function recordFirstRun(dataDir: string, result: BenchResult): Promise<FirstRunRecord> {
  const file = firstRunFile(dataDir)
  const current = await readBenchFile(file)
  if (current.status === 'ok') return { status: 'kept', file, existing: current.result }
  if (current.status === 'invalid') return { status: 'damaged', file, error: current.error }
  const created = await createExclusive(file, serialize(result))
  if (created) return { status: 'written', file }
  // Another run created it between the read and now: that one was first.
  const winner = await readBenchFile(file)
  if (winner.status === 'ok') return { status: 'kept', file, existing: winner.result }
  return { status: 'damaged', file, error: winner.status === 'invalid' ? winner.error : `${file} vanished` }
}

/**
 * Creates `file` with `data` only if it does not exist, and whole: the data is written and synced under a
 * temporary name, then hard-linked to the target, which fails if the target exists. Where hard links are not
 * supported (some network and FAT volumes) an exclusive create does the same, less crash-safely.
 */
async function createExclusive(file: string, data: string): Promise<boolean> {
  const tmp = await writeSyncedTemp(file, data)
  try {
    await fs.link(tmp, file)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    try {
      await fs.writeFile(file, data, { flag: 'wx', mode: 0o600 })
      return true
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw inner
    }
  } finally {
    await fs.rm(tmp, { force: true })
  }
}

function describe(error: z.ZodError): string {
  const parts = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`)
  if (error.issues.length > 3) parts.push(`and ${error.issues.length - 3} more`)
  return parts.join('; ')
}
