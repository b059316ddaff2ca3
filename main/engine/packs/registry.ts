/**
 * The model packs the app knows: the built-in ones shipped with it and the ones the user imported into their
 * data folder. Every immediate subfolder of those folders is a candidate; each is validated with loadPack and
 * listed as ready or broken, so one bad pack never hides the others. Imports are staged in a hidden folder
 * inside the user folder and renamed into place only after they validated, so a pack is either fully there or
 * not there at all.
 */
import { createHash, randomBytes } from 'node:crypto'
import fsSync, { type Dirent, type FSWatcher, type Stats } from 'node:fs'
import fs, { type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Inflate } from 'fflate'
import { AppError } from '../../../common/result.ts'
import { type LoadedPack, loadPack } from './loadPack.ts'
import { type PackManifest, PackManifestSchema } from './manifest.ts'

/** Debug detail is not logged: a scan that re-hashes a pack says so at info level, once per change. */
export type RegistryLogLevel = 'info' | 'warn' | 'error'

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
  /** sha256 of manifest.json as it is on disk (null when it cannot be read): identifies the exact pack. */
  manifestSha256: string | null
}

export interface ImportLimits {
  /** Total uncompressed bytes of an imported pack. */
  maxBytes: number
  /** Entries of a zip (folders included), or files listed by a pack folder's manifest. */
  maxEntries: number
}

export interface PackRegistryOptions {
  builtInDirs: string[]
  userDir: string
  log?: (level: RegistryLogLevel, message: string) => void
  limits?: Partial<ImportLimits>
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 2 * 1024 ** 3, maxEntries: 10_000 }

export const IMPORT_PREFIX = '.import-'

const WATCH_DEBOUNCE_MS = 300
/** How often a watcher whose user folder is missing looks for it again. */
const WATCH_RETRY_MS = 1000
/** A manifest is JSON of a few KB; anything near this is not a pack. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024
/** fs.readFile cannot read more than this into one buffer. */
const MAX_ZIP_FILE_BYTES = 2 ** 31 - 1
/** Compressed bytes pushed into the inflater at a time: bounds the work done before the size check runs. */
const INFLATE_CHUNK = 64 * 1024
/** An `.import-*` folder of another live process is left alone for this long, then treated as abandoned. */
const FOREIGN_IMPORT_GRACE_MS = 24 * 60 * 60 * 1000

interface CachedLoad {
  fingerprint: string
  loaded: LoadedPack
  manifestSha256: string | null
}

export class PackRegistry {
  private readonly builtInDirs: string[]
  private readonly userDir: string
  private readonly limits: ImportLimits
  private readonly logger: (level: RegistryLogLevel, message: string) => void
  private entries: PackEntry[] = []
  /** loadPack results per folder, valid while the folder's files keep their size, times and inode. */
  private readonly cache = new Map<string, CachedLoad>()
  private queue: Promise<unknown> = Promise.resolve()
  /** Staging folders of imports running in this process: a scan must not clean them up under their feet. */
  private readonly staging = new Set<string>()
  private watcher: UserDirWatcher | null = null

  constructor(options: PackRegistryOptions) {
    this.builtInDirs = options.builtInDirs.map((d) => path.resolve(d))
    this.userDir = path.resolve(options.userDir)
    this.limits = { ...DEFAULT_IMPORT_LIMITS, ...options.limits }
    this.logger = options.log ?? (() => {})
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
      this.cache.set(target, {
        fingerprint,
        loaded: { ...loaded, dir: target },
        manifestSha256: await sha256OrNull(path.join(target, 'manifest.json')),
      })
      this.logger('info', `imported model pack '${manifest.id}' from ${source}`)
    } finally {
      this.staging.delete(staging)
      await fs.rm(staging, { recursive: true, force: true }).catch((err: Error) => {
        this.logger('warn', `could not remove ${staging}: ${err.message}`)
      })
    }
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
    const seen = new Set(all.map((e) => e.dir))
    for (const dir of this.cache.keys()) if (!seen.has(dir)) this.cache.delete(dir)
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
        if (isUserDir && dirent.name.startsWith(IMPORT_PREFIX)) await this.removeLeftover(full)
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

