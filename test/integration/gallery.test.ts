/**
 * The gallery end to end: the real app (createApp with the real inference host child process and the
 * committed emoji32 pack) through the contract dispatcher, real SQLite and real files in a temporary folder.
 * Jobs save their images; the gallery lists, searches, filters, sorts and pages them; marks survive a rebuild
 * and a lost or damaged index; files changed outside the app are noticed; delete and undo; thumbnails over
 * serve mode's HTTP; an unwritable gallery folder; and a host killed in the middle of a batch.
 */
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Client } from '../../common/client.ts'
import type { GalleryChange } from '../../common/gallery.ts'
import type { GenerateRequest, GenerationResult } from '../../common/generation.ts'
import type { AppErrorShape, Result } from '../../common/result.ts'
import type { JobProgress } from '../../common/types.ts'
import { type App, createApp } from '../../main/app/createApp.ts'
import { decodePngRgb } from '../../main/engine/output/png.ts'
import { galleryPaths, layoutOf } from '../../main/gallery/galleryFiles.ts'
import { childProcessLauncher } from '../../main/host/childProcessLauncher.ts'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { filesIn, makePng } from '../support/gallery.ts'
import { memoryTransport } from '../support/memoryTransport.ts'
import { BUILT_HOST, requireBuild, tempDir } from '../support/testApp.ts'

let dataDir: string
let app: App
let client: Client
let gallery: string
const changes: GalleryChange[] = []
const progress: JobProgress[] = []

/** Starts the app on `dataDir` (a fresh one the first time), as serve mode does, scanning on every listing. */
async function start(): Promise<void> {
  app = await createApp({
    shell: 'serve',
    dataDir,
    launcher: childProcessLauncher(BUILT_HOST),
    gallery: { rescanIntervalMs: 0 },
  })
  await app.host.start()
  client = memoryTransport(app.dispatch, app.events).client
  client.gallery.onChange((c) => changes.push(c))
  client.jobs.onProgress((p) => progress.push(p))
}

async function restart(damage?: () => void): Promise<void> {
  await app.close()
  damage?.()
  await start()
}

beforeAll(async () => {
  requireBuild()
  dataDir = tempDir('gallery-app')
  gallery = path.join(dataDir, 'gallery')
  await start()
})

