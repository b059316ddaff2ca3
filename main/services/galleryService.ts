/**
 * The gallery as the contract offers it: saving finished jobs, browsing, marks, delete with undo, rebuild and
 * thumbnails. The folder comes from the settings on every call (the user can move it), and the store of the
 * folder in use is opened on first need. Calls that touch the index run one at a time, so a save, a scan and
 * a rebuild never interleave; thumbnails need only the files and run beside them.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import {
  type GalleryChange,
  type GalleryDeleteResult,
  type GalleryItem,
  type GalleryPage,
  type GalleryQuery,
  type GalleryRebuildResult,
  galleryIdSchema,
} from '../../common/gallery.ts'
import type { GenerationResult } from '../../common/generation.ts'
import { AppError } from '../../common/result.ts'
import {
  fileOfId,
  galleryPaths,
  resolveGalleryImage,
  syncFolders,
  urlPathOfId,
} from '../gallery/galleryFiles.ts'
import { isDamage, type Mark } from '../gallery/galleryIndex.ts'
import { type GalleryLog, GalleryStore, IndexWriteError, isEmptyChange } from '../gallery/galleryStore.ts'
import { ensureThumbnail, type ThumbOutcome } from '../gallery/thumbnails.ts'
import { FolderTrash, type TrashStrategy } from '../gallery/trash.ts'
import type { Confined } from '../security/confinedPath.ts'

export interface GalleryServiceOptions {
  /** Read on every call. */
  galleryDir: () => string
  log: GalleryLog
  onChange: (change: GalleryChange) => void
  /** Where deleted images go (default: the trash folder inside the gallery). */
  trash?: TrashStrategy
  /** How often listing also looks for files added or removed outside the app; 0: on every listing. */
  rescanIntervalMs?: number
  /** The clock that names saved files and times undo (tests pin it). */
  now?: () => Date
}

export const DEFAULT_RESCAN_INTERVAL_MS = 2000
/** How many times a listing prunes rows whose files vanished and asks again, before it answers as is. */
const MAX_PRUNE_ROUNDS = 3
/** How often undo records are checked for expiry, where the trash gives undo a time limit. */
const UNDO_CHECK_MS = 60_000

interface UndoRecord {
  root: string
  entries: { id: string; mark: Mark | null }[]
  /** When the delete happened (ms, from the service's clock). */
  at: number
}

export class GalleryService {
  private store: GalleryStore | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private lastScanAt = 0
  /** Set the index aside at the next open (it was found damaged while in use). */
  private resetIndex = false
  private closed = false
  private readonly undo = new Map<string, UndoRecord>()
  private readonly pendingThumbs = new Map<string, Promise<ThumbOutcome>>()
  private readonly trash: TrashStrategy
  private readonly undoTimer: NodeJS.Timeout | null = null

  constructor(private readonly options: GalleryServiceOptions) {
    this.trash = options.trash ?? new FolderTrash()
    const undoMs = this.trash.undoMs
    if (undoMs !== undefined && this.trash.release) {
      this.undoTimer = setInterval(
        () => {
          this.expireUndo().catch((err: unknown) =>
            this.options.log('warn', `gallery: could not release expired deletes: ${(err as Error).message}`),
          )
        },
        Math.min(undoMs, UNDO_CHECK_MS),
      )
      // Expiry must never keep the process alive: close releases whatever is left.
      this.undoTimer.unref()
    }
  }

  /** Opens the current folder's store now (scanning it), instead of on the first call. */
  async open(): Promise<void> {
    await this.exclusive(() => this.current())
  }

  list(query: GalleryQuery): Promise<GalleryPage> {
    return this.exclusive(async () => {
      const store = await this.current()
      const interval = this.options.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS
      if (Date.now() - this.lastScanAt >= interval) {
        this.lastScanAt = Date.now()
        this.emit(await store.scan('quick'))
      }
      // Files deleted outside the app since the last scan: drop their rows and ask again.
      for (let round = 0; round < MAX_PRUNE_ROUNDS; round++) {
        const page = store.query(query)
        const missing = await store.pruneMissing(page.items.map((i) => i.id))
        if (missing.length === 0) return page
        this.emit({ added: [], removed: missing, updated: [] })
      }
      return store.query(query)
    })
  }

  get(id: string): Promise<GalleryItem> {
    return this.exclusive(async () => {
      const store = await this.current()
      const { item, change } = await store.get(checkId(id))
      this.emit(change)
      if (!item) throw new AppError('not_found', `id: no image '${id}' in the gallery`)
      return item
    })
  }

  mark(input: { ids: string[]; favorite?: boolean; rating?: number }): Promise<GalleryItem[]> {
    return this.exclusive(async () => {
      const store = await this.current()
      const items = await store.mark(input.ids.map(checkId), input.favorite, input.rating)
      this.emit({ added: [], removed: [], updated: items.map((i) => i.id) })
      return items
    })
  }

