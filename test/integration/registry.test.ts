/**
 * The pack registry on real packs: copies of the smoke pack, edited into every way a pack can go wrong, in
 * temporary built-in and user folders; imports from folders and from zips built here; and the watcher.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Zippable, zipSync } from 'fflate'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AppError, type ErrorCode } from '../../common/result.ts'
import { checkGraphIo } from '../../main/engine/packs/graphCheck.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import type { PackManifest } from '../../main/engine/packs/manifest.ts'
import { type ImportLimits, type PackEntry, PackRegistry } from '../../main/engine/packs/registry.ts'
import { COMMITTED_PACKS_DIR, SMOKE_PACK_DIR, textPackDir } from '../support/packs.ts'

// The built-in folder of these tests holds the default pack alone (a copy), so what they count and list does not
// change when another pack ships in models/packs.
const BUILT_IN_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-registry-builtin-'))
fs.cpSync(path.join(COMMITTED_PACKS_DIR, 'emoji32'), path.join(BUILT_IN_DIR, 'emoji32'), { recursive: true })
const DEFAULT_PACK = path.join(BUILT_IN_DIR, 'emoji32')
afterAll(() => fs.rmSync(BUILT_IN_DIR, { recursive: true, force: true }))
// `npm test` builds the smoke pack first. Run alone without it, the committed pack serves as the source: every
// copy gets its own id below, so which real pack is copied does not change what is tested.
const SOURCE = fs.existsSync(path.join(SMOKE_PACK_DIR, 'manifest.json')) ? SMOKE_PACK_DIR : DEFAULT_PACK

let tmp: string
let userDir: string
let logs: string[]
let registries: PackRegistry[]

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-registry-'))
  userDir = path.join(tmp, 'user')
  logs = []
  registries = []
})

afterEach(() => {
  for (const r of registries) r.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

function makeRegistry(limits?: Partial<ImportLimits>): PackRegistry {
  const registry = new PackRegistry({
    builtInDirs: [BUILT_IN_DIR],
    userDir,
    log: (level, message) => logs.push(`${level} ${message}`),
    ...(limits ? { limits } : {}),
  })
  registries.push(registry)
  return registry
}

function editManifest(dir: string, edit: (m: PackManifest) => void): void {
  const file = path.join(dir, 'manifest.json')
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as PackManifest
  edit(manifest)
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2))
}

/** A copy of the source pack under a new id; the manifest is not hashed, so editing it keeps the pack valid. */
function copyPack(dest: string, id: string, edit?: (m: PackManifest) => void): string {
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  fs.cpSync(SOURCE, dest, { recursive: true })
  editManifest(dest, (m) => {
    m.id = id
    edit?.(m)
  })
  return dest
}

function listedFiles(dir: string): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as PackManifest
  return Object.keys(manifest.files)
}