afterAll(async () => {
  await app?.close()
})

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`)
  return result.value
}

function errorOf(result: Result<unknown>): AppErrorShape {
  if (result.ok) throw new Error('a failure was expected')
  return result.error
}

async function run(request: GenerateRequest): Promise<GenerationResult> {
  const { jobId } = unwrap(await client.jobs.submit(request))
  return unwrap(await client.jobs.wait({ jobId }))
}

async function list(query: Parameters<Client['gallery']['list']>[0] = {}) {
  return unwrap(await client.gallery.list({ limit: 500, ...query }))
}

async function ids(query: Parameters<Client['gallery']['list']>[0] = {}): Promise<string[]> {
  return (await list(query)).items.map((i) => i.id)
}

function fileOf(id: string): string {
  return path.join(gallery, ...id.split('/'))
}

/** The PNGs in the gallery folder, as ids; fails on any leftover temporary file. */
function pngsOnDisk(): string[] {
  const all = filesIn(gallery)
  expect(all.filter((f) => f.endsWith('.tmp'))).toEqual([])
  return all.filter((f) => f.toLowerCase().endsWith('.png'))
}

/** The index and the files agree: every listed image has its file and every PNG is listed. */
async function expectConsistent(): Promise<void> {
  const listed = await list()
  expect(listed.total).toBe(listed.items.length)
  expect(listed.items.map((i) => i.id).sort()).toEqual(pngsOnDisk())
}

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now()
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

let jobA: GenerationResult
let jobB: GenerationResult
let jobC: GenerationResult
let saveOrder: string[]

describe('saving and browsing', () => {
  it('saves every image of every job (compare: every mode) atomically, in job order, and announces them', async () => {
    jobA = await run({ mode: '1step', class: 0, seed: 42, n: 3 })
    jobB = await run({ mode: '2step', class: 5, seed: 7, n: 2 })
    jobC = await run({ mode: 'compare', class: 11, seed: 3 })
    saveOrder = []
    for (const job of [jobA, jobB, jobC]) {
      expect(job.galleryError).toBeNull()
      for (const image of job.images) {
        const id = image.galleryId as string
        expect(id).toMatch(
          new RegExp(`^\\d{4}-\\d\\d-\\d\\d/\\d{6}-emoji32-${image.mode}-${image.seed}(-\\d+)?\\.png$`),
        )
        // The file holds exactly the generated PNG (with its metadata).
        expect(Buffer.compare(fs.readFileSync(fileOf(id)), Buffer.from(image.png))).toBe(0)
        saveOrder.push(id)
      }
    }
    expect(jobC.images.map((i) => i.mode).sort()).toEqual(['1step', '2step', 'ar', 'exact', 'hybrid'])
    expect(saveOrder).toHaveLength(10)
    expect(new Set(saveOrder).size).toBe(10)
    const announced = changes.flatMap((c) => c.added)
    expect(announced).toEqual(saveOrder)
    expect(pngsOnDisk()).toEqual([...saveOrder].sort())
  })

  it('lists newest first by default and oldest first on request, with the metadata of each image', async () => {
    const newest = await ids()
    expect(newest).toHaveLength(10)
    expect(await ids({ sort: 'oldest' })).toEqual([...newest].reverse())
    // Jobs were saved one after the other: A's images are older than B's, B's than C's.
    const rank = (id: string) => newest.indexOf(id)
    const worst = (job: GenerationResult) => Math.min(...job.images.map((i) => rank(i.galleryId as string)))
    const best = (job: GenerationResult) => Math.max(...job.images.map((i) => rank(i.galleryId as string)))
    expect(best(jobC)).toBeLessThan(worst(jobB))
    expect(best(jobB)).toBeLessThan(worst(jobA))

    const image = jobC.images.find((i) => i.mode === 'hybrid')
    const item = unwrap(await client.gallery.get({ id: image?.galleryId as string }))
    expect(item).toMatchObject({
      packId: 'emoji32',
      mode: 'hybrid',
      classIndex: 11,
      className: jobC.className,
      seed: 3,
      width: 32,
      height: 32,
      favorite: false,
      rating: 0,
      bytes: image?.png.length,
    })
    expect(item.packVersion).toMatch(/\S/)
    expect(item.timings?.totalMs).toBeGreaterThan(0)
    expect(JSON.parse(item.metadata as string)).toMatchObject({
      mode: 'hybrid',
      seed: 3,
      class: { index: 11 },
    })
    expect(Date.parse(item.createdAt)).toBeGreaterThan(Date.now() - 10 * 60_000)
  })

  it('searches (every word, case-insensitive) and filters by pack, class, mode, favorite and time', async () => {
    expect((await list({ text: 'EMOJI32 2step' })).total).toBe(3) // B's two and C's 2step
    expect(
      (await list({ text: (jobB.className ?? '').split(' / ')[1]?.split(' ')[0]?.toUpperCase() })).total,
    ).toBe(2)
    expect(await ids({ text: '43' })).toEqual([jobA.images[1]?.galleryId])
    expect((await list({ text: 'emoji32 nothing-like-this' })).total).toBe(0)
    expect((await list({ packId: 'emoji32' })).total).toBe(10)
    expect((await list({ packId: 'smoke' })).total).toBe(0)
    expect((await list({ classIndex: 0 })).total).toBe(3)
    expect(await ids({ mode: 'ar' })).toEqual([jobC.images.find((i) => i.mode === 'ar')?.galleryId])
    expect((await list({ favorite: false })).total).toBe(10)
    expect((await list({ favorite: true })).total).toBe(0)
    const hourAgo = new Date(Date.now() - 3600_000).toISOString()
    const inAnHour = new Date(Date.now() + 3600_000).toISOString()
    expect((await list({ from: hourAgo, to: inAnHour })).total).toBe(10)
    expect((await list({ from: inAnHour })).total).toBe(0)
    expect((await list({ to: hourAgo })).total).toBe(0)
    const refused = await client.gallery.list({ mode: 'warp' as 'ar' })
    expect(errorOf(refused).code).toBe('invalid_input')
  })

  it('pages with offset and limit, each page with the total', async () => {
    const all = await ids()
    const pages = []
    for (let offset = 0; offset < 12; offset += 4) {
      const page = unwrap(await client.gallery.list({ offset, limit: 4 }))
      expect(page.total).toBe(10)
      pages.push(...page.items.map((i) => i.id))
    }
    expect(pages).toEqual(all)
  })
})

describe('marks', () => {
  it('survive a rebuild', async () => {
    const [a, b, c] = [jobA.images[0], jobB.images[1], jobC.images[2]].map((i) => i?.galleryId as string)
    const marked = unwrap(await client.gallery.mark({ ids: [a as string, b as string], favorite: true }))
    expect(marked.map((i) => i.favorite)).toEqual([true, true])
    unwrap(await client.gallery.mark({ ids: [c as string], rating: 4 }))
    expect(changes.at(-1)).toEqual({ added: [], removed: [], updated: [c] })
    const missing = await client.gallery.mark({ ids: ['2020-01-01/none.png'], favorite: true })
    expect(errorOf(missing)).toMatchObject({ code: 'not_found' })
    expect(errorOf(missing).message).toContain('2020-01-01/none.png')

    const rebuilt = unwrap(await client.gallery.rebuild({}))
    expect(rebuilt).toMatchObject({ indexed: 10, added: 0, pruned: 0 })
    expect((await ids({ favorite: true })).sort()).toEqual([a, b].sort())
    expect(unwrap(await client.gallery.get({ id: c as string })).rating).toBe(4)
  })

  it('survive a deleted index: it is rebuilt from the PNGs with no image lost', async () => {
    const favorites = (await ids({ favorite: true })).sort()
    const db = galleryPaths(gallery).db
    await restart(() => {
      for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true })
    })
    expect(await ids({ sort: 'oldest' })).toHaveLength(10)
    expect((await ids({ favorite: true })).sort()).toEqual(favorites)
    expect(unwrap(await client.gallery.get({ id: jobC.images[2]?.galleryId as string })).rating).toBe(4)
  })
})

describe('a damaged index', () => {
  const damages: [string, (db: string) => void][] = [
    ['truncated', (db) => fs.truncateSync(db, Math.floor(fs.statSync(db).size / 3))],
    [
      'overwritten with garbage',
      (db) => {
        const fd = fs.openSync(db, 'r+')
        fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0)
        fs.closeSync(fd)
      },
    ],
  ]
  for (const [how, damage] of damages) {
    it(`${how}: is set aside and rebuilt from the PNGs, with no image and no mark lost`, async () => {
      const before = (await list()).items.map(({ id, favorite, rating }) => ({ id, favorite, rating }))
      const db = galleryPaths(gallery).db
      const store = galleryPaths(gallery).store
      const asideBefore = fs.readdirSync(store).filter((n) => n.startsWith('index.sqlite.damaged-')).length
      await restart(() => {
        for (const f of [`${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true })
        damage(db)
      })
      const after = (await list()).items.map(({ id, favorite, rating }) => ({ id, favorite, rating }))
      expect(after).toEqual(before)
      const aside = fs.readdirSync(store).filter((n) => n.startsWith('index.sqlite.damaged-'))
      expect(aside.length).toBe(asideBefore + 1)
      await expectConsistent()
    })
  }
})

