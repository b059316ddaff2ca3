/**
 * The desktop-only gallery actions (gallery.reveal, gallery.startDrag, and deletes that end in the system
 * trash) through the real app core: serve mode answers 'unavailable' for them over HTTP, and an app given a
 * desktop shell hands that shell confined absolute paths only. The shell is a fake recording its calls: the
 * real one is Electron's shell and webContents (main/electron/desktop.ts), which cannot run in the tests.
 */
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Client } from '../../common/client.ts'
import type { Result } from '../../common/result.ts'
import { type App, createApp } from '../../main/app/createApp.ts'
import type { DesktopShell } from '../../main/app/desktop.ts'
import { galleryPaths } from '../../main/gallery/galleryFiles.ts'
import { childProcessLauncher } from '../../main/host/childProcessLauncher.ts'
import type { SenderHandle } from '../../main/ipc/dispatcher.ts'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { filesIn, makePng } from '../support/gallery.ts'
import { memoryTransport } from '../support/memoryTransport.ts'
import { BUILT_HOST, createTestApp, REPO_ROOT, requireBuild, tempDir } from '../support/testApp.ts'

const ID = '2026-03-14/092653-emoji32-1step-42.png'

interface Envelope {
  ok: boolean
  value?: unknown
  error?: { code: string; message: string }
}