  delete(ids: string[]): Promise<GalleryDeleteResult> {
    return this.exclusive(async () => {
      const store = await this.current()
      const token = randomUUID()
      const { moved, change, error } = await store.delete(ids.map(checkId), token)
      this.emit(change)
      if (moved.length === 0) {
        if (error) throw new AppError('unavailable', error)
        throw new AppError(
          'not_found',
          `ids: none of ${ids.map((i) => `'${i}'`).join(', ')} is in the gallery`,
        )
      }
      if (error) this.options.log('warn', `gallery delete stopped early: ${error}`)
      this.undo.set(token, { root: store.paths.root, entries: moved, at: this.clock() })
      return { deleted: moved.map((m) => m.id), undoToken: token }
    })
  }

  undoDelete(token: string): Promise<GalleryItem[]> {
    return this.exclusive(async () => {
      const record = this.undo.get(token)
      if (!record) {
        throw new AppError('not_found', `undoToken: unknown or already used (${this.undoLasts()})`)
      }
      if (this.expired(record)) {
        await this.release(token, record)
        throw new AppError(
          'not_found',
          `undoToken: that delete can no longer be undone (${this.undoLasts()})`,
        )
      }
      const store = await this.current()
      if (store.paths.root !== record.root) {
        throw new AppError(
          'unavailable',
          `undoToken: those images were deleted from ${record.root}; switch the gallery folder back to undo`,
        )
      }
      const { items, change, missing } = await store.restore(token, record.entries)
      this.undo.delete(token)
      this.emit(change)
      if (missing.length) {
        this.options.log('warn', `gallery undo: no longer in the trash: ${missing.join(', ')}`)
      }
      return items
    })
  }

  rebuild(): Promise<GalleryRebuildResult> {
    return this.exclusive(async () => {
      const started = performance.now()
      const store = await this.current()
      const { change, indexed } = await store.rebuild()
      this.lastScanAt = Date.now()
      this.emit(change)
      return {
        indexed,
        added: change.added.length,
        pruned: change.removed.length,
        ms: Math.round(performance.now() - started),
      }
    })
  }

  /**
   * Saves every image of a finished job, in job order, and fills in each image's galleryId. Never throws:
   * the job has succeeded whatever happens here, so a failure is reported in result.galleryError instead.
   */
  saveJob(result: GenerationResult): Promise<void> {
    return this.exclusive(async () => {
      const total = result.images.length
      const root = path.resolve(this.options.galleryDir())
      const added: string[] = []
      const folders: string[] = []
      let store: GalleryStore
      try {
        store = await this.current()
      } catch (err) {
        result.galleryError = `the images were not saved: ${(err as Error).message}`
        return
      }
      try {
        for (const image of result.images) {
          const at = this.options.now?.() ?? new Date()
          const { item, folder } = await store.save(image.png, {
            packId: result.packId,
            mode: image.mode,
            seed: image.seed,
            at,
          })
          image.galleryId = item.id
          added.push(item.id)
          folders.push(folder)
        }
      } catch (err) {
        if (err instanceof IndexWriteError) {
          // The file is there; its row is not. Reopen (and rescan) the folder on the next call.
          const image = result.images[added.length]
          if (image) image.galleryId = err.id
          added.push(err.id)
          folders.push(path.dirname(fileOfId(root, err.id)))
          this.drop()
          if (isDamage(err.cause)) this.resetIndex = true
        }
        const saved = `${added.length} of ${total} image${total === 1 ? '' : 's'} saved to the gallery folder ${root}`
        const left = total - added.length
        const why =
          err instanceof IndexWriteError
            ? `${err.message} (the next scan indexes it)${left ? `; the other ${left} were not saved` : ''}`
            : `the ${added.length ? 'rest' : 'images'} could not be saved: ${(err as Error).message}`
        result.galleryError = `${saved}; ${why}`
        this.options.log('warn', `gallery: ${result.galleryError}`)
      }
      try {
        await syncFolders(folders)
      } catch (err) {
        this.options.log('warn', `gallery: could not sync ${root}: ${(err as Error).message}`)
      }
      if (added.length) this.emit({ added, removed: [], updated: [] })
    })
  }

  /**
   * The absolute path of an image's file, for the desktop actions that hand it to the system (reveal, drag
   * out). Confined like the image routes: a link that leads out of the gallery folder, or into the app's own
   * data, is refused, so the shell is never asked to act on anything else.
   */
  async file(id: string): Promise<string> {
    const root = path.resolve(this.options.galleryDir())
    const found = await resolveGalleryImage(root, urlPathOfId(checkId(id)), ['.png'])
    if (found.ok) return found.file
    if (found.status === 403) {
      throw new AppError('forbidden', `id: '${id}' is not a file inside the gallery folder (${found.reason})`)
    }
    throw new AppError('not_found', `id: no image '${id}' in the gallery`)
  }