describe('changes made outside the app', () => {
  it('a file deleted outside is pruned from the index', async () => {
    const id = jobA.images[2]?.galleryId as string
    fs.rmSync(fileOf(id))
    const listed = await ids()
    expect(listed).not.toContain(id)
    expect(listed).toHaveLength(9)
    expect(changes.some((c) => c.removed.includes(id))).toBe(true)
    expect(errorOf(await client.gallery.get({ id })).code).toBe('not_found')
    await expectConsistent()
  })

  it('a file added by hand is picked up, ours or not', async () => {
    fs.mkdirSync(path.join(gallery, 'by hand'), { recursive: true })
    fs.copyFileSync(fileOf(jobB.images[0]?.galleryId as string), path.join(gallery, 'by hand', 'copy.png'))
    fs.writeFileSync(
      path.join(gallery, 'by hand', 'photo.png'),
      makePng({ foreign: true, width: 20, height: 10 }),
    )
    const listed = await list()
    expect(listed.total).toBe(11)
    const copy = listed.items.find((i) => i.id === 'by hand/copy.png')
    expect(copy).toMatchObject({ packId: 'emoji32', mode: '2step', seed: jobB.images[0]?.seed })
    const photo = listed.items.find((i) => i.id === 'by hand/photo.png')
    expect(photo).toMatchObject({
      packId: null,
      mode: null,
      seed: null,
      metadata: null,
      width: 20,
      height: 10,
    })
    expect(changes.some((c) => c.added.includes('by hand/photo.png'))).toBe(true)
    await expectConsistent()
  })
})