function flipByte(file: string): void {
  const bytes = fs.readFileSync(file)
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff
  fs.writeFileSync(file, bytes)
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

/** A zip of a pack folder, its files under `prefix`, with any extra entries. */
function writeZip(dir: string, file: string, prefix = '', extra: Zippable = {}): string {
  const entries: Zippable = { ...extra }
  for (const name of fs.readdirSync(dir)) entries[`${prefix}${name}`] = fs.readFileSync(path.join(dir, name))
  fs.writeFileSync(file, zipSync(entries, { level: 1 }))
  return file
}

async function expectAppError(
  run: () => unknown,
  code: ErrorCode,
  ...fragments: string[]
): Promise<AppError> {
  let caught: unknown
  try {
    await run()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(AppError)
  const error = caught as AppError
  expect(error.code, error.message).toBe(code)
  for (const fragment of fragments) expect(error.message).toContain(fragment)
  return error
}

/** Nothing half-imported: the user folder holds exactly these entries, no staging folder. */
function expectUserDirHolds(names: string[]): void {
  const present = fs.existsSync(userDir) ? fs.readdirSync(userDir).sort() : []
  expect(present).toEqual([...names].sort())
}

function byFolder(entries: PackEntry[]): Record<string, PackEntry> {
  return Object.fromEntries(entries.map((e) => [path.basename(e.dir), e]))
}

function hashingLogs(dir?: string): string[] {
  return logs.filter((l) => l.includes(`checked the pack in ${dir ?? ''}`))
}

describe('PackRegistry.scan', () => {
  it('finds the committed default pack emoji32 ready; a user folder that does not exist is just empty', async () => {
    const registry = makeRegistry()
    const entries = await registry.scan()
    const entry = registry.get('emoji32')
    expect(entry).toMatchObject({ id: 'emoji32', dir: DEFAULT_PACK, source: 'built-in', status: 'ready' })
    expect(entry.problems).toEqual([])
    expect(entry.manifestSha256).toBe(sha256(path.join(DEFAULT_PACK, 'manifest.json')))
    expect(registry.ready('emoji32')).toEqual({ dir: DEFAULT_PACK, manifest: entry.manifest })
    expect(entries.filter((e) => e.source === 'user')).toEqual([])
    expect(fs.existsSync(userDir), 'a scan must not create the user folder').toBe(false)
  })

  it('lists good and broken user packs side by side: a broken pack never hides the others', async () => {
    copyPack(path.join(userDir, 'good'), 'good')
    fs.rmSync(path.join(copyPack(path.join(userDir, 'missing-file'), 'missing-file'), 'codebook.bin'))
    flipByte(path.join(copyPack(path.join(userDir, 'bad-hash'), 'bad-hash'), 'decoder.onnx'))
    copyPack(path.join(userDir, 'newer'), 'newer', (m) => {
      ;(m as { formatVersion: number }).formatVersion = 2
    })
    copyPack(path.join(userDir, 'dup'), 'emoji32')
    copyPack(path.join(userDir, '.hidden'), 'hidden')
    fs.writeFileSync(path.join(userDir, 'notes.txt'), 'not a pack')

    const registry = makeRegistry()
    const entries = byFolder(await registry.scan())
    expect(Object.keys(entries).sort()).toEqual([
      'bad-hash',
      'dup',
      'emoji32',
      'good',
      'missing-file',
      'newer',
    ])

    expect(entries.good).toMatchObject({ id: 'good', source: 'user', status: 'ready', problems: [] })
    expect(entries['missing-file']).toMatchObject({ id: 'missing-file', status: 'broken', manifest: null })
    expect(entries['missing-file']?.problems).toContain('codebook.bin: missing')
    expect(entries['bad-hash']?.problems).toEqual(['decoder.onnx: sha256 does not match the manifest'])
    expect(entries.newer?.status).toBe('broken')
    expect(entries.newer?.problems.join()).toMatch(/format version 2 is newer than this app supports \(1\)/)

    // The duplicate keeps its manifest (it is a valid pack) but loses to the built-in one.
    expect(entries.dup).toMatchObject({ id: 'emoji32', source: 'user', status: 'broken' })
    expect(entries.dup?.manifest?.id).toBe('emoji32')
    expect(entries.dup?.problems).toEqual([
      `the built-in pack in ${DEFAULT_PACK} has the same id 'emoji32'; this one is not used`,
    ])
    expect(registry.get('emoji32')).toMatchObject({ source: 'built-in', status: 'ready' })

    await expectAppError(
      () => registry.ready('bad-hash'),
      'unavailable',
      "'bad-hash'",
      'decoder.onnx: sha256',
    )
    await expectAppError(() => registry.get('nope'), 'not_found', "'nope'", 'emoji32', 'good')
  })

  it('does not hash unchanged packs again, and notices a changed file even with its old mtime', async () => {
    const good = copyPack(path.join(userDir, 'good'), 'good')
    const registry = makeRegistry()
    await registry.scan()
    expect(hashingLogs()).toHaveLength(2) // emoji32 and good
    await registry.scan()
    expect(hashingLogs(), 'the second scan came from the cache').toHaveLength(2)

    const later = new Date(Date.now() + 60_000)
    fs.utimesSync(path.join(good, 'codebook.bin'), later, later)
    expect((await registry.scan()).find((e) => e.dir === good)?.status).toBe('ready')
    expect(hashingLogs(good)).toHaveLength(2)
    expect(hashingLogs(DEFAULT_PACK)).toHaveLength(1)

    // Same size, mtime set back: the change time still gives it away.
    const decoder = path.join(good, 'decoder.onnx')
    const { atime, mtime } = fs.statSync(decoder)
    flipByte(decoder)
    fs.utimesSync(decoder, atime, mtime)
    expect((await registry.scan()).find((e) => e.dir === good)?.problems).toEqual([
      'decoder.onnx: sha256 does not match the manifest',
    ])
  })

  it('removes a leftover .import-* folder of a crashed import and never lists it', async () => {
    fs.mkdirSync(path.join(userDir, '.import-x'), { recursive: true })
    fs.writeFileSync(path.join(userDir, '.import-x', 'manifest.json'), '{}')
    copyPack(path.join(userDir, 'good'), 'good')
    const entries = await makeRegistry().scan()
    expect(entries.map((e) => path.basename(e.dir)).sort()).toEqual(['emoji32', 'good'])
    expectUserDirHolds(['good'])
  })
})

describe('checkGraphIo', () => {
  it('finds nothing wrong with the real packs', async () => {
    for (const dir of new Set([SOURCE, DEFAULT_PACK, textPackDir()])) {
      const loaded = await loadPack(dir)
      if (!loaded.ok) throw new Error(loaded.problems.join('; '))
      expect(await checkGraphIo(dir, loaded.manifest)).toEqual([])
    }
  })

  it('reports a renamed input, a wrong dtype and a wrong dimension', async () => {
    const dir = copyPack(path.join(tmp, 'mismatch'), 'mismatch', (m) => {
      const inputs = m.graphs.generator.inputs
      const noise = inputs.noise
      if (!noise) throw new Error('the source pack has no generator input noise')
      delete inputs.noise
      inputs.noize = noise
      const rgb = m.graphs.decoder.outputs.rgb
      if (rgb) rgb.dtype = 'float32'
      const prefix = inputs.prefix_ids
      if (prefix) prefix.shape[1] = 999
    })
    const loaded = await loadPack(dir)
    if (!loaded.ok) throw new Error(loaded.problems.join('; '))
    const count = loaded.manifest.tokens.count
    expect((await checkGraphIo(dir, loaded.manifest)).sort()).toEqual(
      [
        "generator.onnx: input 'noize' is missing",
        "generator.onnx: input 'noise' is in the graph but not in the manifest",
        `generator.onnx: input 'prefix_ids' dimension 1 is 999 in the manifest but ${count} in the graph`,
        "decoder.onnx: output 'rgb' is float32 in the manifest but uint8 in the graph",
      ].sort(),
    )
  })
})

describe('PackRegistry.importPack', () => {
  it('imports a text pack with its tokenizer, which checks prompts once it is in place', async () => {
    const registry = makeRegistry()
    const entry = await registry.importPack(textPackDir())
    expect(entry).toMatchObject({ status: 'ready', source: 'user', problems: [] })
    expect(fs.readdirSync(entry.dir)).toContain('tokenizer.json')
    expect(entry.tokenizer?.check('noto heart').words).toEqual(['noto', 'heart'])
    expect(entry.manifest?.conditioning.kind).toBe('text')
  })

  it('imports a folder: validated, renamed into place, only the listed files copied', async () => {
    const source = copyPack(path.join(tmp, 'src'), 'imported')
    fs.writeFileSync(path.join(source, 'notes.txt'), 'not listed')
    const registry = makeRegistry()
    const entry = await registry.importPack(source)

    expect(entry).toMatchObject({ id: 'imported', dir: path.join(userDir, 'imported'), source: 'user' })
    expect(entry.status).toBe('ready')
    expect(entry.manifestSha256).toBe(sha256(path.join(source, 'manifest.json')))
    expect(fs.readdirSync(entry.dir).sort()).toEqual(['manifest.json', ...listedFiles(source)].sort())
    expect(registry.ready('imported').dir).toBe(entry.dir)
    expect(logs.join('\n')).toContain('not listed in the manifest: notes.txt')
    expect(hashingLogs(entry.dir), 'the hashes checked during the import are reused').toEqual([])
    expectUserDirHolds(['imported'])

    await expectAppError(() => registry.importPack(source), 'invalid_input', "id 'imported' already exists")
    const builtInId = copyPack(path.join(tmp, 'src-emoji32'), 'emoji32')
    await expectAppError(() => registry.importPack(builtInId), 'invalid_input', "id 'emoji32'", DEFAULT_PACK)
    expectUserDirHolds(['imported'])
  })

  it('imports a zip holding the pack at its root', async () => {
    const source = copyPack(path.join(tmp, 'src'), 'zipped')
    const zip = writeZip(source, path.join(tmp, 'zipped.zip'), '', {
      'README.md': new Uint8Array([104, 105]),
    })
    const entry = await makeRegistry().importPack(zip)
    expect(entry).toMatchObject({ id: 'zipped', status: 'ready', source: 'user' })
    expect(fs.readdirSync(entry.dir).sort()).toEqual(['manifest.json', ...listedFiles(source)].sort())
    expectUserDirHolds(['zipped'])
  })

  it('imports a zip holding the pack inside one top-level folder', async () => {
    const source = copyPack(path.join(tmp, 'src'), 'nested')
    const zip = writeZip(source, path.join(tmp, 'nested.zip'), 'my pack v1/', {
      'my pack v1/': new Uint8Array(0),
      '__MACOSX/my pack v1/._manifest.json': new Uint8Array([0]),
    })
    const entry = await makeRegistry().importPack(zip)
    expect(entry).toMatchObject({ id: 'nested', status: 'ready', dir: path.join(userDir, 'nested') })
    expectUserDirHolds(['nested'])
  })

  it.each(['../evil', 'pack/../../evil', '/tmp/evil', 'C:/evil', 'a\\..\\evil'])(
    'refuses a zip with the entry %s and leaves nothing behind',
    async (name) => {
      const source = copyPack(path.join(tmp, 'src'), 'slip')
      const zip = writeZip(source, path.join(tmp, 'slip.zip'), '', { [name]: new Uint8Array([1, 2, 3]) })
      await expectAppError(
        () => makeRegistry().importPack(zip),
        'invalid_input',
        `entry '${name}'`,
        'refused',
      )
      expectUserDirHolds([])
      expect(fs.readdirSync(tmp).sort()).toEqual(['slip.zip', 'src', 'user'])
      expect(fs.existsSync('/tmp/evil')).toBe(false)
    },
  )

  it('refuses a pack that does not validate and leaves nothing behind', async () => {
    const folder = copyPack(path.join(tmp, 'src'), 'broken')
    flipByte(path.join(folder, 'generator.onnx'))
    const registry = makeRegistry()
    await expectAppError(() => registry.importPack(folder), 'invalid_input', 'generator.onnx: sha256')
    const zip = writeZip(folder, path.join(tmp, 'broken.zip'))
    await expectAppError(() => registry.importPack(zip), 'invalid_input', 'generator.onnx: sha256')

    const newer = copyPack(path.join(tmp, 'newer'), 'newer', (m) => {
      ;(m as { formatVersion: number }).formatVersion = 2
    })
    await expectAppError(() => registry.importPack(newer), 'invalid_input', 'format version 2 is newer')
    expectUserDirHolds([])
  })

  it('refuses symbolic links, in a folder and in a zip', async () => {
    const folder = copyPack(path.join(tmp, 'src'), 'linked')
    const codebook = path.join(folder, 'codebook.bin')
    fs.renameSync(codebook, path.join(tmp, 'codebook.bin'))
    fs.symlinkSync(path.join(tmp, 'codebook.bin'), codebook)
    const registry = makeRegistry()
    await expectAppError(
      () => registry.importPack(folder),
      'invalid_input',
      'codebook.bin is a symbolic link',
    )

    const plain = copyPack(path.join(tmp, 'plain'), 'linked')
    const entries: Zippable = {}
    for (const name of fs.readdirSync(plain)) entries[name] = fs.readFileSync(path.join(plain, name))
    // A Unix symlink entry: file type 0o120000 in the high half of the external attributes.
    entries['codebook.bin'] = [new TextEncoder().encode('/etc/passwd'), { os: 3, attrs: 0o120777 << 16 }]
    const zip = path.join(tmp, 'linked.zip')
    fs.writeFileSync(zip, zipSync(entries, { level: 1 }))
    await expectAppError(
      () => registry.importPack(zip),
      'invalid_input',
      "entry 'codebook.bin' is a symbolic link",
    )
    expectUserDirHolds([])
  })

  it('refuses zips over the size or entry limits, from the central directory', async () => {
    const source = copyPack(path.join(tmp, 'src'), 'big')
    const zip = writeZip(source, path.join(tmp, 'big.zip'))
    const zipBytes = fs.statSync(zip).size
    await expectAppError(
      () => makeRegistry({ maxBytes: zipBytes + 1 }).importPack(zip),
      'invalid_input',
      'uncompressed, more than the limit',
    )
    await expectAppError(() => makeRegistry({ maxEntries: 3 }).importPack(zip), 'invalid_input', 'entries')
    expectUserDirHolds([])
  })

  it('refuses an entry that inflates to more than its declared size', async () => {
    const source = copyPack(path.join(tmp, 'src'), 'bomb')
    const zip = writeZip(source, path.join(tmp, 'bomb.zip'))
    const data = fs.readFileSync(zip)
    // Rewrite the uncompressed size of generator.onnx in the central directory to a lie.
    let at = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
    at = data.readUInt32LE(at + 16)
    for (;;) {
      expect(data.readUInt32LE(at)).toBe(0x02014b50)
      const nameLength = data.readUInt16LE(at + 28)
      const name = data.subarray(at + 46, at + 46 + nameLength).toString()
      if (name === 'generator.onnx') break
      at += 46 + nameLength + data.readUInt16LE(at + 30) + data.readUInt16LE(at + 32)
    }
    data.writeUInt32LE(1000, at + 24)
    fs.writeFileSync(zip, data)
    await expectAppError(
      () => makeRegistry().importPack(zip),
      'invalid_input',
      "entry 'generator.onnx' does not have the 1000 bytes the zip declares",
    )
    expectUserDirHolds([])
  })

  it('refuses a relative path, a missing source and a file that is not a zip', async () => {
    const registry = makeRegistry()
    await expectAppError(() => registry.importPack('models/packs/emoji32'), 'invalid_input', 'absolute path')
    await expectAppError(
      () => registry.importPack(path.join(tmp, 'nope')),
      'invalid_input',
      'nothing to import',
    )
    const text = path.join(tmp, 'pack.txt')
    fs.writeFileSync(text, 'hello')
    await expectAppError(() => registry.importPack(text), 'invalid_input', 'neither a pack folder nor a .zip')
    const fake = path.join(tmp, 'fake.zip')
    fs.writeFileSync(fake, 'not a zip at all, just text that is long enough to be searched for a record')
    await expectAppError(() => registry.importPack(fake), 'invalid_input', 'not a zip archive')
    expectUserDirHolds([])
  })
})

describe('PackRegistry.watch', () => {
  it('re-scans when packs appear, are completed or disappear, even when the user folder comes later', async () => {
    const registry = makeRegistry()
    await registry.scan()
    const calls: PackEntry[][] = []
    registry.watch((entries) => calls.push(entries))
    const user = (id: string) => calls.at(-1)?.find((e) => e.source === 'user' && e.id === id)
    const wait = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 50 })

    // The folder does not exist yet: the watcher waits for it.
    copyPack(path.join(userDir, 'first'), 'first')
    await wait(() => expect(user('first')?.status).toBe('ready'))
    expect(registry.get('first').status).toBe('ready')

    // A pack copied in the slow way: the folder and its manifest first, the graphs a moment later.
    const later = path.join(userDir, 'later')
    fs.mkdirSync(later)
    fs.copyFileSync(path.join(SOURCE, 'manifest.json'), path.join(later, 'manifest.json'))
    editManifest(later, (m) => {
      m.id = 'later'
    })
    await wait(() => expect(user('later')?.status).toBe('broken'))
    for (const name of listedFiles(SOURCE)) fs.copyFileSync(path.join(SOURCE, name), path.join(later, name))
    await wait(() => expect(user('later')?.status).toBe('ready'))

    // The whole user folder goes away, and comes back.
    fs.rmSync(userDir, { recursive: true })
    await wait(() => expect(calls.at(-1)?.filter((e) => e.source === 'user')).toEqual([]))
    copyPack(path.join(userDir, 'again'), 'again')
    await wait(() => expect(user('again')?.status).toBe('ready'))
  })
})
