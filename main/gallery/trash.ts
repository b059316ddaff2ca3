/**
 * Where deleted images go. A strategy, because the shells differ: serve mode and the tests keep a trash
 * folder inside the gallery (.dd-studio/trash/<undo token>/<id>), from which an undo moves the files back;
 * the desktop shell may hand files to the operating system's trash instead, which has no API to restore
 * from (the user restores there, and the next scan picks the file up).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileOfId, galleryPaths, placeWithoutOverwrite } from './galleryFiles.ts'

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

  private entry(root: string, token: string, id: string): string {
    if (!TOKEN.test(token)) throw new Error(`not an undo token: ${token}`)
    return path.join(galleryPaths(root).trash, token, ...id.split('/'))
  }

  /** Removes the token's folder once nothing is left in it. */
  private async removeEmpty(root: string, token: string): Promise<void> {
    const dir = path.join(galleryPaths(root).trash, token)
    const files = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => null)
    if (files && !files.some((f) => f.isFile())) await fs.rm(dir, { recursive: true, force: true })
  }
}
