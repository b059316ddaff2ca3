/**
 * Imports a pack folder or a .zip of one into the user folder. Each import is staged in a hidden folder inside
 * the user folder (same file system, so the final rename is atomic) and renamed into place only after it
 * validated, so a pack is either fully there or not there at all. Staging folders that a crash left behind are
 * removed by the next scan.
 */
import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../../common/result.ts'
import { syncDir } from '../../app/atomicWrite.ts'
import { isAbandonedStaging } from '../../app/stagingFolder.ts'
import { loadPack } from './loadPack.ts'
import { CheckedPackManifestSchema, type PackManifest } from './manifest.ts'
import { fingerprintFolder, type PackLoadCache } from './packCache.ts'
import type { PackEntry, RegistryLog } from './registryTypes.ts'
import { assertNotLink, copyRegularFile, readSmallFile, writeNewFile } from './safeFiles.ts'
import { type Refuse, ZipArchive } from './zipArchive.ts'

export interface ImportLimits {
  /** Total uncompressed bytes of an imported pack. */
  maxBytes: number
  /** Entries of a zip (folders included), or files listed by a pack folder's manifest. */
  maxEntries: number
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 2 * 1024 ** 3, maxEntries: 10_000 }

export const IMPORT_PREFIX = '.import-'

/** A manifest is JSON of a few KB; anything near this is not a pack. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024
/** fs.readFile cannot read more than this into one buffer. */
const MAX_ZIP_FILE_BYTES = 2 ** 31 - 1

export interface PackImporterOptions {
  userDir: string
  limits: ImportLimits
  log: RegistryLog
  /** Receives the verdict on each imported pack, so the scan after the import need not hash it again. */
  cache: PackLoadCache
  /** The registry's scan: an id must be free among all listed packs, built-in and broken ones included. */
  scan: () => Promise<PackEntry[]>
}

export class PackImporter {
  private readonly userDir: string
  private readonly limits: ImportLimits
  private readonly logger: RegistryLog
  private readonly cache: PackLoadCache
  private readonly scan: () => Promise<PackEntry[]>
  /** Staging folders of imports running in this process: a scan must not clean them up under their feet. */
  private readonly staging = new Set<string>()

  constructor(options: PackImporterOptions) {
    this.userDir = options.userDir
    this.limits = options.limits
    this.logger = options.log
    this.cache = options.cache
    this.scan = options.scan
  }

  /**
   * Copies the manifest and the files it lists into a staging folder, validates the copy (schema and every
   * sha256) and renames it to `<userDir>/<id>`, which it returns. On any failure nothing is left behind.
   */
  async importPack(source: string): Promise<string> {
    if (!path.isAbsolute(source)) {
      throw new AppError('invalid_input', `import needs an absolute path, not '${source}'`)
    }
    let stat: Stats
    try {
      stat = await fs.lstat(source)
    } catch {
      throw new AppError('invalid_input', `nothing to import at ${source}`)
    }
    if (stat.isSymbolicLink()) throw new AppError('invalid_input', `${source} is a symbolic link`)
    const isZip = stat.isFile() && source.toLowerCase().endsWith('.zip')
    if (!stat.isDirectory() && !isZip) {
      throw new AppError('invalid_input', `${source} is neither a pack folder nor a .zip file`)
    }

    await fs.mkdir(this.userDir, { recursive: true })
    // The pid in the name lets another process's scan tell a running import from a crashed one.
    const staging = path.join(
      this.userDir,
      `${IMPORT_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`,
    )
    await fs.mkdir(staging)
    this.staging.add(staging)
    let target: string
    try {
      const manifest = isZip
        ? await this.stageZip(source, stat.size, staging)
        : await this.stageFolder(source, staging)
      // Taken before hashing: a file changed after this point changes the fingerprint, never the reverse.
      const fingerprint = await fingerprintFolder(staging)
      const loaded = await loadPack(staging)
      if (!loaded.ok) {
        throw new AppError('invalid_input', `${source} is not a valid pack: ${loaded.problems.join('; ')}`)
      }
      target = path.join(this.userDir, manifest.id)
      await this.assertIdFree(manifest.id, target)
      await syncDir(staging)
      try {
        await fs.rename(staging, target)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EEXIST' || code === 'ENOTEMPTY') throw idTaken(manifest.id, target)
        throw err
      }
      await syncDir(this.userDir)
      // Renaming the folder leaves its files as they were: keep the hashes just checked for the next scan.
      await this.cache.remember(target, fingerprint, loaded)
      this.logger('info', `imported model pack '${manifest.id}' from ${source}`)
    } finally {
      this.staging.delete(staging)
      await fs.rm(staging, { recursive: true, force: true }).catch((err: Error) => {
        this.logger('warn', `could not remove ${staging}: ${err.message}`)
      })
    }
    return target
  }

