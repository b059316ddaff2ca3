/**
 * One open gallery folder: its index, its marks and the scans that keep the index equal to the files.
 *
 * Opening sets a damaged index aside (index.sqlite.damaged-<time>) and starts a fresh one, brings the marks
 * in line (marks.json wins; without it the index's marks are written out), empties old trash, and scans the
 * folder: new and changed PNGs are read and indexed, rows whose file is gone are pruned. Writes always go file
 * first, row second, so a crash in between leaves a file without a row, which the next scan indexes.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { GalleryChange, GalleryItem } from '../../common/gallery.ts'
import { AppError } from '../../common/result.ts'
import {
  type FileEntry,
  type FileState,
  fileOfId,
  fileState,
  type GalleryPaths,
  galleryPaths,
  listGalleryFiles,
  removeStaleTemps,
  type SaveName,
  savePng,
} from './galleryFiles.ts'
import { GalleryIndex, IndexDamagedError, type IndexRow, isDamage, type Mark } from './galleryIndex.ts'
import { isMarked, loadMarks, saveMarks } from './marks.ts'
import { readPngFacts } from './pngInfo.ts'
import { pruneThumbnails, thumbName } from './thumbnails.ts'
import { TRASH_KEEP_MS, type TrashStrategy } from './trash.ts'

export type GalleryLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void

export interface StoreOptions {
  log: GalleryLog
  trash: TrashStrategy
  /** Set the index aside and start a new one even if it opens (it was found damaged while in use). */
  resetIndex?: boolean
}

/** Files read at once during a scan: enough to hide latency, few enough to bound memory and open files. */
const READ_CONCURRENCY = 8

const NO_MARK: Mark = { favorite: false, rating: 0 }

export function emptyChange(): GalleryChange {
  return { added: [], removed: [], updated: [] }
}

export function isEmptyChange(change: GalleryChange): boolean {
  return change.added.length + change.removed.length + change.updated.length === 0
}

/** The image was written but its row was not: the index needs a scan (or a rebuild) before it is trusted. */
export class IndexWriteError extends Error {
  override readonly name = 'IndexWriteError'
  constructor(
    readonly id: string,
    cause: unknown,
  ) {
    super(`${id} was saved, but the gallery index could not be updated: ${(cause as Error).message}`, {
      cause,
    })
  }
}

export class GalleryStore {
  readonly paths: GalleryPaths
  /** Files that are not readable PNGs, with the size:mtime they had, so an unchanged one is not read again. */
  private readonly unreadable = new Map<string, string>()

  private constructor(
    root: string,
    private index: GalleryIndex,
    private marks: Map<string, Mark>,
    private readonly options: StoreOptions,
  ) {
    this.paths = galleryPaths(root)
  }

  static async open(
    root: string,
    options: StoreOptions,
  ): Promise<{ store: GalleryStore; change: GalleryChange }> {
    const paths = galleryPaths(root)
    await fs.mkdir(paths.thumbs, { recursive: true })
    const index = await openIndex(paths, options.log, options.resetIndex ?? false)
    let store: GalleryStore
    try {
      const marks = await loadOrDeriveMarks(paths, index, options.log)
      store = new GalleryStore(paths.root, index, marks, options)
    } catch (err) {
      index.close()
      throw err
    }
    try {
      await options.trash.sweep?.(paths.root, TRASH_KEEP_MS)
    } catch (err) {
      options.log('warn', `could not empty old entries of the gallery trash: ${(err as Error).message}`)
    }
    try {
      const change = await store.scan('full')
      await pruneThumbnails(paths.thumbs, store.thumbNames())
      return { store, change }
    } catch (err) {
      store.close()
      throw err
    }
  }

  close(): void {
    this.index.close()
  }

