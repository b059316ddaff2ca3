/**
 * The gallery's SQLite index (node:sqlite): one row per image with everything a GalleryItem shows, plus the
 * file's size and mtime to notice changes. It is derived data: the PNG files are the truth, so a damaged or
 * missing database is set aside and rebuilt, never repaired. WAL mode, versioned migrations (user_version),
 * and indexes for the gallery's sorts and filters so a page of a large gallery is one index walk.
 */
import { DatabaseSync, type SQLInputValue } from 'node:sqlite'
import type { GalleryItem, GalleryPage, GalleryQuery } from '../../common/gallery.ts'
import { SINGLE_MODES, type SingleMode, type Timings } from '../../common/generation.ts'
import type { PngFacts } from './pngInfo.ts'

export const DEFAULT_PAGE = 100

/** One image as the index stores it. */
export interface IndexRow extends PngFacts {
  id: string
  /** The file's mtime: set when the image was saved, kept by moves and the trash. */
  createdMs: number
  bytes: number
  mtimeMs: number
  favorite: boolean
  rating: number
}

export interface Mark {
  favorite: boolean
  rating: number
}

/**
 * Each step takes the schema from the previous version to the next; the database's user_version says how
 * many have run. Steps are append-only: a released step is never edited.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE images (
     id TEXT PRIMARY KEY NOT NULL,
     created_ms INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     mtime_ms INTEGER NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     pack_id TEXT,
     pack_version TEXT,
     mode TEXT,
     class_index INTEGER,
     class_name TEXT,
     seed INTEGER,
     timings TEXT,
     favorite INTEGER NOT NULL DEFAULT 0,
     rating INTEGER NOT NULL DEFAULT 0,
     metadata TEXT,
     parameters TEXT,
     search TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX images_created ON images (created_ms, id);
   CREATE INDEX images_pack ON images (pack_id, created_ms, id);
   CREATE INDEX images_class ON images (class_index, created_ms, id);
   CREATE INDEX images_mode ON images (mode, created_ms, id);
   CREATE INDEX images_favorite ON images (favorite, created_ms, id);`,
  // A text pack's prompt (searched like a class name). Rows indexed before have none: no text pack made them.
  'ALTER TABLE images ADD COLUMN prompt TEXT;',
]

export const SCHEMA_VERSION = MIGRATIONS.length

const COLUMNS = [
  'id',
  'created_ms',
  'bytes',
  'mtime_ms',
  'width',
  'height',
  'pack_id',
  'pack_version',
  'mode',
  'class_index',
  'class_name',
  'prompt',
  'seed',
  'timings',
  'favorite',
  'rating',
  'metadata',
  'parameters',
  'search',
] as const

/** SQLite result codes (primary, the low byte) that mean the file is not a usable database. */
const SQLITE_CORRUPT = 11
const SQLITE_NOTADB = 26

/** The database file is damaged (or from an unknown schema): set it aside and rebuild. */
export class IndexDamagedError extends Error {
  override readonly name = 'IndexDamagedError'
}

/** Whether an error from the index means its file is damaged (rather than locked, full or unwritable). */
export function isDamage(err: unknown): boolean {
  if (err instanceof IndexDamagedError) return true
  const code = sqliteCode(err)
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB
}

function sqliteCode(err: unknown): number | null {
  const code = (err as { errcode?: unknown }).errcode
  return typeof code === 'number' ? code & 0xff : null
}

type Row = Record<string, SQLInputValue>

export class GalleryIndex {
  private constructor(private readonly db: DatabaseSync) {}

  /**
   * Opens (or creates) the index and brings its schema up to date. Throws IndexDamagedError when the file is
   * not a database, fails SQLite's quick check, or has a schema this version does not know; other failures
   * (no permission, locked, disk full) are thrown as they are, since setting the file aside would not help.
   */
  static open(file: string): GalleryIndex {
    const db = new DatabaseSync(file)
    try {
      db.exec('PRAGMA busy_timeout = 2000')
      db.exec('PRAGMA journal_mode = WAL')
      // The index can be rebuilt, so a power cut may cost its last transactions but never its consistency.
      db.exec('PRAGMA synchronous = NORMAL')
      const check = db.prepare('PRAGMA quick_check').all()
      const first = check[0]?.quick_check
      if (check.length !== 1 || first !== 'ok') {
        throw new IndexDamagedError(`quick_check reports: ${String(first ?? 'nothing')}`.slice(0, 300))
      }
      migrate(db)
      // Every column the code reads must be there, whatever user_version claims.
      db.prepare(`SELECT ${COLUMNS.join(', ')} FROM images LIMIT 0`).all()
    } catch (err) {
      db.close()
      if (err instanceof IndexDamagedError) throw err
      const message = (err as Error).message
      if (isDamage(err) || /no such (table|column)/.test(message)) throw new IndexDamagedError(message)
      throw err
    }
    return new GalleryIndex(db)
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }

  /** Runs `fn` in one transaction: all of its writes or none. */
  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const result = fn()
      this.db.exec('COMMIT')
      return result
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK')
      throw err
    }
  }

  /** Inserts or replaces `upsert` and deletes `remove`, in one transaction. */
  write(changes: { upsert?: readonly IndexRow[]; remove?: readonly string[] }): void {
    const upsert = changes.upsert ?? []
    const remove = changes.remove ?? []
    if (upsert.length === 0 && remove.length === 0) return
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO images (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    )
    const del = this.db.prepare('DELETE FROM images WHERE id = ?')
    this.transaction(() => {
      for (const id of remove) del.run(id)
      for (const row of upsert) insert.run(...valuesOf(row))
    })
  }

  /** Replaces every row (a rebuild): one transaction, so a failure leaves the old index. */
  replaceAll(rows: readonly IndexRow[]): void {
    this.transaction(() => {
      this.db.exec('DELETE FROM images')
      const statement = this.db.prepare(
        `INSERT INTO images (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
      )
      for (const row of rows) statement.run(...valuesOf(row))
    })
  }

  get(id: string): GalleryItem | null {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id)
    return row ? toItem(row as Row) : null
  }

  count(): number {
    const row = this.db.prepare('SELECT count(*) AS n FROM images').get()
    return Number(row?.n ?? 0)
  }

  /** Every id with the size and mtime it was indexed at (to spot new, changed and vanished files). */
  fileStates(): Map<string, { bytes: number; mtimeMs: number }> {
    const states = new Map<string, { bytes: number; mtimeMs: number }>()
    for (const row of this.db.prepare('SELECT id, bytes, mtime_ms FROM images').all()) {
      states.set(String(row.id), { bytes: Number(row.bytes), mtimeMs: Number(row.mtime_ms) })
    }
    return states
  }

  ids(): Set<string> {
    return new Set(
      this.db
        .prepare('SELECT id FROM images')
        .all()
        .map((r) => String(r.id)),
    )
  }

  /** The images with a favorite or a rating. */
  marks(): Map<string, Mark> {
    const marks = new Map<string, Mark>()
    for (const row of this.db
      .prepare('SELECT id, favorite, rating FROM images WHERE favorite <> 0 OR rating <> 0')
      .all()) {
      marks.set(String(row.id), { favorite: Number(row.favorite) !== 0, rating: clampRating(row.rating) })
    }
    return marks
  }

  setMark(id: string, mark: Mark): void {
    this.db
      .prepare('UPDATE images SET favorite = ?, rating = ? WHERE id = ?')
      .run(mark.favorite ? 1 : 0, mark.rating, id)
  }

  /** Makes every row's marks those of `marks` (absent: none), in one transaction. */
  applyMarks(marks: ReadonlyMap<string, Mark>): void {
    this.transaction(() => {
      this.db.exec('UPDATE images SET favorite = 0, rating = 0 WHERE favorite <> 0 OR rating <> 0')
      const statement = this.db.prepare('UPDATE images SET favorite = ?, rating = ? WHERE id = ?')
      for (const [id, mark] of marks) statement.run(mark.favorite ? 1 : 0, mark.rating, id)
    })
  }

  query(query: GalleryQuery): GalleryPage {
    const where: string[] = []
    const params: SQLInputValue[] = []
    for (const word of (query.text ?? '').toLowerCase().split(/\s+/)) {
      if (word === '') continue
      where.push(`search LIKE ? ESCAPE '\\'`)
      params.push(`%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
    }
    if (query.packId !== undefined) {
      where.push('pack_id = ?')
      params.push(query.packId)
    }
    if (query.classIndex !== undefined) {
      where.push('class_index = ?')
      params.push(query.classIndex)
    }
    if (query.mode !== undefined) {
      where.push('mode = ?')
      params.push(query.mode)
    }
    if (query.favorite !== undefined) {
      where.push('favorite = ?')
      params.push(query.favorite ? 1 : 0)
    }
    if (query.from !== undefined) {
      where.push('created_ms >= ?')
      params.push(Date.parse(query.from))
    }
    if (query.to !== undefined) {
      where.push('created_ms <= ?')
      params.push(Date.parse(query.to))
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    const direction = query.sort === 'oldest' ? 'ASC' : 'DESC'
    const total = Number(this.db.prepare(`SELECT count(*) AS n FROM images ${clause}`).get(...params)?.n ?? 0)
    const rows = this.db
      .prepare(
        `SELECT * FROM images ${clause} ORDER BY created_ms ${direction}, id ${direction} LIMIT ? OFFSET ?`,
      )
      .all(...params, query.limit ?? DEFAULT_PAGE, query.offset ?? 0)
    return { total, items: rows.map((r) => toItem(r as Row)) }
  }

  /** For tests and diagnostics: how SQLite runs a query. */
  explain(sql: string, ...params: SQLInputValue[]): string[] {
    return this.db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...params)
      .map((r) => String(r.detail))
  }
}

function migrate(db: DatabaseSync): void {
  const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0)
  if (!Number.isInteger(version) || version < 0 || version > SCHEMA_VERSION) {
    throw new IndexDamagedError(
      `schema version ${version} is not one this app knows (it knows up to ${SCHEMA_VERSION})`,
    )
  }
  for (let step = version; step < SCHEMA_VERSION; step++) {
    db.exec('BEGIN IMMEDIATE')
    try {
      db.exec(MIGRATIONS[step] as string)
      db.exec(`PRAGMA user_version = ${step + 1}`)
      db.exec('COMMIT')
    } catch (err) {
      db.exec('ROLLBACK')
      throw err
    }
  }
}

