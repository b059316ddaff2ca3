/**
 * Pack example sheets (manifest `examples`, format revision 1.1): what loadPack makes of good, missing and
 * mismatched sheets, what the pack list tells the UI, and the serve route that hands a sheet to the renderer
 * (token, one file per pack and nothing else, 404 for a pack without examples).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodePngRgb, encodePng } from '../../main/engine/output/png.ts'
import { packManifestJsonSchema } from '../../main/engine/packs/jsonSchema.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import { classesOf, type PackManifest } from '../../main/engine/packs/manifest.ts'
import { EventBus } from '../../main/ipc/eventBus.ts'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { PackService } from '../../main/services/packService.ts'
import { COMMITTED_PACKS_DIR, SMOKE_PACK_DIR } from '../support/packs.ts'
import { REPO_ROOT, tempDir } from '../support/testApp.ts'

const DEFAULT_PACK = path.join(COMMITTED_PACKS_DIR, 'emoji32')
// The smoke pack is smaller to copy; run alone without it, the committed pack serves as the source.
const SOURCE = fs.existsSync(path.join(SMOKE_PACK_DIR, 'manifest.json')) ? SMOKE_PACK_DIR : DEFAULT_PACK

function readManifest(dir: string): PackManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as PackManifest
}

function editManifest(dir: string, edit: (m: PackManifest) => void): void {
  const manifest = readManifest(dir)
  edit(manifest)
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2))
}

/** A copy of the source pack under a new id (the manifest is not hashed: editing it keeps the pack valid). */
function copyPack(dest: string, id: string, edit?: (m: PackManifest) => void): string {
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  fs.cpSync(SOURCE, dest, { recursive: true })
  editManifest(dest, (m) => {
    m.id = id
    edit?.(m)
  })
  return dest
}

/** Writes `bytes` as the pack's file `name` and lists it in `files` with its real hash and size. */
function replaceFile(dir: string, name: string, bytes: Uint8Array): void {
  fs.writeFileSync(path.join(dir, name), bytes)
  editManifest(dir, (m) => {
    m.files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }
  })
}

/** A copy without any examples: no entry, no file, nothing in `files` (what a revision 1.0 pack looks like). */
function withoutExamples(dir: string): string {
  fs.rmSync(path.join(dir, 'examples.png'))
  editManifest(dir, (m) => {
    delete m.examples
    delete m.files['examples.png']
  })
  return dir
}

function grey(width: number, height: number): Uint8Array {
  return encodePng(new Uint8Array(width * height * 3).fill(200), width, height)
}