  /**
   * Brings the index in line with the files. 'full' compares every file's size and mtime (at open); 'quick'
   * compares names only (cheap enough to run when the gallery is listed). Answers what changed.
   */
  async scan(mode: 'full' | 'quick'): Promise<GalleryChange> {
    const listing = await listGalleryFiles(this.paths.root)
    if (mode === 'full') await removeStaleTemps(listing.temps)
    // A quick scan needs the ids only; their sizes and mtimes matter to a full one.
    const known: Map<string, { bytes: number; mtimeMs: number } | null> =
      mode === 'full' ? this.index.fileStates() : new Map([...this.index.ids()].map((id) => [id, null]))
    const onDisk = new Set(listing.files.map((f) => f.id))
    const removed = [...known.keys()].filter((id) => !onDisk.has(id))
    let candidates: FileEntry[]
    if (mode === 'quick') {
      candidates = listing.files.filter((f) => !known.has(f.id))
    } else {
      const states = await mapLimit(listing.files, fileState)
      candidates = states.filter((s): s is FileState => {
        if (s === null) return false
        const before = known.get(s.id)
        return !before || before.bytes !== s.bytes || before.mtimeMs !== s.mtimeMs
      })
    }
    const read = await this.readRows(candidates)
    // A known file that changed into something unreadable is no longer an image we can show.
    const unreadableKnown = read.failed.filter((id) => known.has(id))
    this.index.write({ upsert: read.rows, remove: [...removed, ...unreadableKnown] })
    return {
      added: read.rows.filter((r) => !known.has(r.id)).map((r) => r.id),
      removed: [...removed, ...unreadableKnown],
      updated: read.rows.filter((r) => known.has(r.id)).map((r) => r.id),
    }
  }

  /** Recreates the index from the files (a damaged database file is replaced by a new one). */
  async rebuild(): Promise<{ change: GalleryChange; indexed: number }> {
    const before = this.index.fileStates()
    this.unreadable.clear()
    const listing = await listGalleryFiles(this.paths.root)
    await removeStaleTemps(listing.temps)
    const { rows } = await this.readRows(listing.files)
    try {
      this.index.replaceAll(rows)
    } catch (err) {
      if (!isDamage(err)) throw err
      this.options.log('warn', `the gallery index ${this.paths.db} is damaged (${(err as Error).message})`)
      this.index.close()
      this.index = await openIndex(this.paths, this.options.log, true)
      this.index.replaceAll(rows)
    }
    await pruneThumbnails(this.paths.thumbs, this.thumbNames())
    const now = new Set(rows.map((r) => r.id))
    return {
      indexed: rows.length,
      change: {
        added: rows.filter((r) => !before.has(r.id)).map((r) => r.id),
        removed: [...before.keys()].filter((id) => !now.has(id)),
        updated: rows
          .filter((r) => {
            const old = before.get(r.id)
            return old !== undefined && (old.bytes !== r.bytes || old.mtimeMs !== r.mtimeMs)
          })
          .map((r) => r.id),
      },
    }
  }

  /**
   * Saves one generated PNG: checked first (nothing is written for bytes that are not a readable PNG), then
   * written whole under a free name, then indexed. Answers the item and the folder to sync.
   */
  async save(png: Uint8Array, name: SaveName): Promise<{ item: GalleryItem; folder: string }> {
    const facts = readPngFacts(png, 'the generated image')
    const { id, file } = await savePng(this.paths.root, name, png)
    const state = await fileState({ id, file })
    if (!state) throw new Error(`${file} vanished right after it was saved`)
    try {
      this.index.write({ upsert: [{ ...facts, ...stateColumns(state), ...this.markOf(id) }] })
    } catch (err) {
      throw new IndexWriteError(id, err)
    }
    return { item: this.index.get(id) as GalleryItem, folder: path.dirname(file) }
  }

  query(query: Parameters<GalleryIndex['query']>[0]) {
    return this.index.query(query)
  }

  /** Removes the rows of `items` whose file is gone; answers their ids. */
  async pruneMissing(ids: readonly string[]): Promise<string[]> {
    const present = await mapLimit(ids, async (id) => isRegularFile(fileOfId(this.paths.root, id)))
    const missing = ids.filter((_, i) => !present[i])
    this.index.write({ remove: missing })
    return missing
  }

