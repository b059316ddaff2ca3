/**
 * A text pack in the whole app: createApp with the real inference host child process, the committed class pack
 * and the text pack side by side. The pack list describes the text pack, prompts.check answers over the
 * in-memory transport and serve mode's HTTP alike, jobs draw from prompts through the host, and the gallery keeps
 * and searches the prompt.
 */
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Client } from '../../common/client.ts'
import type { GenerateRequest, GenerationResult } from '../../common/generation.ts'
import type { Result } from '../../common/result.ts'
import { type App, createApp } from '../../main/app/createApp.ts'
import { childProcessLauncher } from '../../main/host/childProcessLauncher.ts'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { memoryTransport } from '../support/memoryTransport.ts'
import { COMMITTED_PACKS_DIR, textPackDir } from '../support/packs.ts'
import { BUILT_HOST, REPO_ROOT, requireBuild, tempDir } from '../support/testApp.ts'

const TEXT_DIR = textPackDir()
const TEXT_ID = (JSON.parse(fs.readFileSync(path.join(TEXT_DIR, 'manifest.json'), 'utf8')) as { id: string })
  .id
const token = 'text-app-token'
let app: App
let client: Client
let server: ReturnType<typeof createServeServer>
let base: string

beforeAll(async () => {
  requireBuild()
  const dataDir = tempDir('text-app')
  // The text pack beside the committed ones, as a built-in pack (a symlinked folder is accepted).
  const packs = tempDir('text-packs')
  fs.symlinkSync(TEXT_DIR, path.join(packs, TEXT_ID))
  app = await createApp({
    shell: 'serve',
    dataDir,
    launcher: childProcessLauncher(BUILT_HOST),
    builtInPackDirs: [COMMITTED_PACKS_DIR, packs],
    gallery: { rescanIntervalMs: 0 },
  })
  await app.host.start()
  client = memoryTransport(app.dispatch, app.events).client
  server = createServeServer({
    dispatch: app.dispatch,
    events: app.events,
    token,
    staticDir: path.join(REPO_ROOT, 'out/renderer'),
    galleryDir: () => app.settings.get().galleryDir,
    loopbackOnly: true,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
  await app?.close()
})

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`)
  return result.value
}

async function run(request: GenerateRequest): Promise<GenerationResult> {
  const { jobId } = unwrap(await client.jobs.submit(request))
  return unwrap(await client.jobs.wait({ jobId }))
}

async function http(name: string, input: unknown): Promise<{ status: number; body: Result<unknown> }> {
  const response = await fetch(`${base}/api/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  })
  return { status: response.status, body: (await response.json()) as Result<unknown> }
}

describe('a text pack in the app', () => {
  it('is listed with its prompt settings and no classes; the class pack has none', async () => {
    const packs = unwrap(await client.packs.list({}))
    const text = packs.find((p) => p.id === TEXT_ID)
    expect(text).toMatchObject({ status: 'ready', conditioning: 'text', classes: [], isDefault: false })
    expect(text?.text?.maxTokens).toBeGreaterThan(1)
    expect(text?.text?.examplePrompts.length).toBeGreaterThan(0)
    expect(typeof text?.text?.unconditional).toBe('boolean')
    expect(packs.find((p) => p.id === 'emoji32')).toMatchObject({ conditioning: 'class', text: null })
  })

  it('prompts.check says what the tokenizer makes of a prompt, over memory and HTTP alike', async () => {
    const checked = unwrap(await client.prompts.check({ packId: TEXT_ID, prompt: 'Noto hearrt 😀' }))
    expect(checked).toMatchObject({
      words: ['noto', 'hearrt'],
      unknown: [{ word: 'hearrt', nearest: 'heart' }],
      truncated: [],
      ignored: ['😀'],
      empty: false,
    })
    expect(checked.ids).toHaveLength(checked.maxTokens)
    expect(checked.maxWords).toBe(checked.maxTokens - 1)
    const viaHttp = await http('prompts.check', { packId: TEXT_ID, prompt: 'Noto hearrt 😀' })
    expect(viaHttp).toEqual({ status: 200, body: { ok: true, value: checked } })
    // The default pack draws classes: there is no tokenizer to ask.
    const classPack = await http('prompts.check', { prompt: 'heart' })
    expect(classPack.status).toBe(400)
    expect(classPack.body).toMatchObject({
      ok: false,
      error: {
        code: 'invalid_input',
        message: expect.stringMatching(/^packId: pack 'emoji32' draws classes/),
      },
    })
    const tooLong = await http('prompts.check', { packId: TEXT_ID, prompt: 'x'.repeat(2001) })
    expect(tooLong.body).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('input.prompt') },
    })
  })

  it('draws from a prompt through the inference host and keeps the prompt in the gallery', async () => {
    const result = await run({
      packId: TEXT_ID,
      mode: 'compare',
      compareModes: ['1step', 'hybrid'],
      prompt: 'noto red heart hearrt',
      negativePrompt: 'twemoji',
      seed: 11,
    })
    expect(result).toMatchObject({
      classIndex: null,
      className: null,
      prompt: { text: 'noto red heart hearrt', negative: 'twemoji' },
      promptNotes: ["not in this model's vocabulary: hearrt; nearest known: heart"],
    })
    expect(result.galleryError).toBeNull()
    const jobs = unwrap(await client.jobs.list({}))
    expect(jobs.at(-1)).toMatchObject({ prompt: 'noto red heart hearrt', className: null, state: 'done' })
    const found = unwrap(await client.gallery.list({ text: 'HEART hearrt' }))
    expect(found.total).toBe(2)
    expect(found.items.every((i) => i.prompt === 'noto red heart hearrt' && i.className === null)).toBe(true)
    expect(unwrap(await client.gallery.list({ text: 'twemoji' })).total).toBe(0) // the negative is not searched
  })

  it('refuses a class for the text pack and a negative prompt for the class pack, naming the field', async () => {
    const classOnText = await client.jobs.submit({ packId: TEXT_ID, mode: '1step', class: 0 })
    expect(classOnText).toMatchObject({ ok: false, error: { code: 'invalid_input' } })
    expect(classOnText.ok || classOnText.error.message).toMatch(/^class: pack '.+' draws from a text prompt/)
    const missing = await client.jobs.submit({ packId: TEXT_ID, mode: '1step' })
    expect(missing.ok || missing.error.message).toMatch(/^prompt: is required/)
    const negativeOnClass = await client.jobs.submit({ mode: '1step', class: 0, negativePrompt: 'red' })
    expect(negativeOnClass.ok || negativeOnClass.error.message).toMatch(
      /^negativePrompt: pack 'emoji32' draws classes/,
    )
  })
})