  private async removeLeftover(dir: string): Promise<void> {
    if (this.staging.has(dir)) return
    const pid = Number(/^\.import-(\d+)-/.exec(path.basename(dir))?.[1])
    if (pid && pid !== process.pid && processAlive(pid)) {
      // Another app process (a CLI run, a second window) may be importing right now: leave its folder until
      // it is so old that the process must be an unrelated one that reused the pid.
      const stat = await fs.stat(dir).catch(() => null)
      if (stat && Date.now() - stat.mtimeMs < FOREIGN_IMPORT_GRACE_MS) return
    }
    try {
      await fs.rm(dir, { recursive: true, force: true })
      this.logger('info', `removed ${dir}, left by an interrupted import`)
    } catch (err) {
      this.logger('warn', `could not remove ${dir}, left by an interrupted import: ${(err as Error).message}`)
    }
  }

  private async inspect(dir: string, source: PackSource): Promise<PackEntry> {
    const { loaded, manifestSha256 } = await this.loadCached(dir)
    if (loaded.ok) {
      return {
        id: loaded.manifest.id,
        dir,
        source,
        status: 'ready',
        manifest: loaded.manifest,
        problems: [],
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
      manifestSha256,
    }
  }

  private async loadCached(dir: string): Promise<CachedLoad> {
    let fingerprint: string
    try {
      fingerprint = await fingerprintFolder(dir)
    } catch (err) {
      const problems = [`cannot read the folder: ${(err as Error).message}`]
      return { fingerprint: '', loaded: { ok: false, dir, problems }, manifestSha256: null }
    }
    const hit = this.cache.get(dir)
    if (hit && hit.fingerprint === fingerprint) return hit
    const started = Date.now()
    let loaded: LoadedPack
    try {
      loaded = await loadPack(dir)
    } catch (err) {
      loaded = { ok: false, dir, problems: [`cannot be read: ${(err as Error).message}`] }
    }
    const result = {
      fingerprint,
      loaded,
      manifestSha256: await sha256OrNull(path.join(dir, 'manifest.json')),
    }
    this.cache.set(dir, result)
    this.logger(
      'info',
      `checked the pack in ${dir} (${Date.now() - started} ms): ${loaded.ok ? 'ready' : 'broken'}`,
    )
    return result
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
    let parsed: ReturnType<typeof PackManifestSchema.safeParse>
    try {
      parsed = PackManifestSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)))
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
    const data = await fs.readFile(source)
    const entries = readZipDirectory(data, this.limits.maxEntries, refuse)

    const byName = new Map<string, ZipEntry>()
    let total = 0
    for (const entry of entries) {
      const bad = unsafeEntryName(entry.name)
      if (bad) throw refuse(`entry '${entry.name}' ${bad}; the archive is refused`)
      if (entry.isSymlink) throw refuse(`entry '${entry.name}' is a symbolic link; the archive is refused`)
      if (entry.encrypted) throw refuse(`entry '${entry.name}' is encrypted`)
      // Two entries with one name: tools disagree on which one wins, so the content is ambiguous.
      if (byName.has(entry.name)) throw refuse(`entry '${entry.name}' appears twice`)
      byName.set(entry.name, entry)
      total += entry.size
    }
    // Sizes from the central directory, before anything is inflated; extraction enforces them per entry.
    if (total > this.limits.maxBytes) {
      throw refuse(`${total} bytes uncompressed, more than the limit of ${this.limits.maxBytes}`)
    }