  /**
   * One image, from the index, or read now when its file is there but not indexed yet (added by hand since
   * the last scan). A row whose file is gone is pruned. Answers null when there is no such image.
   */
  async get(id: string): Promise<{ item: GalleryItem | null; change: GalleryChange }> {
    const change = emptyChange()
    const file = fileOfId(this.paths.root, id)
    const present = await isRegularFile(file)
    const item = this.index.get(id)
    if (item && present) return { item, change }
    if (item) {
      this.index.write({ remove: [id] })
      change.removed.push(id)
      return { item: null, change }
    }
    if (!present) return { item: null, change }
    const { rows } = await this.readRows([{ id, file }])
    this.index.write({ upsert: rows })
    if (rows.length) change.added.push(id)
    return { item: this.index.get(id), change }
  }

  /** Sets marks: marks.json first (the copy that survives a rebuild), then the rows. */
  async mark(
    ids: readonly string[],
    favorite: boolean | undefined,
    rating: number | undefined,
  ): Promise<GalleryItem[]> {
    for (const id of ids) {
      if (!this.index.get(id)) throw new AppError('not_found', `ids: no image '${id}' in the gallery`)
    }
    const next = new Map(this.marks)
    for (const id of ids) {
      const old = next.get(id) ?? NO_MARK
      const mark = { favorite: favorite ?? old.favorite, rating: rating ?? old.rating }
      if (isMarked(mark)) next.set(id, mark)
      else next.delete(id)
    }
    try {
      await saveMarks(this.paths.marks, next)
    } catch (err) {
      throw new AppError(
        'unavailable',
        `could not save the marks to ${this.paths.marks}: ${(err as Error).message}`,
      )
    }
    this.marks = next
    this.index.transaction(() => {
      for (const id of ids) this.index.setMark(id, next.get(id) ?? NO_MARK)
    })
    return ids.map((id) => this.index.get(id) as GalleryItem)
  }

  /**
   * Moves images to the trash and drops their rows and marks (kept in the answer, for an undo). Stops at the
   * first file that cannot be moved: what was moved is answered, and `error` says why the rest was not.
   */
  async delete(
    ids: readonly string[],
    token: string,
  ): Promise<{ moved: { id: string; mark: Mark | null }[]; change: GalleryChange; error: string | null }> {
    const moved: { id: string; mark: Mark | null }[] = []
    const change = emptyChange()
    let error: string | null = null
    for (const id of new Set(ids)) {
      if (!this.index.get(id)) continue
      const file = fileOfId(this.paths.root, id)
      if (!(await isRegularFile(file))) {
        change.removed.push(id) // deleted outside the app already: just prune
        continue
      }
      try {
        await this.options.trash.trash(this.paths.root, token, id, file)
      } catch (err) {
        error = `could not move ${file} to the trash: ${(err as Error).message}`
        break
      }
      moved.push({ id, mark: this.marks.get(id) ?? null })
      change.removed.push(id)
    }
    this.index.write({ remove: change.removed })
    if (moved.some((m) => m.mark !== null)) {
      const next = new Map(this.marks)
      for (const { id } of moved) next.delete(id)
      this.marks = next
      await this.writeMarks()
    }
    return { moved, change, error }
  }

  /** Puts images of one delete back (under a fresh name if theirs is taken), with their marks, and indexes them. */
  async restore(
    token: string,
    entries: readonly { id: string; mark: Mark | null }[],
  ): Promise<{ items: GalleryItem[]; change: GalleryChange; missing: string[] }> {
    const restore = this.options.trash.restore
    if (!restore) {
      throw new AppError('unavailable', 'these images went to the system trash: restore them from there')
    }
    const placed: FileEntry[] = []
    const missing: string[] = []
    let marksChanged = false
    for (const entry of entries) {
      const id = await restore.call(this.options.trash, this.paths.root, token, entry.id)
      if (id === null) {
        missing.push(entry.id)
        continue
      }
      placed.push({ id, file: fileOfId(this.paths.root, id) })
      if (entry.mark) {
        this.marks.set(id, entry.mark)
        marksChanged = true
      }
    }
    const { rows } = await this.readRows(placed)
    this.index.write({ upsert: rows })
    if (marksChanged) await this.writeMarks()
    const items = rows.map((r) => this.index.get(r.id)).filter((i): i is GalleryItem => i !== null)
    return { items, change: { ...emptyChange(), added: items.map((i) => i.id) }, missing }
  }