describe('delete and undo', () => {
  it('delete moves the files to the trash; undo puts them back with their marks', async () => {
    const favorite = (await ids({ favorite: true }))[0] as string
    const plain = jobC.images[0]?.galleryId as string
    const total = (await list()).total
    const deleted = unwrap(await client.gallery.delete({ ids: [favorite, plain] }))
    expect(deleted.deleted.sort()).toEqual([favorite, plain].sort())
    expect(deleted.undoToken).toMatch(/^[0-9a-f-]{36}$/)
    const trash = path.join(galleryPaths(gallery).trash, deleted.undoToken)
    for (const id of [favorite, plain]) {
      expect(fs.existsSync(fileOf(id))).toBe(false)
      expect(fs.existsSync(path.join(trash, ...id.split('/')))).toBe(true)
    }
    expect((await list()).total).toBe(total - 2)
    expect(changes.at(-1)?.removed.sort()).toEqual([favorite, plain].sort())
    const marks = JSON.parse(fs.readFileSync(galleryPaths(gallery).marks, 'utf8'))
    expect(Object.keys(marks.marks)).not.toContain(favorite)
    await expectConsistent()

    const restored = unwrap(await client.gallery.undoDelete({ undoToken: deleted.undoToken }))
    expect(restored.map((i) => i.id).sort()).toEqual([favorite, plain].sort())
    expect(restored.find((i) => i.id === favorite)?.favorite).toBe(true)
    expect((await list()).total).toBe(total)
    expect(fs.existsSync(trash)).toBe(false)
    expect(JSON.parse(fs.readFileSync(galleryPaths(gallery).marks, 'utf8')).marks[favorite]).toEqual({
      favorite: true,
      rating: 0,
    })
    await expectConsistent()

    const again = await client.gallery.undoDelete({ undoToken: deleted.undoToken })
    expect(errorOf(again).code).toBe('not_found')
    const nothing = await client.gallery.delete({ ids: ['2020-01-01/none.png'] })
    expect(errorOf(nothing).code).toBe('not_found')
  })
})

describe('thumbnails and images over HTTP (serve mode)', () => {
  const token = 'gallery-test-token'
  let server: http.Server
  let port: number

  beforeAll(async () => {
    server = createServeServer({
      dispatch: app.dispatch,
      events: app.events,
      token,
      staticDir: tempDir('gallery-static'),
      galleryDir: () => app.settings.get().galleryDir,
      galleryThumb: (urlPath) => app.gallery.thumbnail(urlPath),
      loopbackOnly: true,
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  function get(pathname: string, withToken = true): Promise<{ status: number; type: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = withToken ? { authorization: `Bearer ${token}` } : {}
      const req = http.request({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            body: Buffer.concat(chunks),
          }),
        )
      })
      req.on('error', reject)
      req.end()
    })
  }

  const urlOf = (id: string) => id.split('/').map(encodeURIComponent).join('/')

  it('serves a 128 px nearest-neighbour thumbnail, cached in .dd-studio/thumbs', async () => {
    const id = jobA.images[0]?.galleryId as string
    const thumb = await get(`/gallery-thumb/${urlOf(id)}`)
    expect(thumb.status).toBe(200)
    expect(thumb.type).toBe('image/png')
    const small = decodePngRgb(fs.readFileSync(fileOf(id)))
    const big = decodePngRgb(thumb.body)
    expect([big.width, big.height]).toEqual([128, 128])
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x++) {
        const s = ((y >> 2) * 32 + (x >> 2)) * 3
        const t = (y * 128 + x) * 3
        expect([big.rgb[t], big.rgb[t + 1], big.rgb[t + 2]]).toEqual([
          small.rgb[s],
          small.rgb[s + 1],
          small.rgb[s + 2],
        ])
      }
    }
    const cached = fs.readdirSync(galleryPaths(gallery).thumbs)
    expect(
      cached.some(
        (n) => Buffer.compare(fs.readFileSync(path.join(galleryPaths(gallery).thumbs, n)), thumb.body) === 0,
      ),
    ).toBe(true)
    const spaced = await get(`/gallery-thumb/${urlOf('by hand/photo.png')}`)
    expect(decodePngRgb(spaced.body)).toMatchObject({ width: 120, height: 60 })
    const image = await get(`/gallery/${urlOf(id)}`)
    expect(image.status).toBe(200)
    expect(Buffer.compare(image.body, fs.readFileSync(fileOf(id)))).toBe(0)
  })

  it('needs the token and refuses the app data folder, traversal and missing images', async () => {
    const id = jobA.images[0]?.galleryId as string
    expect((await get(`/gallery-thumb/${urlOf(id)}`, false)).status).toBe(401)
    const thumbName = fs.readdirSync(galleryPaths(gallery).thumbs)[0] as string
    for (const attempt of [
      '/gallery/.dd-studio/index.sqlite',
      '/gallery/.dd-studio/marks.json',
      `/gallery/.dd-studio/thumbs/${thumbName}`,
      `/gallery/%2Edd-studio/thumbs/${thumbName}`,
      `/gallery-thumb/.dd-studio/thumbs/${thumbName}`,
      '/gallery-thumb/..%2f..%2fsettings.json',
      '/gallery-thumb/..%2f..%2fevil.png',
    ]) {
      expect((await get(attempt)).status, attempt).toBe(403)
    }
    expect((await get('/gallery-thumb/2020-01-01/none.png')).status).toBe(404)
    expect((await get('/gallery-thumb/%00.png')).status).toBe(400)
  })
})

