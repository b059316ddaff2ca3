/**
 * The gallery folder on disk: where an image goes, how an id maps to a file, saving a PNG whole and without
 * overwriting anything, and listing the PNGs that are there. The files are the source of truth; everything
 * under .dd-studio/ is the app's own data and is never listed as an image or served as one.
 */
import { randomBytes } from 'node:crypto'
import type { Dirent, Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { syncDir } from '../app/atomicWrite.ts'
import { type Confined, resolveConfined } from '../security/confinedPath.ts'

/** The app's own data inside the gallery folder. */
export const STORE_DIR_NAME = '.dd-studio'

export interface GalleryPaths {
  root: string
  store: string
  db: string
  thumbs: string
  trash: string
  marks: string
}

export function galleryPaths(root: string): GalleryPaths {
  const abs = path.resolve(root)
  const store = path.join(abs, STORE_DIR_NAME)
  return {
    root: abs,
    store,
    db: path.join(store, 'index.sqlite'),
    thumbs: path.join(store, 'thumbs'),
    trash: path.join(store, 'trash'),
    marks: path.join(store, 'marks.json'),
  }
}

/** The file of an id (already validated by galleryIdSchema, or made by listGalleryFiles). */
export function fileOfId(root: string, id: string): string {
  return path.join(path.resolve(root), ...id.split('/'))
}

/** What an image's file name is made of. */
export interface SaveName {
  packId: string
  mode: string
  seed: number
  at: Date
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** Keeps a name part to letters, digits and dashes, so no value can add a separator or a dot segment. */
function safePart(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 64)
  return cleaned === '' ? '_' : cleaned
}

/** <YYYY-MM-DD> and <HHMMSS>-<packId>-<mode>-<seed>, in local time (what the user sees in a file manager). */
export function layoutOf(name: SaveName): { dir: string; stem: string } {
  const at = name.at
  const dir = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`
  const time = `${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`
  const seed = Number.isSafeInteger(name.seed) ? String(name.seed) : '_'
  return { dir, stem: `${time}-${safePart(name.packId)}-${safePart(name.mode)}-${seed}` }
}

/** Where hard links are not available (some FAT, exFAT and network volumes). */
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'])
/** Bounds the search for a free name; far more images than one second can produce with one seed. */
const MAX_NAME_TRIES = 1000

/**
 * Moves `source` to `<dir>/<stem>.png`, or `<stem>-2.png`, `<stem>-3.png`, ... when that name is taken: never
 * replaces a file. A hard link creates the name only if it is free; where links are unsupported, a check and a
 * rename do it (which could only race with another program writing the same name in the same instant).
 * Answers the file it now has.
 */
export async function placeWithoutOverwrite(source: string, dir: string, stem: string): Promise<string> {
  for (let n = 1; n <= MAX_NAME_TRIES; n++) {
    const target = path.join(dir, `${stem}${n === 1 ? '' : `-${n}`}.png`)
    try {
      await fs.link(source, target)
      await fs.rm(source, { force: true })
      return target
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? ''
      if (code === 'EEXIST') continue
      if (!NO_LINK_CODES.has(code)) throw err
    }
    if (await exists(target)) continue
    await fs.rename(source, target)
    return target
  }
  throw new Error(`no free file name for ${stem}.png in ${dir} after ${MAX_NAME_TRIES} tries`)
}

/**
 * Saves a PNG into the gallery whole or not at all: a temporary file in the target folder, written and
 * synced, then linked to a free name. On any failure the temporary file is removed, so a full disk or an
 * unwritable folder leaves nothing behind. The caller syncs the folder (once per batch).
 */
export async function savePng(
  root: string,
  name: SaveName,
  png: Uint8Array,
): Promise<{ id: string; file: string }> {
  const { dir, stem } = layoutOf(name)
  const folder = path.join(path.resolve(root), dir)
  await fs.mkdir(folder, { recursive: true })
  const tmp = path.join(folder, `.${stem}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await fs.open(tmp, 'wx', 0o644)
    try {
      await handle.writeFile(png)
      await handle.sync()
    } finally {
      await handle.close()
    }
    const file = await placeWithoutOverwrite(tmp, folder, stem)
    return { id: `${dir}/${path.basename(file)}`, file }
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined)
    throw err
  }
}