  /**
   * The thumbnail of an image for the image routes (`urlPath`: the id as it came in the URL), made and cached
   * on first request. Confined like the image route; an image the thumbnailer cannot read is served as it is.
   */
  async thumbnail(urlPath: string): Promise<Confined> {
    const root = path.resolve(this.options.galleryDir())
    const found = await resolveGalleryImage(root, urlPath, ['.png'])
    if (!found.ok) return found
    const realRoot = await fs.realpath(root)
    const id = path.relative(realRoot, found.file).split(path.sep).join('/')
    try {
      const stat = await fs.stat(found.file)
      const outcome = await ensureThumbnail(
        galleryPaths(root).thumbs,
        id,
        found.file,
        stat.mtimeMs,
        this.pendingThumbs,
      )
      if (outcome.kind === 'thumb') return { ok: true, file: outcome.file }
      this.options.log('debug', `gallery: no thumbnail for ${id} (${outcome.reason}); serving the image`)
    } catch (err) {
      this.options.log('warn', `gallery: could not make the thumbnail of ${id}: ${(err as Error).message}`)
    }
    return found
  }

  /** Ends the undo of every delete whose time is up (the timer calls this; so can tests). */
  expireUndo(): Promise<void> {
    return this.exclusive(async () => {
      for (const [token, record] of this.undo) {
        if (this.expired(record)) await this.release(token, record)
      }
    })
  }

  /**
   * Waits for the call in progress (a job's save), ends the undo of every delete (where the trash hands
   * deleted files on, they go now), then closes the index.
   */
  async close(): Promise<void> {
    if (this.undoTimer) clearInterval(this.undoTimer)
    await this.exclusive(async () => {
      if (this.trash.release) {
        for (const [token, record] of this.undo) await this.release(token, record)
      }
      this.closed = true
      this.drop()
    })
  }

  private clock(): number {
    return this.options.now?.().getTime() ?? Date.now()
  }

  private expired(record: UndoRecord): boolean {
    const undoMs = this.trash.undoMs
    return undoMs !== undefined && this.clock() - record.at >= undoMs
  }

  private undoLasts(): string {
    const undoMs = this.trash.undoMs
    if (undoMs === undefined) return 'undo lasts until the app quits'
    const minutes = Math.max(1, Math.round(undoMs / 60_000))
    return `undo lasts ${minutes} minute${minutes === 1 ? '' : 's'}, or until the app quits`
  }

  /** The undo of one delete is over: the trash may hand its files on. A failure is logged, never thrown. */
  private async release(token: string, record: UndoRecord): Promise<void> {
    this.undo.delete(token)
    try {
      await this.trash.release?.(
        record.root,
        token,
        record.entries.map((e) => e.id),
      )
    } catch (err) {
      this.options.log('warn', `gallery: could not release deleted images: ${(err as Error).message}`)
    }
  }

  private async current(): Promise<GalleryStore> {
    if (this.closed) throw new AppError('unavailable', 'the gallery is closed (the app is quitting)')
    const root = path.resolve(this.options.galleryDir())
    if (this.store?.paths.root === root) return this.store
    this.drop()
    try {
      const { store, change } = await GalleryStore.open(root, {
        log: this.options.log,
        trash: this.trash,
        resetIndex: this.resetIndex,
      })
      this.resetIndex = false
      this.store = store
      this.lastScanAt = Date.now()
      this.emit(change)
      return store
    } catch (err) {
      if (err instanceof AppError) throw err
      throw new AppError(
        'unavailable',
        `the gallery folder ${root} cannot be used: ${(err as Error).message}`,
      )
    }
  }

  private drop(): void {
    this.store?.close()
    this.store = null
  }

  private emit(change: GalleryChange): void {
    if (!isEmptyChange(change)) this.options.onChange(change)
  }

  /**
   * Runs `fn` after every call before it has finished. An index found damaged while in use is set aside on
   * the next call, which rebuilds it from the images; this call fails with a clear reason instead.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      try {
        return await fn()
      } catch (err) {
        if (!isDamage(err)) throw err
        const db = this.store?.paths.db ?? 'the gallery index'
        this.drop()
        this.resetIndex = true
        this.options.log('warn', `the gallery index ${db} is damaged: ${(err as Error).message}`)
        throw new AppError(
          'unavailable',
          `the gallery index ${db} was damaged; it is rebuilt from the images on the next call`,
        )
      }
    }
    const run = this.queue.then(guarded, guarded)
    this.queue = run.catch(() => undefined)
    return run
  }
}

/**
 * Ids come validated by the contract; this also refuses dot segments, which name the app's own data or
 * hidden files, never an image.
 */
function checkId(id: string): string {
  const parsed = galleryIdSchema.safeParse(id)
  if (!parsed.success || id.split('/').some((s) => s.startsWith('.'))) {
    throw new AppError('not_found', `id: no image '${id}' in the gallery`)
  }
  return id
}
