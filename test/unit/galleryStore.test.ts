/**
 * The gallery store below the contract, on real files in a temporary folder with real SQLite: file layout and
 * saving without overwriting, the folder scan, PNG metadata as outside input, marks.json, the trash folder,
 * thumbnails, and the service fed with finished-job results built from PNGs like the engine's.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import type { GalleryChange } from '../../common/gallery.ts'
import type { GenerationResult } from '../../common/generation.ts'
import { decodePngRgb, encodePng } from '../../main/engine/output/png.ts'
import {
  galleryPaths,
  layoutOf,
  listGalleryFiles,
  resolveGalleryImage,
  savePng,
} from '../../main/gallery/galleryFiles.ts'
import { readPngFacts } from '../../main/gallery/pngInfo.ts'
import { ensureThumbnail, THUMB_SIZE, thumbnailPixels } from '../../main/gallery/thumbnails.ts'
import { TRASH_KEEP_MS } from '../../main/gallery/trash.ts'
import { GalleryService } from '../../main/services/galleryService.ts'
import { filesIn, makePng, type TestImage } from '../support/gallery.ts'
import { tempDir } from '../support/testApp.ts'

const AT = new Date(2026, 2, 14, 9, 26, 53) // local time, as the layout uses

function service(root: string, extra: { now?: () => Date; rescanIntervalMs?: number } = {}) {
  const changes: GalleryChange[] = []
  const logs: string[] = []
  const gallery = new GalleryService({
    galleryDir: () => root,
    log: (level, message) => logs.push(`${level}: ${message}`),
    onChange: (c) => changes.push(c),
    rescanIntervalMs: extra.rescanIntervalMs ?? 0,
    now: extra.now ?? (() => AT),
  })
  return { gallery, changes, logs }
}

function resultOf(images: (TestImage & { png?: Uint8Array })[]): GenerationResult {
  return {
    jobId: '00000000-0000-4000-8000-000000000000',
    packId: 'emoji32',
    classIndex: 0,
    className: 'noto / Animals',
    prompt: null,
    promptNotes: [],
    seed: 42,
    modes: ['1step'],
    provider: 'cpu',
    images: images.map((image, index) => ({
      index,
      seed: image.seed ?? 42 + index,
      mode: image.mode ?? '1step',
      width: 32,
      height: 32,
      png: image.png ?? makePng({ seed: 42 + index, ...image }),
      ids: [],
      timings: { tokenMs: 1, decodeMs: 1, otherMs: 1, totalMs: 3 },
      agreement: null,
      galleryId: null,
    })),
    modeTimings: {},
    modeSteps: {},
    loadMs: 0,
    agreement: {},
    galleryError: null,
  }
}

describe('gallery files', () => {
  it('names files <date>/<HHMMSS>-<pack>-<mode>-<seed>.png in local time and never overwrites', async () => {
    expect(layoutOf({ packId: 'emoji32', mode: '2step', seed: 7, at: AT })).toEqual({
      dir: '2026-03-14',
      stem: '092653-emoji32-2step-7',
    })
    // Nothing from a name part can add a separator or a dot segment.
    expect(layoutOf({ packId: '../x', mode: 'a/b', seed: 1, at: AT }).stem).toBe('092653-___x-a_b-1')
    const root = tempDir('gfiles')
    const name = { packId: 'emoji32', mode: '1step', seed: 5, at: AT }
    const a = await savePng(root, name, makePng({ seed: 5 }))
    const b = await savePng(root, name, makePng({ seed: 6 }))
    const c = await savePng(root, name, makePng({ seed: 7 }))
    expect([a.id, b.id, c.id]).toEqual([
      '2026-03-14/092653-emoji32-1step-5.png',
      '2026-03-14/092653-emoji32-1step-5-2.png',
      '2026-03-14/092653-emoji32-1step-5-3.png',
    ])
    expect(fs.readFileSync(a.file)).toEqual(makePng({ seed: 5 }))
    expect(filesIn(root)).toEqual([a.id, b.id, c.id].sort()) // no temporary files left
  })

  it('a save that fails after its temporary file was written leaves nothing behind', async () => {
    const root = tempDir('gfiles')
    const name = { packId: 'emoji32', mode: '1step', seed: 5, at: AT }
    const { dir, stem } = layoutOf(name)
    // Every name it could take is taken (by folders, so nothing could be overwritten even by mistake).
    for (let n = 1; n <= 1000; n++) {
      fs.mkdirSync(path.join(root, dir, `${stem}${n === 1 ? '' : `-${n}`}.png`), { recursive: true })
    }
    await expect(savePng(root, name, makePng())).rejects.toThrow(/no free file name/)
    expect(filesIn(root)).toEqual([])
  })

  it('lists PNGs only: not the app data folder, hidden or temporary files, links or other types', async () => {
    const root = tempDir('gfiles')
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true })
    fs.mkdirSync(path.join(root, '.dd-studio', 'thumbs'), { recursive: true })
    fs.writeFileSync(path.join(root, 'top.png'), makePng())
    fs.writeFileSync(path.join(root, 'a', 'b', 'deep.PNG'), makePng())
    fs.writeFileSync(path.join(root, 'a', 'notes.txt'), 'x')
    fs.writeFileSync(path.join(root, 'a', '.hidden.png'), makePng())
    fs.writeFileSync(path.join(root, 'a', '.x.png.abc.tmp'), 'partial')
    fs.writeFileSync(path.join(root, '.dd-studio', 'thumbs', 't.png'), makePng())
    fs.symlinkSync(path.join(root, 'top.png'), path.join(root, 'link.png'))
    const listing = await listGalleryFiles(root)
    expect(listing.files.map((f) => f.id)).toEqual(['a/b/deep.PNG', 'top.png'])
    expect(listing.temps).toEqual([path.join(root, 'a', '.x.png.abc.tmp')])
    await expect(listGalleryFiles(path.join(root, 'missing'))).rejects.toThrow(/ENOENT/)
  })

  it('the image routes refuse the app data folder, hidden files and links into them', async () => {
    const root = tempDir('gfiles')
    const store = galleryPaths(root)
    fs.mkdirSync(store.thumbs, { recursive: true })
    fs.writeFileSync(path.join(store.thumbs, 't.png'), makePng())
    fs.writeFileSync(path.join(root, 'ok.png'), makePng())
    fs.symlinkSync(path.join(store.thumbs, 't.png'), path.join(root, 'sneaky.png'))
    const exts = ['.png']
    expect(await resolveGalleryImage(root, 'ok.png', exts)).toMatchObject({ ok: true })
    for (const attempt of [
      '.dd-studio/thumbs/t.png',
      '%2edd-studio/thumbs/t.png',
      '.DD-STUDIO/thumbs/t.png',
      'x/..%2f.dd-studio/thumbs/t.png',
      'sneaky.png',
    ]) {
      const found = await resolveGalleryImage(root, attempt, exts)
      expect(found.ok, attempt).toBe(false)
      expect(found.ok ? 0 : found.status, attempt).toBe(403)
    }
  })
})

describe('PNG metadata is outside input', () => {
  it('reads our metadata, a parameters text, and nulls for anything missing or malformed', () => {
    const ours = readPngFacts(makePng({ mode: 'ar', seed: 9, classIndex: 3, className: 'Faces' }), 'a.png')
    expect(ours).toMatchObject({
      width: 32,
      height: 32,
      packId: 'emoji32',
      mode: 'ar',
      seed: 9,
      classIndex: 3,
    })
    expect(ours.timings).toEqual({ tokenMs: 1, decodeMs: 2, otherMs: 0.5, totalMs: 3.5 })
    const foreign = readPngFacts(
      makePng({ foreign: true, width: 40, height: 20, text: { parameters: 'a cat\nSteps: 20, Seed: 5' } }),
      'b.png',
    )
    expect(foreign).toMatchObject({
      width: 40,
      height: 20,
      packId: null,
      mode: null,
      seed: null,
      metadata: null,
    })
    expect(foreign.parameters).toBe('a cat\nSteps: 20, Seed: 5')
    const bad = JSON.stringify({ pack: { id: 7 }, mode: 'warp', seed: -1, class: { index: 2, name: 'ok' } })
    const odd = readPngFacts(encodePng(new Uint8Array(12), 2, 2, { 'dd-studio': bad }), 'c.png')
    expect(odd).toMatchObject({ packId: null, mode: null, seed: null, classIndex: 2, className: 'ok' })
    const notJson = readPngFacts(encodePng(new Uint8Array(12), 2, 2, { 'dd-studio': '{oops' }), 'd.png')
    expect(notJson.metadata).toBeNull()
  })

  it('refuses what is not a whole PNG, naming the file', () => {
    const png = makePng()
    expect(() => readPngFacts(Buffer.from('hello'), 'x.png')).toThrow(/^x\.png: not a PNG file/)
    expect(() => readPngFacts(png.subarray(0, png.length - 30), 'y.png')).toThrow(/^y\.png: .*truncated/)
    const flipped = Buffer.from(png)
    flipped[50] = (flipped[50] as number) ^ 0xff // inside the first text chunk's data
    expect(() => readPngFacts(flipped, 'z.png')).toThrow(/^z\.png: .*CRC mismatch/)
  })
})

describe('thumbnails', () => {
  it('enlarge small images by a whole factor with nearest neighbour', () => {
    const { rgb, width, height } = decodePngRgb(makePng({ seed: 3 }))
    const thumb = thumbnailPixels({ rgb, width, height })
    expect([thumb.width, thumb.height]).toEqual([THUMB_SIZE, THUMB_SIZE])
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x++) {
        const s = ((y >> 2) * 32 + (x >> 2)) * 3
        const t = (y * 128 + x) * 3
        if (thumb.rgb[t] !== rgb[s] || thumb.rgb[t + 1] !== rgb[s + 1] || thumb.rgb[t + 2] !== rgb[s + 2])
          throw new Error(`pixel ${x},${y} is not source pixel ${x >> 2},${y >> 2}`)
      }
    }
    const odd = thumbnailPixels({ rgb: new Uint8Array(48 * 20 * 3), width: 48, height: 20 })
    expect([odd.width, odd.height]).toEqual([96, 40])
  })

  it('reduce large images to 128 px on the longest side by averaging', () => {
    const width = 256
    const height = 128
    const rgb = new Uint8Array(width * height * 3)
    // Columns alternate black and white: every 2x2 block averages to mid grey.
    for (let i = 0; i < width * height; i++) rgb.fill(i % 2 === 0 ? 0 : 255, i * 3, i * 3 + 3)
    const thumb = thumbnailPixels({ rgb, width, height })
    expect([thumb.width, thumb.height]).toEqual([128, 64])
    expect(new Set(thumb.rgb)).toEqual(new Set([128]))
  })

  it('are cached per image version and fall back to the image for formats the decoder cannot read', async () => {
    const root = tempDir('gthumb')
    const thumbs = galleryPaths(root).thumbs
    const source = path.join(root, 'a.png')
    fs.writeFileSync(source, makePng())
    const pending = new Map()
    const first = await ensureThumbnail(thumbs, 'a.png', source, 1000, pending)
    expect(first.kind).toBe('thumb')
    const file = first.kind === 'thumb' ? first.file : ''
    expect(decodePngRgb(fs.readFileSync(file))).toMatchObject({ width: 128, height: 128 })
    const again = await ensureThumbnail(thumbs, 'a.png', source, 1000, pending)
    expect(again).toEqual(first)
    const changed = await ensureThumbnail(thumbs, 'a.png', source, 2000, pending)
    expect(changed.kind === 'thumb' && changed.file !== file).toBe(true)
    // Colour type 6 (RGBA) in a valid IHDR: an image the thumbnailer does not decode.
    const rgba = Buffer.from(makePng())
    rgba[25] = 6
    rgba.writeUInt32BE(zlib.crc32(rgba.subarray(12, 29)), 29)
    const rgbaFile = path.join(root, 'rgba.png')
    fs.writeFileSync(rgbaFile, rgba)
    expect((await ensureThumbnail(thumbs, 'rgba.png', rgbaFile, 1, pending)).kind).toBe('original')
  })
})

describe('gallery service', () => {
  it('saves a job in order, fills in galleryId, indexes and announces the images', async () => {
    const root = tempDir('gsvc')
    const { gallery, changes } = service(root)
    const result = resultOf([{ mode: '1step' }, { mode: '1step' }, { mode: 'ar' }])
    await gallery.saveJob(result)
    expect(result.galleryError).toBeNull()
    const ids = result.images.map((i) => i.galleryId)
    expect(ids).toEqual([
      '2026-03-14/092653-emoji32-1step-42.png',
      '2026-03-14/092653-emoji32-1step-43.png',
      '2026-03-14/092653-emoji32-ar-44.png',
    ])
    expect(filesIn(root)).toEqual([...ids].sort())
    expect(changes.at(-1)).toEqual({ added: ids, removed: [], updated: [] })
    const page = await gallery.list({ sort: 'oldest' })
    expect(page.items.map((i) => i.id)).toEqual(ids)
    expect(page.items[2]).toMatchObject({
      mode: 'ar',
      seed: 44,
      packId: 'emoji32',
      className: 'noto / Animals',
    })
    await gallery.close()
  })

  it('an image that is not a PNG is not written; the images before it are kept and the error says so', async () => {
    const root = tempDir('gsvc')
    const { gallery } = service(root)
    const result = resultOf([{}, { png: Buffer.from('not a png at all') }, {}])
    await gallery.saveJob(result)
    expect(result.images.map((i) => i.galleryId)).toEqual([
      '2026-03-14/092653-emoji32-1step-42.png',
      null,
      null,
    ])
    expect(result.galleryError).toContain(`1 of 3 images saved to the gallery folder ${root}`)
    expect(result.galleryError).toContain('not a PNG file')
    expect(filesIn(root)).toEqual(['2026-03-14/092653-emoji32-1step-42.png'])
    expect((await gallery.list({})).total).toBe(1)
    await gallery.close()
  })

  it('indexes PNGs from elsewhere with nulls, skips broken ones with a warning, and cleans up crash leftovers', async () => {
    const root = tempDir('gsvc')
    fs.mkdirSync(path.join(root, 'mine'))
    fs.writeFileSync(path.join(root, 'mine', 'photo.png'), makePng({ foreign: true }))
    fs.writeFileSync(path.join(root, 'broken.png'), 'not a png')
    const stale = path.join(root, 'mine', '.x.png.0123.tmp')
    const fresh = path.join(root, 'mine', '.y.png.4567.tmp')
    fs.writeFileSync(stale, 'half')
    fs.writeFileSync(fresh, 'half')
    const old = new Date(Date.now() - 3600_000)
    fs.utimesSync(stale, old, old)
    const { gallery, logs } = service(root)
    const page = await gallery.list({})
    expect(page.items.map((i) => i.id)).toEqual(['mine/photo.png'])
    expect(page.items[0]).toMatchObject({ packId: null, mode: null, seed: null, metadata: null, width: 32 })
    expect(logs.filter((l) => l.includes('broken.png'))).toHaveLength(1)
    await gallery.list({})
    expect(
      logs.filter((l) => l.includes('broken.png')),
      'warned once per file version',
    ).toHaveLength(1)
    expect(fs.existsSync(stale)).toBe(false)
    expect(fs.existsSync(fresh), 'a temporary file may be a save in progress').toBe(true)
    await gallery.close()
  })

  it('between scans, a listing still prunes images whose file is gone, and get finds a new file', async () => {
    const root = tempDir('gsvc')
    const { gallery, changes } = service(root, { rescanIntervalMs: 3600_000 })
    const result = resultOf([{}, {}, {}])
    await gallery.saveJob(result)
    const [a, b] = result.images.map((i) => i.galleryId as string)
    fs.rmSync(path.join(root, ...(a as string).split('/')))
    const page = await gallery.list({ limit: 2, sort: 'oldest' })
    expect(page.items.map((i) => i.id)).not.toContain(a)
    expect(page.items).toHaveLength(2)
    expect(page.total).toBe(2)
    expect(changes.at(-1)).toEqual({ added: [], removed: [a], updated: [] })
    fs.writeFileSync(path.join(root, 'dropped.png'), makePng({ seed: 5 }))
    expect((await gallery.list({})).total, 'no rescan yet').toBe(2)
    expect(await gallery.get('dropped.png')).toMatchObject({ id: 'dropped.png', seed: 5 })
    expect((await gallery.list({})).total).toBe(3)
    await expect(gallery.get(a as string)).rejects.toThrow(/no image/)
    expect(b).toBeDefined()
    await gallery.close()
  })

  it('a damaged marks.json is set aside and the marks come back from the index', async () => {
    const root = tempDir('gsvc')
    const first = service(root)
    const result = resultOf([{}, {}])
    await first.gallery.saveJob(result)
    const id = result.images[0]?.galleryId as string
    await first.gallery.mark({ ids: [id], favorite: true, rating: 3 })
    await first.gallery.close()
    const marksFile = galleryPaths(root).marks
    expect(JSON.parse(fs.readFileSync(marksFile, 'utf8'))).toEqual({
      version: 1,
      marks: { [id]: { favorite: true, rating: 3 } },
    })
    fs.writeFileSync(marksFile, '{"version": 1, "marks": {"x.png": {"favorite": "yes"}}}')
    const second = service(root)
    expect((await second.gallery.get(id)).favorite).toBe(true)
    expect(second.logs.join('\n')).toMatch(/marks .* were unreadable .*favorite/)
    expect(fs.readdirSync(galleryPaths(root).store).some((n) => n.startsWith('marks.json.damaged-'))).toBe(
      true,
    )
    expect(JSON.parse(fs.readFileSync(marksFile, 'utf8')).marks[id]).toEqual({ favorite: true, rating: 3 })
    await second.gallery.close()
  })

  it('follows the gallery folder setting from call to call', async () => {
    const a = tempDir('gsvc')
    const b = tempDir('gsvc')
    let current = a
    const changes: GalleryChange[] = []
    const gallery = new GalleryService({
      galleryDir: () => current,
      log: () => undefined,
      onChange: (c) => changes.push(c),
      now: () => AT,
    })
    await gallery.saveJob(resultOf([{}]))
    current = b
    fs.writeFileSync(path.join(b, 'hand.png'), makePng({ seed: 77 }))
    expect((await gallery.list({})).items.map((i) => i.id)).toEqual(['hand.png'])
    current = a
    expect((await gallery.list({})).items.map((i) => i.id)).toEqual([
      '2026-03-14/092653-emoji32-1step-42.png',
    ])
    await gallery.close()
    await expect(gallery.list({})).rejects.toThrow(/closed/)
  })

  it('empties trash entries older than a few days when the folder is opened', async () => {
    const root = tempDir('gsvc')
    const trash = galleryPaths(root).trash
    const oldToken = '11111111-1111-4111-8111-111111111111'
    const newToken = '22222222-2222-4222-8222-222222222222'
    for (const token of [oldToken, newToken]) {
      fs.mkdirSync(path.join(trash, token, '2026-01-01'), { recursive: true })
      fs.writeFileSync(path.join(trash, token, '2026-01-01', 'a.png'), makePng())
    }
    const old = new Date(Date.now() - TRASH_KEEP_MS - 60_000)
    fs.utimesSync(path.join(trash, oldToken), old, old)
    const { gallery } = service(root)
    await gallery.open()
    expect(fs.readdirSync(trash)).toEqual([newToken])
    await gallery.close()
  })

  it('an undo puts an image back under a fresh name when its old one was taken meanwhile', async () => {
    const root = tempDir('gsvc')
    const { gallery } = service(root)
    const result = resultOf([{}])
    await gallery.saveJob(result)
    const id = result.images[0]?.galleryId as string
    const { undoToken } = await gallery.delete([id])
    fs.writeFileSync(path.join(root, ...id.split('/')), makePng({ seed: 1234 }))
    const restored = await gallery.undoDelete(undoToken)
    expect(restored.map((i) => i.id)).toEqual([id.replace('.png', '-2.png')])
    expect((await gallery.list({})).total).toBe(2)
    expect(fs.readdirSync(galleryPaths(root).trash)).toEqual([])
    await gallery.close()
  })

  it('a trash that cannot restore (the system trash) says so on undo', async () => {
    const root = tempDir('gsvc')
    const gone = tempDir('gsvc-systrash')
    const gallery = new GalleryService({
      galleryDir: () => root,
      log: () => undefined,
      onChange: () => undefined,
      now: () => AT,
      trash: {
        trash: async (_root, _token, id, file) => fs.renameSync(file, path.join(gone, path.basename(id))),
      },
    })
    const result = resultOf([{}])
    await gallery.saveJob(result)
    const { undoToken, deleted } = await gallery.delete([result.images[0]?.galleryId as string])
    expect(deleted).toHaveLength(1)
    expect(fs.readdirSync(gone)).toEqual(['092653-emoji32-1step-42.png'])
    await expect(gallery.undoDelete(undoToken)).rejects.toThrow(/system trash/)
    await gallery.close()
  })
})
