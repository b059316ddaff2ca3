/**
 * The gallery's SQLite index on its own (real node:sqlite files in a temporary folder): schema and
 * migrations, damage detection, search, filters, sort and paging, and that a 10k-image gallery pages fast
 * through its indexes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { describe, expect, it } from 'vitest'
import type { SingleMode } from '../../common/generation.ts'
import {
  GalleryIndex,
  IndexDamagedError,
  type IndexRow,
  SCHEMA_VERSION,
} from '../../main/gallery/galleryIndex.ts'
import { tempDir } from '../support/testApp.ts'

const BASE = Date.parse('2026-03-01T12:00:00Z')

function row(i: number, over: Partial<IndexRow> = {}): IndexRow {
  const modes: SingleMode[] = ['1step', '2step', 'ar', 'exact']
  return {
    id: `2026-03-01/${String(i).padStart(6, '0')}-emoji32-1step-${i}.png`,
    createdMs: BASE + i * 1000,
    bytes: 1000 + i,
    mtimeMs: BASE + i * 1000,
    width: 32,
    height: 32,
    packId: i % 2 === 0 ? 'emoji32' : 'smoke',
    packVersion: '1.0.0',
    mode: modes[i % modes.length] as SingleMode,
    classIndex: i % 5,
    className:
      ['noto / Animals', 'twemoji / Food', 'noto / Faces', 'fluent / Hearts', 'Plants_100%'][i % 5] ?? null,
    prompt: null,
    seed: 1000 + i,
    timings: { tokenMs: 1, decodeMs: 2, otherMs: 3, totalMs: 6 },
    favorite: i % 3 === 0,
    rating: i % 6,
    metadata: '{"app":"DD Studio"}',
    parameters: null,
    ...over,
  }
}

function openIn(dir = tempDir('gindex')): { index: GalleryIndex; file: string } {
  const file = path.join(dir, 'index.sqlite')
  return { index: GalleryIndex.open(file), file }
}

describe('gallery index: schema', () => {
  it('creates the schema at the latest version, in WAL mode, and reopens it unchanged', () => {
    const { index, file } = openIn()
    index.write({ upsert: [row(1)] })
    index.close()
    const db = new DatabaseSync(file)
    expect(db.prepare('PRAGMA user_version').get()?.user_version).toBe(SCHEMA_VERSION)
    expect(db.prepare('PRAGMA journal_mode').get()?.journal_mode).toBe('wal')
    db.close()
    const again = GalleryIndex.open(file)
    expect(again.get(row(1).id)).toMatchObject({ id: row(1).id, seed: 1001, mode: '2step', favorite: false })
    again.close()
  })

  it('refuses a file that is not a database, a newer schema and a schema without its columns', () => {
    const dir = tempDir('gindex')
    const garbage = path.join(dir, 'garbage.sqlite')
    fs.writeFileSync(
      garbage,
      'this is not a database, just text that is long enough to have a header'.repeat(10),
    )
    expect(() => GalleryIndex.open(garbage)).toThrow(IndexDamagedError)

    const newer = path.join(dir, 'newer.sqlite')
    const db = new DatabaseSync(newer)
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`)
    db.close()
    expect(() => GalleryIndex.open(newer)).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 1} is not one this app knows`),
    )

    const wrong = path.join(dir, 'wrong.sqlite')
    const other = new DatabaseSync(wrong)
    other.exec(`CREATE TABLE images (id TEXT PRIMARY KEY); PRAGMA user_version = ${SCHEMA_VERSION}`)
    other.close()
    expect(() => GalleryIndex.open(wrong)).toThrow(IndexDamagedError)
  })

  it('brings an index from before prompts up to date, keeping its rows, and searches prompts', () => {
    const { index, file } = openIn()
    index.write({ upsert: [row(1), row(2)] })
    index.close()
    // What a version-1 index looks like: no prompt column.
    const old = new DatabaseSync(file)
    old.exec('ALTER TABLE images DROP COLUMN prompt; PRAGMA user_version = 1')
    old.close()
    const again = GalleryIndex.open(file)
    expect(again.get(row(1).id)).toMatchObject({ seed: 1001, prompt: null })
    again.write({
      upsert: [row(3, { classIndex: null, className: null, prompt: 'a Red heart with sparkles' })],
    })
    expect(again.query({ text: 'red SPARKLES' }).items.map((i) => i.id)).toEqual([row(3).id])
    expect(again.get(row(3).id)).toMatchObject({ prompt: 'a Red heart with sparkles', className: null })
    again.close()
  })

  it('reads rows defensively: a hand-edited row yields nulls, not a crash', () => {
    const { index, file } = openIn()
    index.write({ upsert: [row(2)] })
    index.close()
    const db = new DatabaseSync(file)
    db.prepare("UPDATE images SET mode = 'warp', timings = 'not json', rating = 99, class_index = 'x'").run()
    db.close()
    const again = GalleryIndex.open(file)
    expect(again.get(row(2).id)).toMatchObject({ mode: null, timings: null, rating: 5, classIndex: null })
    again.close()
  })
})

describe('gallery index: queries', () => {
  const { index } = openIn()
  index.write({ upsert: Array.from({ length: 30 }, (_, i) => row(i)) })

  it('sorts newest first by default, oldest on request, and pages with a total', () => {
    const first = index.query({ limit: 10 })
    expect(first.total).toBe(30)
    expect(first.items.map((i) => i.seed)).toEqual(Array.from({ length: 10 }, (_, k) => 1029 - k))
    const third = index.query({ limit: 10, offset: 20 })
    expect(third.items.map((i) => i.seed)).toEqual(Array.from({ length: 10 }, (_, k) => 1009 - k))
    expect(index.query({ sort: 'oldest', limit: 3 }).items.map((i) => i.seed)).toEqual([1000, 1001, 1002])
    expect(index.query({ offset: 40 }).items).toEqual([])
  })

  it('searches: every word must appear in class name, pack id, mode or seed, case-insensitively', () => {
    const animals = index.query({ text: 'ANIMALS' })
    expect(animals.total).toBe(6)
    expect(animals.items.every((i) => i.className === 'noto / Animals')).toBe(true)
    // Two words: both must match (class name 'noto / ...' and pack 'smoke').
    const both = index.query({ text: 'noto smoke' })
    expect(both.items.every((i) => i.className?.startsWith('noto') && i.packId === 'smoke')).toBe(true)
    expect(both.total).toBe(6)
    expect(index.query({ text: '1017' }).items.map((i) => i.seed)).toEqual([1017])
    expect(index.query({ text: 'exact' }).total).toBe(7)
    // LIKE wildcards are literal text here.
    expect(index.query({ text: '100%' }).total).toBe(6)
    expect(index.query({ text: '_' }).total).toBe(6)
    expect(index.query({ text: 'animals nothing' }).total).toBe(0)
  })

  it('filters by pack, class, mode, favorite and time, combined', () => {
    expect(index.query({ packId: 'smoke' }).total).toBe(15)
    expect(index.query({ classIndex: 2 }).items.every((i) => i.classIndex === 2)).toBe(true)
    expect(index.query({ mode: 'ar' }).items.map((i) => i.mode)).toEqual(Array(7).fill('ar'))
    expect(index.query({ favorite: true }).total).toBe(10)
    expect(index.query({ favorite: false }).total).toBe(20)
    const from = new Date(BASE + 10_000).toISOString()
    const to = new Date(BASE + 19_000).toISOString()
    const window = index.query({ from, to, sort: 'oldest' })
    expect(window.items.map((i) => i.seed)).toEqual(Array.from({ length: 10 }, (_, k) => 1010 + k))
    const combined = index.query({ packId: 'emoji32', favorite: true, mode: '1step' })
    expect(combined.items.map((i) => i.seed)).toEqual([1024, 1012, 1000])
  })

  it('keeps and clears marks', () => {
    const id = row(1).id
    index.setMark(id, { favorite: true, rating: 4 })
    expect(index.get(id)).toMatchObject({ favorite: true, rating: 4 })
    index.applyMarks(new Map())
    expect(index.marks().size).toBe(0)
    expect(index.get(id)).toMatchObject({ favorite: false, rating: 0 })
  })
})

describe('gallery index: 10k images', () => {
  it('pages, filters and searches a 10k-image gallery quickly, through its indexes', () => {
    const { index } = openIn()
    const started = performance.now()
    index.write({ upsert: Array.from({ length: 10_000 }, (_, i) => row(i)) })
    const insertMs = performance.now() - started
    const timings: Record<string, number> = {}
    const time = (name: string, fn: () => unknown) => {
      const t0 = performance.now()
      for (let k = 0; k < 5; k++) fn()
      timings[name] = (performance.now() - t0) / 5
    }
    time('page', () => index.query({ limit: 100, offset: 5000 }))
    time('favorite', () => index.query({ favorite: true, limit: 100 }))
    time('pack+mode', () => index.query({ packId: 'smoke', mode: 'ar', limit: 100 }))
    time('text', () => index.query({ text: 'animals 99', limit: 100 }))
    console.log(
      `10k-image index: insert ${insertMs.toFixed(0)} ms; per query: ${Object.entries(timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)} ms`)
        .join(', ')}`,
    )
    for (const [name, ms] of Object.entries(timings)) expect(ms, name).toBeLessThan(100)
    expect(index.query({ limit: 100, offset: 5000 }).items).toHaveLength(100)
    // The sort and the filters use the indexes rather than sorting the whole table.
    const plan = index.explain('SELECT id FROM images ORDER BY created_ms DESC, id DESC LIMIT 100')
    expect(plan.join(' ')).toMatch(/USING (COVERING )?INDEX images_created/)
    expect(plan.join(' ')).not.toMatch(/TEMP B-TREE/)
    const favorites = index.explain(
      'SELECT id FROM images WHERE favorite = ? ORDER BY created_ms DESC, id DESC LIMIT 100',
      1,
    )
    expect(favorites.join(' ')).toMatch(/INDEX images_favorite/)
    expect(favorites.join(' ')).not.toMatch(/TEMP B-TREE/)
    index.close()
  })
})
