/**
 * The model packs the app knows: the built-in ones shipped with it and the ones the user imported into their
 * data folder. Every immediate subfolder of those folders is a candidate; each is validated with loadPack and
 * listed as ready or broken, so one bad pack never hides the others. Importing (packImport.ts), the per-folder
 * verdict cache (packCache.ts) and watching the user folder (userDirWatcher.ts) live in their own modules; this
 * one owns the list and keeps scans in order.
 */
import type { Dirent } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../../common/result.ts'
import type { PackManifest } from './manifest.ts'
import { PackLoadCache } from './packCache.ts'
import { DEFAULT_IMPORT_LIMITS, IMPORT_PREFIX, type ImportLimits, PackImporter } from './packImport.ts'
import type { PackEntry, PackSource, RegistryLog, RegistryLogLevel } from './registryTypes.ts'
import { signatureOf, UserDirWatcher } from './userDirWatcher.ts'

// Re-exported so that callers keep importing everything about packs from the registry.
export { DEFAULT_IMPORT_LIMITS, IMPORT_PREFIX, type ImportLimits } from './packImport.ts'
export type { PackEntry, PackSource, PackStatus, RegistryLogLevel } from './registryTypes.ts'

export interface PackRegistryOptions {
  builtInDirs: string[]
  userDir: string
  log?: (level: RegistryLogLevel, message: string) => void
  limits?: Partial<ImportLimits>
}

export class PackRegistry {
  private readonly builtInDirs: string[]
  private readonly userDir: string
  private readonly logger: RegistryLog
  private entries: PackEntry[] = []
  private readonly cache: PackLoadCache
  private readonly importer: PackImporter
  private queue: Promise<unknown> = Promise.resolve()
  private watcher: UserDirWatcher | null = null

  constructor(options: PackRegistryOptions) {
    this.builtInDirs = options.builtInDirs.map((d) => path.resolve(d))
    this.userDir = path.resolve(options.userDir)
    this.logger = options.log ?? (() => {})
    this.cache = new PackLoadCache(this.logger)
    this.importer = new PackImporter({
      userDir: this.userDir,
      limits: { ...DEFAULT_IMPORT_LIMITS, ...options.limits },
      log: this.logger,
      cache: this.cache,
      scan: () => this.scan(),
    })
  }

  /** Validates every pack folder again (unchanged folders come from the cache) and returns the new list. */
  scan(): Promise<PackEntry[]> {
    // One scan at a time: a slow early scan must not overwrite the result of a later one.
    const run = this.queue.then(() => this.scanNow())
    this.queue = run.catch(() => undefined)
    return run
  }

  /** The list of the last scan (empty before the first). */
  list(): PackEntry[] {
    return [...this.entries]
  }

  get(id: string): PackEntry {
    const matches = this.entries.filter((e) => e.id === id)
    // Duplicates are listed too; the one that is used is the ready one.
    const entry = matches.find((e) => e.status === 'ready') ?? matches[0]
    if (!entry) {
      const available = this.entries.filter((e) => e.status === 'ready').map((e) => e.id)
      throw new AppError(
        'not_found',
        `no model pack '${id}'; available: ${available.length ? available.join(', ') : 'none'}`,
      )
    }
    return entry
  }

  ready(id: string): { dir: string; manifest: PackManifest } {
    const entry = this.get(id)
    if (entry.status !== 'ready' || !entry.manifest) {
      throw new AppError(
        'unavailable',
        `model pack '${id}' (${entry.dir}) cannot be used: ${entry.problems.join('; ')}`,
      )
    }
    return { dir: entry.dir, manifest: entry.manifest }
  }

  /**
   * Calls onChange with a fresh scan whenever something changes in the user folder (packs added, removed or
   * rewritten), but only when the list really differs. Returns a function that removes this listener.
   */
  watch(onChange: (entries: PackEntry[]) => void): () => void {
    if (!this.watcher) {
      // Listeners hear about changes from the list as it is now, not about the list they already have.
      this.watcher = new UserDirWatcher(
        this.userDir,
        signatureOf(this.entries),
        () => this.rescanForWatchers(),
        this.logger,
      )
    }
    const watcher = this.watcher
    watcher.listeners.add(onChange)
    return () => watcher.listeners.delete(onChange)
  }