describe('the examples entry of a manifest', () => {
  let tmp: string
  let classes: number
  beforeAll(() => {
    tmp = tempDir('examples')
    classes = classesOf(readManifest(SOURCE)).length
  })
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

  it('matches the JSON Schema the pipeline validates against (models/pack.schema.json)', () => {
    const written = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', 'pack.schema.json'), 'utf8'))
    expect(written).toEqual(packManifestJsonSchema())
  })

  it('the default pack has a checked sheet: one row per class, four 32x32 training images per row', async () => {
    const loaded = await loadPack(DEFAULT_PACK)
    if (!loaded.ok) throw new Error(loaded.problems.join('; '))
    expect(loaded.warnings).toEqual([])
    const manifest = readManifest(DEFAULT_PACK)
    expect(loaded.examples).toEqual({
      file: 'examples.png',
      perClass: 4,
      cell: [32, 32],
      rows: classesOf(manifest).length,
      sha256: manifest.files['examples.png']?.sha256,
    })
    const sheet = decodePngRgb(fs.readFileSync(path.join(DEFAULT_PACK, 'examples.png')))
    expect([sheet.width, sheet.height]).toEqual([4 * 32, classesOf(manifest).length * 32])
  })

  it('a pack without examples stays valid, with none', async () => {
    const dir = withoutExamples(copyPack(path.join(tmp, 'plain'), 'plain'))
    const loaded = await loadPack(dir)
    expect(loaded).toMatchObject({ ok: true, examples: null, warnings: [] })
  })

  it('a listed sheet that is missing, or whose bytes changed, makes the pack broken like any file', async () => {
    const missing = copyPack(path.join(tmp, 'missing'), 'missing')
    fs.rmSync(path.join(missing, 'examples.png'))
    expect(await loadPack(missing)).toMatchObject({ ok: false, problems: ['examples.png: missing'] })

    const tampered = copyPack(path.join(tmp, 'tampered'), 'tampered')
    const bytes = fs.readFileSync(path.join(tampered, 'examples.png'))
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff
    fs.writeFileSync(path.join(tampered, 'examples.png'), bytes)
    expect(await loadPack(tampered)).toMatchObject({
      ok: false,
      problems: ['examples.png: sha256 does not match the manifest'],
    })
  })

  it('a malformed entry is a manifest error naming the field', async () => {
    const dir = copyPack(path.join(tmp, 'malformed'), 'malformed', (m) => {
      m.examples = { file: 'examples.png', perClass: 0, cell: [32, 32] }
    })
    const loaded = await loadPack(dir)
    expect(loaded.ok).toBe(false)
    if (!loaded.ok) expect(loaded.problems.join('\n')).toMatch(/^manifest\.json: \.examples\.perClass: /m)
  })

  it('a sheet with a row too few leaves the pack usable without examples, and says why', async () => {
    const dir = copyPack(path.join(tmp, 'short'), 'short')
    replaceFile(dir, 'examples.png', grey(4 * 32, (classes - 1) * 32))
    const loaded = await loadPack(dir)
    expect(loaded).toMatchObject({ ok: true, examples: null })
    if (!loaded.ok) return
    expect(loaded.warnings).toEqual([
      `manifest.json: examples: examples.png is 128x${(classes - 1) * 32} pixels (${classes - 1} rows of 32 px ` +
        `for ${classes} classes); perClass 4 and cell [32, 32] with one row per class need 128x${classes * 32}`,
    ])
  })

  it('names the mismatch when perClass or the cell size disagree with the sheet', async () => {
    const perClass = copyPack(path.join(tmp, 'per-class'), 'per-class', (m) => {
      if (m.examples) m.examples.perClass = 3
    })
    const wide = await loadPack(perClass)
    expect(wide).toMatchObject({ ok: true, examples: null })
    if (wide.ok) expect(wide.warnings[0]).toMatch(/examples\.png is 128x\d+ pixels.*perClass 3.*need 96x/)

    const cell = copyPack(path.join(tmp, 'cell'), 'cell', (m) => {
      if (m.examples) m.examples.cell = [32, 30]
    })
    const odd = await loadPack(cell)
    expect(odd).toMatchObject({ ok: true, examples: null })
    if (odd.ok) expect(odd.warnings[0]).toMatch(/not a whole number of 30-px rows/)
  })

  it('a sheet that is not an RGB PNG, or not listed in files, is left out with a warning', async () => {
    const text = copyPack(path.join(tmp, 'text'), 'text')
    replaceFile(text, 'examples.png', new TextEncoder().encode('not an image at all'))
    const notPng = await loadPack(text)
    expect(notPng).toMatchObject({
      ok: true,
      examples: null,
      warnings: ['manifest.json: examples: examples.png is not a PNG image'],
    })

    const unlisted = copyPack(path.join(tmp, 'unlisted'), 'unlisted', (m) => {
      delete m.files['examples.png']
    })
    expect(await loadPack(unlisted)).toMatchObject({
      ok: true,
      examples: null,
      warnings: ['manifest.json: examples: examples.png has no entry in files, so it cannot be checked'],
    })
  })

  it('the pack list carries the examples of ready packs and the warnings of the others', async () => {
    const builtIn = path.join(tmp, 'list-built-in')
    copyPack(path.join(builtIn, 'good'), 'good')
    const bad = copyPack(path.join(builtIn, 'bad-sheet'), 'bad-sheet')
    replaceFile(bad, 'examples.png', grey(64, 64))
    const logs: string[] = []
    const packs = await PackService.open({
      builtInDirs: [builtIn],
      userDir: path.join(tmp, 'list-user'),
      log: (level, message) => logs.push(`${level} ${message}`),
    })
    try {
      const list = packs.list()
      const good = list.find((p) => p.id === 'good')
      expect(good?.examples).toEqual({
        perClass: 4,
        cell: [32, 32],
        rows: classes,
        version: readManifest(SOURCE).files['examples.png']?.sha256.slice(0, 16),
      })
      expect(good?.warnings).toEqual([])
      const badSummary = list.find((p) => p.id === 'bad-sheet')
      expect(badSummary).toMatchObject({ status: 'ready', examples: null, problems: [] })
      expect(badSummary?.warnings[0]).toMatch(/^manifest\.json: examples: examples\.png is 64x64 pixels/)
      expect(logs.some((l) => l.startsWith('warn ') && l.includes('examples.png is 64x64'))).toBe(true)
    } finally {
      packs.close()
    }
  })
})