    const root = packRootInZip(
      entries.map((e) => e.name),
      refuse,
    )
    const manifestEntry = byName.get(`${root}manifest.json`)
    let bytes: Uint8Array | null = null
    if (manifestEntry) {
      if (manifestEntry.size > MAX_MANIFEST_BYTES) throw refuse('manifest.json is too large')
      bytes = Buffer.concat([...inflateEntryChunks(data, manifestEntry, refuse)])
    }
    const manifest = await this.acceptManifest(bytes, staging, source)
    for (const name of listedFiles(manifest)) {
      const entry = byName.get(`${root}${name}`)
      // Missing: loadPack reports it. A folder entry by that name is as good as missing.
      if (!entry || entry.name.endsWith('/')) continue
      await writeNewFile(path.join(staging, name), inflateEntryChunks(data, entry, refuse))
    }
    const inRoot = entries
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

function signatureOf(entries: PackEntry[]): string {
  return JSON.stringify(entries.map((e) => [e.id, e.dir, e.source, e.status, e.problems, e.manifestSha256]))
}

function idTaken(id: string, where: string): AppError {
  return new AppError('invalid_input', `a model pack with id '${id}' already exists (${where})`)
}

/** The files a manifest lists, except itself: the manifest cannot hold its own hash. */
function listedFiles(manifest: PackManifest): string[] {
  return Object.keys(manifest.files).filter((n) => n !== 'manifest.json')
}

/**
 * Identifies the contents of a pack folder without reading them: name, size, modification and change time
 * and inode of every file. The change time cannot be set back by tools that restore modification times.
 */
async function fingerprintFolder(dir: string): Promise<string> {
  const names = (await fs.readdir(dir)).sort()
  const parts: string[] = []
  for (const name of names) {
    const stat = await fs.stat(path.join(dir, name), { bigint: true }).catch(() => null)
    if (!stat?.isFile()) continue
    parts.push(`${name}\0${stat.size}\0${stat.mtimeNs}\0${stat.ctimeNs}\0${stat.ino}`)
  }
  return parts.join('\n')
}

async function sha256OrNull(file: string): Promise<string | null> {
  try {
    return createHash('sha256')
      .update(await fs.readFile(file))
      .digest('hex')
  } catch {
    return null
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function syncDir(dir: string): Promise<void> {
  // Directories cannot be opened for fsync on Windows; the rename is already durable enough there.
  if (process.platform === 'win32') return
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function assertNotLink(file: string, name: string): Promise<void> {
  const stat = await fs.lstat(file).catch(() => null)
  if (stat?.isSymbolicLink())
    throw new AppError('invalid_input', `${path.dirname(file)}: ${name} is a symbolic link`)
}

async function readSmallFile(file: string, limit: number): Promise<Uint8Array | null> {
  const stat = await fs.stat(file).catch(() => null)
  if (!stat?.isFile()) return null
  if (stat.size > limit) throw new AppError('invalid_input', `${file} is too large for a manifest`)
  return fs.readFile(file)
}

/** Copies one file, refusing a symlink even if one is swapped in after the check (O_NOFOLLOW where it exists). */
async function copyRegularFile(src: string, dst: string, name: string): Promise<void> {
  let input: FileHandle
  try {
    input = await fs.open(src, fsSync.constants.O_RDONLY | (fsSync.constants.O_NOFOLLOW ?? 0))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new AppError('invalid_input', `${path.dirname(src)}: ${name} is a symbolic link`)
    }
    throw err
  }
  try {
    if (!(await input.stat()).isFile())
      throw new AppError('invalid_input', `${path.dirname(src)}: ${name} is not a file`)
    // autoClose off: the handle is closed below, once, whatever happens.
    await writeNewFile(dst, input.createReadStream({ autoClose: false }))
  } finally {
    await input.close()
  }
}

/** Writes a file that must not exist yet and syncs it, so the rename that publishes it follows durable data. */
async function writeNewFile(
  file: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const handle = await fs.open(file, 'wx', 0o644)
  try {
    for await (const chunk of chunks) {
      let offset = 0
      while (offset < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset)
        offset += bytesWritten
      }
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

// ---- zip reading -------------------------------------------------------------------------------------------
// The central directory is read here because fflate's unzip does not expose the entries' attributes (needed to
// refuse symlinks) nor their encryption flag; fflate does the inflating, in chunks, so an entry that inflates
// to more than its declared size is stopped early instead of after the whole bomb went through.

interface ZipEntry {
  name: string
  method: number
  compressedSize: number
  size: number
  localOffset: number
  encrypted: boolean
  isSymlink: boolean
}

type Refuse = (why: string) => AppError

function readZipDirectory(data: Uint8Array, maxEntries: number, refuse: Refuse): ZipEntry[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const u16 = (at: number) => view.getUint16(at, true)
  const u32 = (at: number) => view.getUint32(at, true)
  const u64 = (at: number) => {
    const value = view.getBigUint64(at, true)
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw refuse('not a valid zip (a 64-bit field is out of range)')
    return Number(value)
  }
  try {
    // The end record is the last 22 bytes, or further back when the archive has a comment (at most 65,535).
    let end = -1
    for (let at = data.length - 22; at >= 0 && at >= data.length - 22 - 0xffff; at--) {
      if (u32(at) === 0x06054b50) {
        end = at
        break
      }
    }
    if (end < 0) throw refuse('not a zip archive (no end of central directory)')
    let count = u16(end + 10)
    let offset = u32(end + 16)
    if (end >= 20 && u32(end - 20) === 0x07064b50) {
      const end64 = u64(end - 12)
      if (u32(end64) !== 0x06064b50) throw refuse('not a valid zip (damaged zip64 end record)')
      count = u64(end64 + 32)
      offset = u64(end64 + 48)
    } else if (u16(end + 4) !== 0 || u16(end + 6) !== 0) {
      throw refuse('multi-part zip archives are not supported')
    }
    if (count > maxEntries) throw refuse(`${count} entries, more than the limit of ${maxEntries}`)

    const entries: ZipEntry[] = []
    for (let i = 0; i < count; i++) {
      if (u32(offset) !== 0x02014b50)
        throw refuse(`not a valid zip (central directory entry ${i} is damaged)`)
      const flags = u16(offset + 8)
      let compressedSize = u32(offset + 20)
      let size = u32(offset + 24)
      const nameLength = u16(offset + 28)
      const extraLength = u16(offset + 30)
      const commentLength = u16(offset + 32)
      const external = u32(offset + 38)
      let localOffset = u32(offset + 42)
      const nameStart = offset + 46
      if (nameStart + nameLength + extraLength > data.length) throw refuse('not a valid zip (truncated)')
      // Bit 11: UTF-8 names; otherwise CP437, whose ASCII half (all a pack needs) latin1 decodes the same.
      const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(
        data.subarray(nameStart, nameStart + nameLength),
      )
      // Zip64: the 32-bit fields that are all ones are in the 0x0001 extra field, in this order.
      for (let at = nameStart + nameLength; at + 4 <= nameStart + nameLength + extraLength; ) {
        const id = u16(at)
        const length = u16(at + 2)
        if (id === 0x0001) {
          let field = at + 4
          if (size === 0xffffffff) {
            size = u64(field)
            field += 8
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = u64(field)
            field += 8
          }
          if (localOffset === 0xffffffff) localOffset = u64(field)
        }
        at += 4 + length
      }
      entries.push({
        name,
        method: u16(offset + 10),
        compressedSize,
        size,
        localOffset,
        encrypted: (flags & 1) === 1,
        // Unix mode in the high 16 bits (archives made on Unix or macOS): S_IFLNK.
        isSymlink: ((external >>> 16) & 0o170000) === 0o120000,
      })
      offset = nameStart + nameLength + extraLength + commentLength
    }
    return entries
  } catch (err) {
    if (err instanceof RangeError) throw refuse('not a valid zip (truncated)')
    throw err
  }
}

/** Why an entry name is refused (zip slip and friends), or null when it is a plain relative path. */
function unsafeEntryName(name: string): string | null {
  if (name.length === 0) return 'has an empty name'
  if (name.includes('\0')) return 'has a NUL byte in its name'
  if (name.includes('\\')) return 'has a backslash in its name'
  if (name.startsWith('/')) return 'is an absolute path'
  // A colon is a drive letter (C:) or an NTFS alternate stream (file:stream) on Windows.
  if (name.includes(':')) return 'has a drive letter or colon in its name'
  const parts = name.replace(/\/$/, '').split('/')
  if (parts.some((p) => p === '..')) return 'leaves the folder (..)'
  if (parts.some((p) => p === '.' || p === '')) return 'has an empty or . path segment'
  return null
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

function entryData(data: Uint8Array, entry: ZipEntry, refuse: Refuse): Uint8Array {
  const at = entry.localOffset
  if (
    at + 30 > data.length ||
    data[at] !== 0x50 ||
    data[at + 1] !== 0x4b ||
    data[at + 2] !== 3 ||
    data[at + 3] !== 4
  ) {
    throw refuse(`entry '${entry.name}': damaged local header`)
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true)
  if (start + entry.compressedSize > data.length) throw refuse(`entry '${entry.name}' is truncated`)
  return data.subarray(start, start + entry.compressedSize)
}

/** The entry's bytes, chunk by chunk; stops as soon as they exceed the size the central directory declared. */
function* inflateEntryChunks(data: Uint8Array, entry: ZipEntry, refuse: Refuse): Generator<Uint8Array> {
  const raw = entryData(data, entry, refuse)
  const wrongSize = () =>
    refuse(`entry '${entry.name}' does not have the ${entry.size} bytes the zip declares`)
  if (entry.method === 0) {
    if (raw.length !== entry.size) throw wrongSize()
    yield raw
    return
  }
  if (entry.method !== 8) throw refuse(`entry '${entry.name}' uses compression method ${entry.method}`)
  let produced = 0
  let pending: Uint8Array[] = []
  const inflater = new Inflate((chunk) => {
    produced += chunk.length
    pending.push(chunk)
  })
  for (let at = 0; at < raw.length || at === 0; at += INFLATE_CHUNK) {
    try {
      inflater.push(raw.subarray(at, at + INFLATE_CHUNK), at + INFLATE_CHUNK >= raw.length)
    } catch (err) {
      throw refuse(`entry '${entry.name}' cannot be inflated (${(err as Error).message})`)
    }
    if (produced > entry.size) throw wrongSize()
    yield* pending
    pending = []
  }
  if (produced !== entry.size) throw wrongSize()
}

// ---- watching ----------------------------------------------------------------------------------------------

/**
 * Watches the user folder and each pack folder in it (one level is enough: packs are flat), because a pack
 * copied in by a file manager first appears as an empty folder whose files arrive later. Survives the folder
 * not existing yet, or being deleted and created again, by looking for it every second while it is missing.
 */
class UserDirWatcher {
  readonly listeners = new Set<(entries: PackEntry[]) => void>()
  private root: FSWatcher | null = null
  private rootIno: number | null = null
  private readonly packWatchers = new Map<string, FSWatcher>()
  private debounce: NodeJS.Timeout | null = null
  private retry: NodeJS.Timeout | null = null
  private running = false
  private again = false
  private closed = false

  constructor(
    private readonly dir: string,
    private lastSignature: string,
    private readonly rescan: () => Promise<{ entries: PackEntry[]; packDirs: string[] }>,
    private readonly log: (level: RegistryLogLevel, message: string) => void,
  ) {
    this.arm()
  }

  close(): void {
    this.closed = true
    if (this.debounce) clearTimeout(this.debounce)
    if (this.retry) clearTimeout(this.retry)
    this.root?.close()
    for (const w of this.packWatchers.values()) w.close()
    this.packWatchers.clear()
    this.listeners.clear()
  }

  private arm(): void {
    if (this.closed) return
    try {
      this.rootIno = fsSync.statSync(this.dir).ino
      this.root = fsSync.watch(this.dir, (_event, name) => {
        // Staging folders of imports change a lot; only their final rename (to the pack's id) matters.
        if (typeof name === 'string' && name.startsWith(IMPORT_PREFIX)) return
        this.schedule()
      })
      this.root.on('error', () => this.disarm())
      this.root.unref()
      // Whatever happened while nobody watched: the folder may have appeared with packs in it.
      this.schedule()
    } catch {
      this.root = null
      this.retry = setTimeout(() => {
        this.retry = null
        this.arm()
      }, WATCH_RETRY_MS)
      this.retry.unref()
    }
  }

  /** The user folder went away (or was replaced): drop every watcher and wait for it to come back. */
  private disarm(): void {
    this.root?.close()
    this.root = null
    for (const w of this.packWatchers.values()) w.close()
    this.packWatchers.clear()
    this.schedule()
    if (!this.retry) this.arm()
  }

  private schedule(): void {
    if (this.closed) return
    if (this.debounce) clearTimeout(this.debounce)
    this.debounce = setTimeout(() => {
      this.debounce = null
      void this.run()
    }, WATCH_DEBOUNCE_MS)
    this.debounce.unref()
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    try {
      const ino = fsSync.existsSync(this.dir) ? fsSync.statSync(this.dir).ino : null
      if (this.root && ino !== this.rootIno) this.disarm()
      const { entries, packDirs } = await this.rescan()
      if (this.closed) return
      if (this.root) this.syncPackWatchers(packDirs)
      const signature = signatureOf(entries)
      if (signature !== this.lastSignature) {
        this.lastSignature = signature
        for (const listener of this.listeners) {
          try {
            listener(entries)
          } catch (err) {
            this.log('error', `a pack list listener failed: ${(err as Error).message}`)
          }
        }
      }
    } catch (err) {
      this.log('error', `re-scanning the model packs failed: ${(err as Error).message}`)
    } finally {
      this.running = false
      if (this.again) {
        this.again = false
        this.schedule()
      }
    }
  }

  private syncPackWatchers(dirs: string[]): void {
    const wanted = new Set(dirs)
    for (const [dir, watcher] of this.packWatchers) {
      if (!wanted.has(dir)) {
        watcher.close()
        this.packWatchers.delete(dir)
      }
    }
    for (const dir of wanted) {
      if (this.packWatchers.has(dir)) continue
      try {
        const watcher = fsSync.watch(dir, () => this.schedule())
        watcher.on('error', () => {
          watcher.close()
          this.packWatchers.delete(dir)
          this.schedule()
        })
        watcher.unref()
        this.packWatchers.set(dir, watcher)
      } catch {
        // Gone between the scan and now: the root watcher reports that as well.
      }
    }
  }
}