describe('an unwritable gallery folder', () => {
  it('the job still succeeds, galleryError names the folder, nothing is half-written, and the app keeps going', async () => {
    const original = app.settings.get().galleryDir
    const before = pngsOnDisk()
    const blocker = path.join(tempDir('gallery-blocked'), 'a-file')
    fs.writeFileSync(blocker, 'not a folder')
    const unusable = path.join(blocker, 'gallery')
    unwrap(await client.settings.update({ galleryDir: unusable }))

    const result = await run({ mode: '1step', class: 2, seed: 900, n: 2 })
    expect(result.images).toHaveLength(2)
    expect(result.images.map((i) => i.galleryId)).toEqual([null, null])
    expect(result.galleryError).toContain(unusable)
    expect(result.images[0]?.png.length).toBeGreaterThan(100)
    const listed = errorOf(await client.gallery.list({}))
    expect(listed.code).toBe('unavailable')
    expect(listed.message).toContain(unusable)

    // A folder that opens, but where today's image folder cannot be made: no file, no row.
    const blockedDay = tempDir('gallery-day')
    for (const offset of [0, 1]) {
      const day = layoutOf({
        packId: 'x',
        mode: 'x',
        seed: 0,
        at: new Date(Date.now() + offset * 86_400_000),
      }).dir
      fs.writeFileSync(path.join(blockedDay, day), 'in the way')
    }
    const filesBefore = filesIn(blockedDay)
    unwrap(await client.settings.update({ galleryDir: blockedDay }))
    const second = await run({ mode: '1step', class: 2, seed: 901, n: 3 })
    expect(second.images.map((i) => i.galleryId)).toEqual([null, null, null])
    expect(second.galleryError).toContain(`0 of 3 images saved to the gallery folder ${blockedDay}`)
    expect(filesIn(blockedDay)).toEqual(filesBefore)
    expect((await list()).total).toBe(0)

    unwrap(await client.settings.update({ galleryDir: original }))
    expect(pngsOnDisk()).toEqual(before)
    const third = await run({ mode: '1step', class: 2, seed: 902 })
    expect(third.galleryError).toBeNull()
    expect(third.images[0]?.galleryId).toMatch(/-emoji32-1step-902\.png$/)
    await expectConsistent()
  })
})

describe('a host killed during a batch job', () => {
  it('leaves no partial PNG, no orphan row, and an index equal to the files', async () => {
    const before = pngsOnDisk()
    const listedBefore = (await list()).total
    const status = app.host.status()
    const { jobId } = unwrap(await client.jobs.submit({ mode: 'ar', class: 1, seed: 61, n: 64 }))
    const queued = unwrap(await client.jobs.submit({ mode: '1step', class: 1, seed: 62, n: 4 }))
    await until(() => progress.some((p) => p.jobId === jobId), 'the batch to start')
    process.kill(status.pid as number, 'SIGKILL')
    expect(errorOf(await client.jobs.wait({ jobId })).code).toBe('host_crashed')
    expect(errorOf(await client.jobs.wait({ jobId: queued.jobId })).code).toBe('host_crashed')

    expect(pngsOnDisk()).toEqual(before)
    expect((await list()).total).toBe(listedBefore)
    await expectConsistent()
    expect(unwrap(await client.gallery.rebuild({}))).toMatchObject({
      added: 0,
      pruned: 0,
      indexed: listedBefore,
    })

    // The restarted host's next batch is saved whole.
    const after = await run({ mode: '1step', class: 1, seed: 63, n: 4 })
    expect(after.galleryError).toBeNull()
    expect(after.images.every((i) => i.galleryId !== null)).toBe(true)
    expect(pngsOnDisk()).toEqual([...before, ...after.images.map((i) => i.galleryId as string)].sort())
    await expectConsistent()
  })
})