/** Syncs each folder once; a failure here does not undo the saves, so it is only reported. */
export async function syncFolders(folders: Iterable<string>): Promise<void> {
  for (const folder of new Set(folders)) await syncDir(folder)
}

export interface FileEntry {
  id: string
  file: string
}

export interface FileState extends FileEntry {
  bytes: number
  mtimeMs: number
}

/** Deeper folders are not something the app makes; the bound keeps a stray link farm from stalling a scan. */
const MAX_DEPTH = 8
/** A temporary file this old is a leftover of a crash, not a save in progress. */
export const STALE_TEMP_MS = 10 * 60 * 1000

export interface Listing {
  files: FileEntry[]
  /** Temporary files of interrupted saves (`.<name>.<random>.tmp`). */
  temps: string[]
}

/**
 * Every PNG under the gallery folder, as ids. Skips dot entries (the app's .dd-studio folder, temporary and
 * hidden files) and symbolic links (they may lead out of the folder). Throws when the folder itself cannot be
 * read, so a missing or unmounted gallery is never taken for an empty one.
 */
export async function listGalleryFiles(root: string): Promise<Listing> {
  const base = path.resolve(root)
  const files: FileEntry[] = []
  const temps: string[] = []
  const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
    let entries: Dirent[]
    try {
      entries = await fs.readdir(dir, { withFileTypes: true })
    } catch (err) {
      if (depth === 0) throw err
      return // a subfolder that vanished or cannot be read holds no images we can show
    }
    for (const entry of entries) {
      const name = entry.name
      if (name.startsWith('.')) {
        if (entry.isFile() && name.endsWith('.tmp')) temps.push(path.join(dir, name))
        continue
      }
      if (name.includes('\\')) continue // not expressible as an id
      if (entry.isDirectory()) {
        if (depth + 1 < MAX_DEPTH) await walk(path.join(dir, name), `${prefix}${name}/`, depth + 1)
      } else if (entry.isFile() && name.toLowerCase().endsWith('.png')) {
        files.push({ id: `${prefix}${name}`, file: path.join(dir, name) })
      }
    }
  }
  await walk(base, '', 0)
  files.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { files, temps }
}

/** Removes temporary files older than STALE_TEMP_MS; answers how many went. */
export async function removeStaleTemps(temps: string[], now = Date.now()): Promise<number> {
  let removed = 0
  for (const temp of temps) {
    const stat = await fs.stat(temp).catch(() => null)
    if (!stat || now - stat.mtimeMs < STALE_TEMP_MS) continue
    await fs.rm(temp, { force: true }).catch(() => undefined)
    removed++
  }
  return removed
}

/** Size and mtime (whole milliseconds) of a file; null when it is gone or not a file. */
export async function fileState(entry: FileEntry): Promise<FileState | null> {
  let stat: Stats
  try {
    stat = await fs.stat(entry.file)
  } catch {
    return null
  }
  if (!stat.isFile()) return null
  return { ...entry, bytes: stat.size, mtimeMs: Math.floor(stat.mtimeMs) }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch {
    return false
  }
}

/** An id as the image routes take it: each segment percent-encoded, the separators kept. */
export function urlPathOfId(id: string): string {
  return id.split('/').map(encodeURIComponent).join('/')
}

/**
 * An image of the gallery for the image routes: confined to the folder (see security/confinedPath.ts), and
 * never anything with a dot segment, so the app's .dd-studio data (index, thumbnails, trash, marks) and
 * temporary files are not reachable, not even through a link or another spelling of the name.
 */
export async function resolveGalleryImage(
  root: string,
  urlPath: string,
  extensions: readonly string[],
): Promise<Confined> {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' }
  }
  const segments = decoded.replaceAll('\\', '/').split('/')
  if (segments.some((s) => s.startsWith('.') && s !== '.' && s !== '..')) {
    return { ok: false, status: 403, reason: 'hidden files and the app data folder are not served' }
  }
  const found = await resolveConfined(root, urlPath, extensions)
  if (!found.ok) return found
  // A link inside the gallery may still point into .dd-studio: check where the file really is.
  const realRoot = await fs.realpath(path.resolve(root)).catch(() => path.resolve(root))
  const rel = path.relative(realRoot, found.file).split(path.sep)
  if (rel.some((s) => s.startsWith('.'))) {
    return { ok: false, status: 403, reason: 'hidden files and the app data folder are not served' }
  }
  return found
}