  private markOf(id: string): Mark {
    return this.marks.get(id) ?? NO_MARK
  }

  /** A marks.json that fails to write leaves the index right; the next open derives the file again. */
  private async writeMarks(): Promise<void> {
    try {
      await saveMarks(this.paths.marks, this.marks)
    } catch (err) {
      this.options.log('warn', `could not save the marks to ${this.paths.marks}: ${(err as Error).message}`)
    }
  }

  private thumbNames(): Set<string> {
    return new Set([...this.index.fileStates()].map(([id, s]) => thumbName(id, s.mtimeMs)))
  }

  /** Reads files into rows; files that are not readable PNGs are logged once per version and skipped. */
  private async readRows(entries: readonly FileEntry[]): Promise<{ rows: IndexRow[]; failed: string[] }> {
    const failed: string[] = []
    const results = await mapLimit(entries, async (entry): Promise<IndexRow | null> => {
      const state = 'bytes' in entry ? (entry as FileState) : await fileState(entry)
      if (!state) return null
      const version = `${state.bytes}:${state.mtimeMs}`
      if (this.unreadable.get(entry.id) === version) {
        failed.push(entry.id)
        return null
      }
      try {
        const facts = readPngFacts(await fs.readFile(entry.file), entry.file)
        this.unreadable.delete(entry.id)
        return { ...facts, ...stateColumns(state), ...this.markOf(entry.id) }
      } catch (err) {
        this.unreadable.set(entry.id, version)
        failed.push(entry.id)
        this.options.log('warn', `gallery: skipped ${(err as Error).message}`)
        return null
      }
    })
    return { rows: results.filter((r): r is IndexRow => r !== null), failed }
  }
}

function stateColumns(state: FileState): Pick<IndexRow, 'id' | 'bytes' | 'mtimeMs' | 'createdMs'> {
  return { id: state.id, bytes: state.bytes, mtimeMs: state.mtimeMs, createdMs: state.mtimeMs }
}

/** Opens the index; a damaged file (or `reset`) is renamed aside with its WAL files and a new one started. */
async function openIndex(paths: GalleryPaths, log: GalleryLog, reset = false): Promise<GalleryIndex> {
  if (!reset) {
    try {
      return GalleryIndex.open(paths.db)
    } catch (err) {
      if (!(err instanceof IndexDamagedError)) throw err
      log('warn', `the gallery index ${paths.db} is damaged (${err.message}); rebuilding it from the images`)
    }
  }
  const suffix = `.damaged-${Date.now()}`
  for (const extra of ['', '-wal', '-shm']) {
    try {
      await fs.rename(`${paths.db}${extra}`, `${paths.db}${suffix}${extra}`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  log('warn', `kept the damaged gallery index as ${paths.db}${suffix}`)
  return GalleryIndex.open(paths.db)
}

async function loadOrDeriveMarks(
  paths: GalleryPaths,
  index: GalleryIndex,
  log: GalleryLog,
): Promise<Map<string, Mark>> {
  const loaded = await loadMarks(paths.marks)
  if (loaded.status === 'ok') {
    index.applyMarks(loaded.marks)
    return loaded.marks
  }
  const marks = index.marks()
  if (loaded.status === 'damaged') {
    log('warn', `gallery marks ${paths.marks} were unreadable (${loaded.problem}); kept as ${loaded.aside}`)
  }
  if (loaded.status === 'damaged' || marks.size > 0) await saveMarks(paths.marks, marks)
  return marks
}

async function isRegularFile(file: string): Promise<boolean> {
  try {
    return (await fs.lstat(file)).isFile()
  } catch {
    return false
  }
}

/** Maps with at most READ_CONCURRENCY calls in flight, keeping the order. */
async function mapLimit<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, items.length) }, worker))
  return results
}