/** Lower-cased words the text search matches: class name or prompt, pack id, mode and seed. */
export function searchTextOf(
  row: Pick<IndexRow, 'className' | 'prompt' | 'packId' | 'mode' | 'seed'>,
): string {
  return [row.className, row.prompt, row.packId, row.mode, row.seed]
    .filter((v) => v !== null)
    .join(' ')
    .toLowerCase()
}

function valuesOf(row: IndexRow): SQLInputValue[] {
  const columns = toColumns(row)
  return COLUMNS.map((c) => columns[c])
}

function toColumns(row: IndexRow): Record<(typeof COLUMNS)[number], SQLInputValue> {
  return {
    id: row.id,
    created_ms: Math.round(row.createdMs),
    bytes: row.bytes,
    mtime_ms: Math.round(row.mtimeMs),
    width: row.width,
    height: row.height,
    pack_id: row.packId,
    pack_version: row.packVersion,
    mode: row.mode,
    class_index: row.classIndex,
    class_name: row.className,
    prompt: row.prompt,
    seed: row.seed,
    timings: row.timings ? JSON.stringify(row.timings) : null,
    favorite: row.favorite ? 1 : 0,
    rating: clampRating(row.rating),
    metadata: row.metadata,
    parameters: row.parameters,
    search: searchTextOf(row),
  }
}

// The database is outside input too (another version, a hand edit): every column is checked on the way out.
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const int = (v: unknown): number | null =>
  typeof v === 'number' && Number.isSafeInteger(v) ? v : typeof v === 'bigint' ? Number(v) : null

/** The largest time a JavaScript Date can hold. */
const MAX_DATE_MS = 8.64e15

function clampRating(v: unknown): number {
  const n = int(v)
  return n === null ? 0 : Math.min(5, Math.max(0, n))
}

function timingsOf(v: unknown): Timings | null {
  if (typeof v !== 'string') return null
  try {
    const t = JSON.parse(v) as Record<string, unknown>
    const keys = ['tokenMs', 'decodeMs', 'otherMs', 'totalMs'] as const
    if (!keys.every((k) => typeof t[k] === 'number' && Number.isFinite(t[k]))) return null
    return { tokenMs: t.tokenMs, decodeMs: t.decodeMs, otherMs: t.otherMs, totalMs: t.totalMs } as Timings
  } catch {
    return null
  }
}

function toItem(row: Row): GalleryItem {
  const mode = str(row.mode)
  const created = int(row.created_ms)
  return {
    id: String(row.id),
    createdAt: new Date(created !== null && Math.abs(created) <= MAX_DATE_MS ? created : 0).toISOString(),
    bytes: int(row.bytes) ?? 0,
    width: int(row.width) ?? 0,
    height: int(row.height) ?? 0,
    packId: str(row.pack_id),
    packVersion: str(row.pack_version),
    mode: mode !== null && (SINGLE_MODES as readonly string[]).includes(mode) ? (mode as SingleMode) : null,
    classIndex: int(row.class_index),
    className: str(row.class_name),
    prompt: str(row.prompt),
    seed: int(row.seed),
    timings: timingsOf(row.timings),
    favorite: (int(row.favorite) ?? 0) !== 0,
    rating: clampRating(row.rating),
    metadata: str(row.metadata),
    parameters: str(row.parameters),
  }
}