  /** Removes an `.import-*` folder found by a scan, unless an import (here or in another process) is using it. */
  async removeLeftover(dir: string): Promise<void> {
    if (this.staging.has(dir)) return
    // Another app process (a CLI run, a second window) may be importing right now: its folder stays.
    if (!(await isAbandonedStaging(dir, IMPORT_PREFIX))) return
    try {
      await fs.rm(dir, { recursive: true, force: true })
      this.logger('info', `removed ${dir}, left by an interrupted import`)
    } catch (err) {
      this.logger('warn', `could not remove ${dir}, left by an interrupted import: ${(err as Error).message}`)
    }
  }

  /** Refuses an id that a listed pack (built-in or user, ready or not) or a folder in the user folder has. */
  private async assertIdFree(id: string, target: string): Promise<void> {
    const exists = await fs.lstat(target).then(
      () => true,
      () => false,
    )
    if (exists) throw idTaken(id, target)
    const holder = (await this.scan()).find((e) => e.id === id)
    if (holder) throw idTaken(id, holder.dir)
  }

  /**
   * Writes the manifest into the staging folder and parses it. An invalid one is reported with loadPack's own
   * words (it stops at the manifest, before any file is read), so imports and scans describe it the same way.
   */
  private async acceptManifest(
    bytes: Uint8Array | null,
    staging: string,
    source: string,
  ): Promise<PackManifest> {
    const reject = async (): Promise<never> => {
      const loaded = await loadPack(staging)
      const problems = loaded.ok ? ['manifest.json is not valid'] : loaded.problems
      throw new AppError('invalid_input', `${source} is not a valid pack: ${problems.join('; ')}`)
    }
    if (!bytes) return reject()
    await writeNewFile(path.join(staging, 'manifest.json'), [bytes])
    let parsed: ReturnType<typeof CheckedPackManifestSchema.safeParse>
    try {
      parsed = CheckedPackManifestSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)))
    } catch {
      return reject()
    }
    if (!parsed.success) return reject()
    const manifest = parsed.data
    // Fail fast, before copying hundreds of MB; checked again right before the rename.
    await this.assertIdFree(manifest.id, path.join(this.userDir, manifest.id))
    const files = listedFiles(manifest)
    if (files.length > this.limits.maxEntries) {
      throw new AppError(
        'invalid_input',
        `${source}: the manifest lists more than ${this.limits.maxEntries} files`,
      )
    }
    return manifest
  }

  private async stageFolder(source: string, staging: string): Promise<PackManifest> {
    const manifestFile = path.join(source, 'manifest.json')
    await assertNotLink(manifestFile, 'manifest.json')
    const bytes = await readSmallFile(manifestFile, MAX_MANIFEST_BYTES)
    const manifest = await this.acceptManifest(bytes, staging, source)

    const present: string[] = []
    let total = 0
    for (const name of listedFiles(manifest)) {
      const stat = await fs.lstat(path.join(source, name)).catch(() => null)
      // A missing file is left to loadPack, which reports it like a scan does.
      if (!stat) continue
      if (stat.isSymbolicLink()) throw new AppError('invalid_input', `${source}: ${name} is a symbolic link`)
      if (!stat.isFile()) throw new AppError('invalid_input', `${source}: ${name} is not a file`)
      total += stat.size
      present.push(name)
    }
    if (total > this.limits.maxBytes) {
      throw new AppError(
        'invalid_input',
        `${source}: ${total} bytes, more than the limit of ${this.limits.maxBytes}`,
      )
    }
    for (const name of present) await copyRegularFile(path.join(source, name), path.join(staging, name), name)
    this.logSkipped(source, manifest, await fs.readdir(source))
    return manifest
  }

  private async stageZip(source: string, size: number, staging: string): Promise<PackManifest> {
    const refuse = (why: string) => new AppError('invalid_input', `${source}: ${why}`)
    // The archive is read whole; its headers add a little to the content, hence the slack over maxBytes.
    const zipLimit = Math.min(MAX_ZIP_FILE_BYTES, this.limits.maxBytes + 16 * 1024 * 1024)
    if (size > zipLimit) throw refuse(`the zip has ${size} bytes, more than the limit of ${zipLimit}`)
    const zip = new ZipArchive(await fs.readFile(source), this.limits.maxEntries, refuse)
    // Sizes from the central directory, before anything is inflated; extraction enforces them per entry.
    if (zip.totalSize > this.limits.maxBytes) {
      throw refuse(`${zip.totalSize} bytes uncompressed, more than the limit of ${this.limits.maxBytes}`)
    }

    const root = packRootInZip(
      zip.entries.map((e) => e.name),
      refuse,
    )
    const manifestEntry = zip.get(`${root}manifest.json`)
    let bytes: Uint8Array | null = null
    if (manifestEntry) {
      if (manifestEntry.size > MAX_MANIFEST_BYTES) throw refuse('manifest.json is too large')
      bytes = Buffer.concat([...zip.inflate(manifestEntry)])
    }
    const manifest = await this.acceptManifest(bytes, staging, source)
    for (const name of listedFiles(manifest)) {
      const entry = zip.get(`${root}${name}`)
      // Missing: loadPack reports it. A folder entry by that name is as good as missing.
      if (!entry || entry.name.endsWith('/')) continue
      await writeNewFile(path.join(staging, name), zip.inflate(entry))
    }
    const inRoot = zip.entries
      .filter((e) => e.name.startsWith(root) && !e.name.endsWith('/'))
      .map((e) => e.name.slice(root.length))
    this.logSkipped(source, manifest, inRoot)
    return manifest
  }

  private logSkipped(source: string, manifest: PackManifest, names: string[]): void {
    const wanted = new Set(['manifest.json', ...listedFiles(manifest)])
    const skipped = names.filter((n) => !wanted.has(n))
    if (skipped.length) {
      this.logger(
        'info',
        `import of ${source}: not copied, not listed in the manifest: ${skipped.join(', ')}`,
      )
    }
  }
}

/** The pack sits at the root of the zip or inside one top-level folder: '' or 'folder/'. */
function packRootInZip(names: string[], refuse: Refuse): string {
  if (names.includes('manifest.json')) return ''
  const nested = names.filter((n) => /^[^/]+\/manifest\.json$/.test(n))
  const [only] = nested
  if (nested.length === 1 && only) return only.slice(0, -'manifest.json'.length)
  if (nested.length > 1) {
    throw refuse(
      `holds several packs (${nested.map((n) => n.split('/')[0]).join(', ')}); import them one by one`,
    )
  }
  throw refuse('no manifest.json at the root of the zip or in one top-level folder')
}

function idTaken(id: string, where: string): AppError {
  return new AppError('invalid_input', `a model pack with id '${id}' already exists (${where})`)
}

/** The files a manifest lists, except itself: the manifest cannot hold its own hash. */
function listedFiles(manifest: PackManifest): string[] {
  return Object.keys(manifest.files).filter((n) => n !== 'manifest.json')
}