describe('the /pack-examples/ route of serve mode', () => {
  const token = 'examples-test-token'
  let tmp: string
  let packs: PackService
  let server: http.Server
  let port: number
  let withExamples: string

  beforeAll(async () => {
    tmp = tempDir('examples-serve')
    const builtIn = path.join(tmp, 'built-in')
    withExamples = copyPack(path.join(builtIn, 'with-examples'), 'with-examples')
    withoutExamples(copyPack(path.join(builtIn, 'plain'), 'plain'))
    const bad = copyPack(path.join(builtIn, 'bad-sheet'), 'bad-sheet')
    replaceFile(bad, 'examples.png', grey(64, 64))
    // A sheet that is a link to a file outside the pack: its hash matches, but it is not the pack's own file.
    const linked = copyPack(path.join(builtIn, 'linked'), 'linked')
    const outside = path.join(tmp, 'outside.png')
    fs.renameSync(path.join(linked, 'examples.png'), outside)
    fs.symlinkSync(outside, path.join(linked, 'examples.png'))

    packs = await PackService.open({ builtInDirs: [builtIn], userDir: path.join(tmp, 'user'), log: () => {} })
    server = createServeServer({
      dispatch: async () => ({ ok: false, error: { code: 'unknown_method', message: 'no calls here' } }),
      events: new EventBus(),
      token,
      staticDir: path.join(tmp, 'static'),
      galleryDir: () => path.join(tmp, 'gallery'),
      packExamples: (urlPath) => packs.examplesSheet(urlPath),
      loopbackOnly: true,
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })

  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    packs?.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  /** A raw request: fetch would normalise the paths these tests send as they are. */
  function get(
    pathname: string,
    withToken = true,
    method = 'GET',
  ): Promise<{ status: number; body: Buffer; type: string | undefined }> {
    return new Promise((resolve, reject) => {
      const headers = withToken ? { authorization: `Bearer ${token}` } : {}
      const req = http.request({ host: '127.0.0.1', port, path: pathname, method, headers }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            type: res.headers['content-type'],
          }),
        )
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('serves the sheet of a pack by id, with the token only', async () => {
    const sheet = fs.readFileSync(path.join(withExamples, 'examples.png'))
    const ok = await get('/pack-examples/with-examples?v=0123456789abcdef')
    expect(ok.status).toBe(200)
    expect(ok.type).toBe('image/png')
    expect(ok.body.equals(sheet)).toBe(true)
    expect((await get('/pack-examples/with-examples', true, 'HEAD')).status).toBe(200)
    expect((await get('/pack-examples/with-examples', false)).status).toBe(401)
  })

  it('answers 404 for a pack without examples, with an unusable sheet, or for no such pack', async () => {
    for (const id of ['plain', 'bad-sheet', 'nope', '']) {
      const res = await get(`/pack-examples/${id}`)
      expect(res.status, id).toBe(404)
    }
    const plain = JSON.parse((await get('/pack-examples/plain')).body.toString('utf8'))
    expect(plain.error.message).toBe("pack 'plain' has no example images")
  })

  it('serves nothing but that one file: no other pack file, no path, no link out of the pack', async () => {
    for (const attempt of [
      '/pack-examples/with-examples/manifest.json',
      '/pack-examples/with-examples%2fmanifest.json',
      '/pack-examples/..%2fwith-examples%2fgenerator.onnx',
      '/pack-examples/%2e%2e/%2e%2e/etc/passwd',
      '/pack-examples/with-examples%00',
      '/pack-examples/With-Examples',
    ]) {
      const res = await get(attempt)
      expect(res.status, attempt).toBe(404)
      expect(res.type, attempt).toMatch(/^application\/json/)
    }
    const linked = await get('/pack-examples/linked')
    expect(linked.status).toBe(403)
    expect(linked.body.toString('utf8')).toContain('link leads out of the folder')
  })
})