  /** Stops watching. Scans and imports still work afterwards. */
  close(): void {
    this.watcher?.close()
    this.watcher = null
  }

  /**
   * Imports a pack folder or a .zip of one into the user folder and returns its entry. Only the manifest and
   * the files it lists are copied, and the copy is validated (schema and every sha256) before it is renamed
   * into place; on any failure nothing is left behind.
   */
  async importPack(source: string): Promise<PackEntry> {
    const target = await this.importer.importPack(source)
    const entries = await this.scan()
    const entry = entries.find((e) => e.dir === target)
    if (!entry) throw new AppError('internal', `the imported pack vanished from ${target}`)
    return entry
  }

  private async scanNow(): Promise<PackEntry[]> {
    const builtIn: PackEntry[] = []
    for (const root of this.builtInDirs) {
      for (const dir of await this.packFolders(root, false)) builtIn.push(await this.inspect(dir, 'built-in'))
    }
    const user: PackEntry[] = []
    for (const dir of await this.packFolders(this.userDir, true)) user.push(await this.inspect(dir, 'user'))

    const owners = new Map<string, PackEntry>()
    const claim = (entry: PackEntry) => {
      if (entry.status !== 'ready') return
      const owner = owners.get(entry.id)
      if (!owner) {
        owners.set(entry.id, entry)
        return
      }
      entry.status = 'broken'
      entry.problems = [
        `the ${owner.source} pack in ${owner.dir} has the same id '${entry.id}'; this one is not used`,
      ]
    }
    for (const entry of builtIn) claim(entry)
    // Among user packs, the folder named after its id (where importPack puts it) wins over a copy elsewhere.
    const named = (e: PackEntry) => (path.basename(e.dir) === e.id ? 0 : 1)
    for (const entry of [...user].sort((a, b) => named(a) - named(b))) claim(entry)

    const all = [...builtIn, ...user]
    this.cache.retainOnly(new Set(all.map((e) => e.dir)))
    this.entries = all
    return this.list()
  }

  private async rescanForWatchers(): Promise<{ entries: PackEntry[]; packDirs: string[] }> {
    const entries = await this.scan()
    return { entries, packDirs: entries.filter((e) => e.source === 'user').map((e) => e.dir) }
  }

  /** The pack candidates in one root folder, sorted by name; in the user folder, crashed imports go away. */
  private async packFolders(root: string, isUserDir: boolean): Promise<string[]> {
    let dirents: Dirent[]
    try {
      dirents = await fs.readdir(root, { withFileTypes: true })
    } catch (err) {
      // A user folder that was never created simply holds no packs.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !isUserDir) {
        this.logger('warn', `cannot read the pack folder ${root}: ${(err as Error).message}`)
      }
      return []
    }
    const dirs: string[] = []
    for (const dirent of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const full = path.join(root, dirent.name)
      if (dirent.name.startsWith('.')) {
        if (isUserDir && dirent.name.startsWith(IMPORT_PREFIX)) await this.importer.removeLeftover(full)
        // Hidden folders are never packs (ids start with a letter or digit): .git, .DS_Store and the like.
        continue
      }
      // A symlinked folder is accepted here (handy while developing a pack); imports never create one.
      const isDir =
        dirent.isDirectory() ||
        (dirent.isSymbolicLink() && (await fs.stat(full).catch(() => null))?.isDirectory())
      if (isDir) dirs.push(full)
    }
    return dirs
  }

  private async inspect(dir: string, source: PackSource): Promise<PackEntry> {
    const { loaded, manifestSha256 } = await this.cache.load(dir)
    if (loaded.ok) {
      return {
        id: loaded.manifest.id,
        dir,
        source,
        status: 'ready',
        manifest: loaded.manifest,
        problems: [],
        warnings: loaded.warnings,
        examples: loaded.examples,
        tokenizer: loaded.tokenizer,
        manifestSha256,
      }
    }
    return {
      id: path.basename(dir),
      dir,
      source,
      status: 'broken',
      manifest: null,
      problems: [...loaded.problems],
      warnings: [],
      examples: null,
      tokenizer: null,
      manifestSha256,
    }
  }
}