describe('serve mode', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>
  let server: ReturnType<typeof createServeServer>
  let base: string
  const token = 'desktop-test-token'

  beforeAll(async () => {
    app = await createTestApp()
    const gallery = app.settings.get().galleryDir
    fs.mkdirSync(path.join(gallery, '2026-03-14'), { recursive: true })
    fs.writeFileSync(path.join(gallery, ...ID.split('/')), makePng())
    server = createServeServer({
      dispatch: app.dispatch,
      events: app.events,
      token,
      staticDir: path.join(REPO_ROOT, 'out/renderer'),
      galleryDir: () => gallery,
      loopbackOnly: true,
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await app.close()
  })

  async function call(name: string, input: unknown): Promise<{ status: number; envelope: Envelope }> {
    const response = await fetch(`${base}/api/call/${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    })
    return { status: response.status, envelope: (await response.json()) as Envelope }
  }

  it('says that it has no desktop actions', async () => {
    const { status, envelope } = await call('system.capabilities', {})
    expect(status).toBe(200)
    expect(envelope).toEqual({ ok: true, value: { revealInFolder: false, dragOut: false } })
  })

  it('answers unavailable for reveal and drag-out, saying they are desktop-app actions', async () => {
    for (const name of ['gallery.reveal', 'gallery.startDrag']) {
      const { status, envelope } = await call(name, { id: ID })
      expect(status, name).toBe(503)
      expect(envelope.ok, name).toBe(false)
      expect(envelope.error?.code, name).toBe('unavailable')
      expect(envelope.error?.message, name).toMatch(
        new RegExp(
          `^${name}: .* is a desktop-app action; it is not available in a browser \\(serve mode\\)$`,
        ),
      )
    }
  })

  it('still validates their input first', async () => {
    const { status, envelope } = await call('gallery.reveal', { id: '../outside.png' })
    expect(status).toBe(400)
    expect(envelope.error?.code).toBe('invalid_input')
  })
})

describe('the app with a desktop shell', () => {
  let dataDir: string
  let gallery: string
  let outside: string
  let app: App
  let client: Client
  let closed = false
  const revealed: string[] = []
  const drags: { sender: SenderHandle; file: string; icon: string }[] = []
  const trashed: { file: string; existed: boolean }[] = []

  const desktop: DesktopShell = {
    revealFile: (file) => {
      revealed.push(file)
    },
    startDrag: (sender, file, icon) => {
      drags.push({ sender, file, icon })
    },
    trashItem: async (file) => {
      trashed.push({ file, existed: fs.existsSync(file) })
      fs.rmSync(file)
    },
    // The checkpoint file dialog is tested with the convert service (test/integration/convert.test.ts).
    pickFile: async () => null,
  }

  beforeAll(async () => {
    requireBuild()
    dataDir = tempDir('desktop-app')
    gallery = path.join(dataDir, 'gallery')
    outside = tempDir('desktop-outside')
    fs.mkdirSync(path.join(gallery, '2026-03-14'), { recursive: true })
    fs.writeFileSync(path.join(gallery, ...ID.split('/')), makePng())
    fs.writeFileSync(path.join(gallery, 'other.png'), makePng({ seed: 9 }))
    // A link inside the gallery to a PNG outside it.
    fs.writeFileSync(path.join(outside, 'secret.png'), makePng({ seed: 3 }))
    fs.symlinkSync(path.join(outside, 'secret.png'), path.join(gallery, 'escape.png'))
    app = await createApp({
      shell: 'electron',
      dataDir,
      launcher: childProcessLauncher(BUILT_HOST),
      gallery: { rescanIntervalMs: 0 },
      desktop,
    })
    client = memoryTransport(app.dispatch, app.events).client
  })

  afterAll(async () => {
    if (!closed) await app?.close()
  })

  function errorOf(result: Result<unknown>): { code: string; message: string } {
    if (result.ok) throw new Error('a failure was expected')
    return result.error
  }

  it('says that it has the desktop actions', async () => {
    expect(await client.system.capabilities({})).toEqual({
      ok: true,
      value: { revealInFolder: true, dragOut: true },
    })
  })

  it('reveals an image by its confined absolute path', async () => {
    expect(await client.gallery.reveal({ id: ID })).toEqual({ ok: true, value: null })
    expect(revealed).toEqual([fs.realpathSync(path.join(gallery, ...ID.split('/')))])
    expect(path.isAbsolute(revealed[0] as string)).toBe(true)
  })

  it('refuses ids outside the gallery without calling the shell', async () => {
    revealed.length = 0
    expect(errorOf(await client.gallery.reveal({ id: '../outside.png' })).code).toBe('invalid_input')
    expect(errorOf(await client.gallery.reveal({ id: 'escape.png' }))).toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(/not a file inside the gallery folder/),
    })
    expect(errorOf(await client.gallery.reveal({ id: '.dd-studio/index.png' })).code).toBe('not_found')
    expect(errorOf(await client.gallery.reveal({ id: 'missing.png' })).code).toBe('not_found')
    expect(revealed).toEqual([])
  })

  it('starts a drag only for a call that carries its window, with the thumbnail as the icon', async () => {
    const noWindow = await client.gallery.startDrag({ id: ID })
    expect(errorOf(noWindow)).toMatchObject({ code: 'unavailable' })
    expect(drags).toEqual([])

    // What the Electron adapter passes: an opaque handle of the calling window, handed back untouched.
    const sender = Object.freeze({}) as SenderHandle
    const answer = await app.dispatch('gallery.startDrag', { id: ID }, { transport: 'electron', sender })
    expect(answer).toEqual({ ok: true, value: null })
    expect(drags).toHaveLength(1)
    const drag = drags[0] as (typeof drags)[number]
    expect(drag.sender).toBe(sender)
    expect(drag.file).toBe(fs.realpathSync(path.join(gallery, ...ID.split('/'))))
    expect(path.dirname(drag.icon)).toBe(galleryPaths(gallery).thumbs)
    expect(fs.existsSync(drag.icon)).toBe(true)

    const refused = await app.dispatch(
      'gallery.startDrag',
      { id: 'escape.png' },
      { transport: 'electron', sender },
    )
    expect(refused).toMatchObject({ ok: false, error: { code: 'forbidden' } })
    expect(drags).toHaveLength(1)
  })

  it('keeps deletes undoable, and hands the rest to the system trash when it closes', async () => {
    const listed = await client.gallery.list({})
    expect(listed.ok && listed.value.items.map((i) => i.id).sort()).toEqual([ID, 'other.png'])
    const undone = await client.gallery.delete({ ids: [ID] })
    if (!undone.ok) throw new Error(undone.error.message)
    expect((await client.gallery.undoDelete({ undoToken: undone.value.undoToken })).ok).toBe(true)
    expect(await client.gallery.delete({ ids: ['other.png'] })).toMatchObject({ ok: true })
    expect(trashed).toEqual([])
    await app.close()
    closed = true
    // Handed over from its place in the gallery; the undone delete stays.
    expect(trashed).toEqual([{ file: path.join(gallery, 'other.png'), existed: true }])
    expect(filesIn(gallery)).toEqual([ID])
  })
})
