/**
 * Where deleted images go. A strategy, because the shells differ: serve mode and the tests keep a trash
 * folder inside the gallery (.dd-studio/trash/<undo token>/<id>), from which an undo moves the files back;
 * the desktop app keeps them there while the undo lasts and then hands them to the operating system's trash,
 * which has no API to restore from (the user restores there, and the next scan picks the file up).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { exists, fileOfId, galleryPaths, placeWithoutOverwrite } from './galleryFiles.ts'

export interface TrashStrategy {
  /** Moves one image out of the gallery; when this resolves the file is no longer at `file`. */
  trash(root: string, token: string, id: string, file: string): Promise<void>
  /**
   * Puts one image of a delete back and answers the id it has now (a fresh name when its old one is taken
   * meanwhile), or null when it is no longer in the trash. Absent when this trash cannot restore.
   */
  restore?(root: string, token: string, id: string): Promise<string | null>
  /** Empties entries older than `maxAgeMs` (called when a gallery folder is opened). */
  sweep?(root: string, maxAgeMs: number): Promise<void>
  /** How long the undo of a delete lasts, in ms; absent: until the app quits. */
  readonly undoMs?: number
  /**
   * The undo of one delete has lapsed (its time ran out, or the app is closing): its files may leave the
   * app's hands now. Never throws for one file; absent where the files wait for a sweep.
   */
  release?(root: string, token: string, ids: readonly string[]): Promise<void>
}

/** Entries of the folder trash older than this are emptied when the gallery opens. */
export const TRASH_KEEP_MS = 3 * 24 * 60 * 60 * 1000

const TOKEN = /^[0-9a-f-]{36}$/

/** The trash folder inside the gallery (.dd-studio/trash). */
export class FolderTrash implements TrashStrategy {
  async trash(root: string, token: string, id: string, file: string): Promise<void> {
    const target = this.entry(root, token, id)
    await fs.mkdir(path.dirname(target), { recursive: true })
    await fs.rename(file, target)
  }

  async restore(root: string, token: string, id: string): Promise<string | null> {
    const source = this.entry(root, token, id)
    try {
      await fs.access(source)
    } catch {
      return null
    }
    const original = fileOfId(root, id)
    const dir = path.dirname(original)
    await fs.mkdir(dir, { recursive: true })
    const placed = await placeWithoutOverwrite(source, dir, path.basename(original).replace(/\.png$/i, ''))
    await this.removeEmpty(root, token)
    return path.relative(path.resolve(root), placed).split(path.sep).join('/')
  }

  async sweep(root: string, maxAgeMs: number): Promise<void> {
    const dir = galleryPaths(root).trash
    let entries: string[]
    try {
      entries = await fs.readdir(dir)
    } catch {
      return
    }
    const now = Date.now()
    for (const name of entries) {
      if (!TOKEN.test(name)) continue
      const stat = await fs.stat(path.join(dir, name)).catch(() => null)
      if (stat && now - stat.mtimeMs > maxAgeMs)
        await fs.rm(path.join(dir, name), { recursive: true, force: true })
    }
  }

  protected entry(root: string, token: string, id: string): string {
    if (!TOKEN.test(token)) throw new Error(`not an undo token: ${token}`)
    return path.join(galleryPaths(root).trash, token, ...id.split('/'))
  }

  /** Removes the token's folder once nothing is left in it. */
  protected async removeEmpty(root: string, token: string): Promise<void> {
    const dir = path.join(galleryPaths(root).trash, token)
    const files = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => null)
    if (files && !files.some((f) => f.isFile())) await fs.rm(dir, { recursive: true, force: true })
  }
}

/** How long an undo lasts in the desktop app before the files go to the system's trash. */
export const SYSTEM_TRASH_UNDO_MS = 30 * 60 * 1000

export interface SystemTrashOptions {
  /** Moves one file to the system's trash (Electron: shell.trashItem); rejects when it cannot. */
  trashItem: (file: string) => Promise<void>
  warn: (message: string) => void
  /** How long an undo lasts (default SYSTEM_TRASH_UNDO_MS). */
  undoMs?: number
}

/**
 * The desktop app's trash: a delete goes to the folder trash first, so undo works exactly as in serve mode;
 * when the undo lapses (after `undoMs`, or when the app quits) the files go to the system's trash instead of
 * being emptied later. Each file is first put back at its place in the gallery, so that the system's "put
 * back" returns it to the gallery (where the next scan finds it) rather than into the app's hidden folder.
 * A file the system trash refuses stays in the folder trash, with a warning; the next open tries again, and
 * the folder trash's own sweep empties it after TRASH_KEEP_MS.
 */
export class SystemTrash extends FolderTrash {
  readonly undoMs: number

  constructor(private readonly options: SystemTrashOptions) {
    super()
    this.undoMs = options.undoMs ?? SYSTEM_TRASH_UNDO_MS
  }

  async release(root: string, token: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const entry = this.entry(root, token, id)
      if (await exists(entry)) await this.handOver(root, id, entry)
    }
    await this.removeEmpty(root, token)
  }

  /** Also hands over deletes whose undo lapsed while the app was not running (it crashed, or was refused). */
  override async sweep(root: string, maxAgeMs: number): Promise<void> {
    const dir = galleryPaths(root).trash
    let tokens: string[]
    try {
      tokens = await fs.readdir(dir)
    } catch {
      return
    }
    const now = Date.now()
    for (const token of tokens) {
      if (!TOKEN.test(token)) continue
      const stat = await fs.stat(path.join(dir, token)).catch(() => null)
      if (!stat || now - stat.mtimeMs <= this.undoMs) continue
      const files = await fs
        .readdir(path.join(dir, token), { recursive: true, withFileTypes: true })
        .catch(() => [])
      const ids = files
        .filter((f) => f.isFile())
        .map((f) => path.relative(path.join(dir, token), path.join(f.parentPath, f.name)))
        .map((rel) => rel.split(path.sep).join('/'))
      await this.release(root, token, ids)
    }
    await super.sweep(root, maxAgeMs)
  }

  private async handOver(root: string, id: string, entry: string): Promise<void> {
    const original = fileOfId(root, id)
    let from = entry
    try {
      await fs.mkdir(path.dirname(original), { recursive: true })
      from = await placeWithoutOverwrite(
        entry,
        path.dirname(original),
        path.basename(original).replace(/\.png$/i, ''),
      )
    } catch {
      // The gallery cannot take it back (a read-only folder, say): hand it over from the app's trash.
    }
    try {
      await this.options.trashItem(from)
      return
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      if (from === entry) {
        this.options.warn(`could not move ${id} to the system trash (${why}); it stays in ${entry}`)
        return
      }
      try {
        await fs.rename(from, entry)
        this.options.warn(`could not move ${id} to the system trash (${why}); it stays in ${entry}`)
      } catch (back) {
        this.options.warn(
          `could not move ${id} to the system trash (${why}), nor back to the app's trash ` +
            `(${(back as Error).message}); it is in the gallery again as ${from}`,
        )
      }
    }
  }
}
