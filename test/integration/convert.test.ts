/**
 * "Import official checkpoint" through the real app core and the real converter (models/convert, run with the
 * Python that scripts/run-python.ts would use): `convert.check`, a conversion refused by the converter (files
 * that are not checkpoints: its error reaches the caller as it gave it, and neither a pack nor a staging
 * folder is left), and a conversion of tiny official-structure files that the converter writes itself
 * (`python -m convert test-checkpoints llamagen`), which ends as a ready pack in the models folder. Also the
 * contract's refusals and the desktop file dialog's call (through a fake shell: Electron cannot run here).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Client } from '../../common/client.ts'
import type { ConverterCheck, ConvertJob } from '../../common/convert.ts'
import type { Result } from '../../common/result.ts'
import { type App, createApp } from '../../main/app/createApp.ts'
import type { DesktopShell, PickFileOptions } from '../../main/app/desktop.ts'
import { childProcessLauncher } from '../../main/host/childProcessLauncher.ts'
import type { SenderHandle } from '../../main/ipc/dispatcher.ts'
import { choosePython } from '../../main/services/converterCli.ts'
import { memoryTransport } from '../support/memoryTransport.ts'
import { BUILT_HOST, REPO_ROOT, requireBuild, tempDir } from '../support/testApp.ts'

const python = choosePython()
let app: App
let client: Client
let dataDir: string
let userDir: string
const events: ConvertJob[] = []
const picks: { sender: SenderHandle; options: PickFileOptions }[] = []

const desktop: DesktopShell = {
  revealFile: () => undefined,
  startDrag: () => undefined,
  trashItem: async () => undefined,
  pickFile: async (sender, options) => {
    picks.push({ sender, options })
    return '/home/me/Downloads/llamagen-B.pt'
  },
}

/** Runs the real converter's command line the way the app does (PYTHONPATH=models, from the repository). */
function converter(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(python.interpreter, ['-m', 'convert', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'models'), PYTHONDONTWRITEBYTECODE: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  })
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' }
}

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`)
  return result.value
}

async function ended(jobId: string, timeoutMs = 300_000): Promise<ConvertJob> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const last = events.filter((e) => e.jobId === jobId).at(-1)
    if (last && ['done', 'failed', 'cancelled'].includes(last.state)) return last
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`conversion ${jobId} did not end in ${timeoutMs / 1000} s`)
}

function hidden(): string[] {
  return fs.existsSync(userDir) ? fs.readdirSync(userDir).filter((n) => n.startsWith('.')) : []
}

beforeAll(async () => {
  requireBuild()
  dataDir = tempDir('convert')
  userDir = path.join(dataDir, 'models')
  app = await createApp({ shell: 'electron', dataDir, launcher: childProcessLauncher(BUILT_HOST), desktop })
  app.events.subscribe((name, payload) => {
    if (name === 'convert.onProgress') events.push(payload as ConvertJob)
  })
  client = memoryTransport(app.dispatch, app.events).client
  // The tests need the Python the model pipeline runs with (torch and onnx): say so plainly when it is not there.
  const probe = converter(['check'])
  if (probe.status !== 0)
    throw new Error(
      `\`${python.interpreter} -m convert check\` exited with ${probe.status}: ${probe.stdout.trim()} ${probe.stderr.trim().split('\n').at(-1)}`,
    )
})

afterAll(async () => {
  await app?.close()
})

describe('convert.check with the real converter', () => {
  it('reports this Python with torch and onnx', async () => {
    const check: ConverterCheck = unwrap(await client.convert.check({}))
    console.log(`convert.check: ${JSON.stringify(check)}`)
    expect(check).toMatchObject({
      ok: true,
      interpreter: python.interpreter,
      interpreterFrom: python.from,
      problems: [],
      instructions: [],
    })
    const version = spawnSync(python.interpreter, ['--version'], { encoding: 'utf8' }).stdout
    expect(version).toContain(check.python)
    expect(check.torch).toMatch(/^\d+\.\d+/)
    expect(check.onnx).toMatch(/^\d+\.\d+/)
  })
})

describe('convert.start refusals', () => {
  it('refuses a size of another family and relative paths, naming the field', async () => {
    const files = { student: '/x/a.pt', teacher: '/x/b.pt', tokenizer: '/x/c.pt' }
    const wrongSize = await client.convert.start({ family: 'var', size: 'B', ...files })
    expect(wrongSize).toMatchObject({
      ok: false,
      error: {
        code: 'invalid_input',
        message: 'convert.start: input.size: must be one of 16, 20, 24 for VAR-DD',
      },
    })
    const relative = await client.convert.start({ family: 'llamagen', size: 'B', ...files, teacher: 'b.pt' })
    expect(relative).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: 'convert.start: input.teacher: must be an absolute path' },
    })
    const missing = await client.convert.start({ family: 'llamagen', size: 'L', ...files })
    expect(missing).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: 'student (LlamaGen-DD student): there is no file at /x/a.pt' },
    })
    expect(events).toEqual([])
  })
})

describe('converting with the real converter', () => {
  it('passes on its error for files that are not checkpoints, leaving no pack and no staging folder', async () => {
    const junk = path.join(dataDir, 'downloads')
    fs.mkdirSync(junk)
    const files = {
      student: path.join(junk, 'llamagen-B.pt'),
      teacher: path.join(junk, 'c2i_B_256.pt'),
      tokenizer: path.join(junk, 'vq_ds16_c2i.pt'),
    }
    for (const file of Object.values(files)) fs.writeFileSync(file, 'this is a text file, not a checkpoint\n')
    const job = unwrap(await client.convert.start({ family: 'llamagen', size: 'B', ...files, id: 'junk' }))
    const end = await ended(job.jobId)
    console.log(`converter error: ${end.error}`)
    expect(end.state).toBe('failed')
    expect(end.pack).toBeNull()
    // The converter names the file it could not read.
    expect(end.error).toContain(files.student)
    expect(end.error).not.toMatch(/^the converter stopped unexpectedly/)
    expect(hidden()).toEqual([])
    expect(fs.existsSync(path.join(userDir, 'junk'))).toBe(false)
    expect(unwrap(await client.packs.list({})).map((p) => p.id)).not.toContain('junk')
    expect(unwrap(await client.convert.list({}))[0]).toEqual(end)
  })

  it('converts tiny official-structure LlamaGen files into a ready pack in the models folder', async () => {
    const sources = path.join(dataDir, 'test-checkpoints')
    const made = converter(['test-checkpoints', 'llamagen', '--out', sources])
    expect(made.status, made.stderr).toBe(0)
    const files = JSON.parse(made.stdout) as Record<string, string>
    const size = files.size as string
    const tokenizer = (files.vq ?? files.tokenizer) as string
    expect([files.student, files.teacher, tokenizer].every((f) => f && fs.existsSync(f))).toBe(true)

    events.length = 0
    const started = Date.now()
    // Through the service: the contract offers only the published sizes, and the test files have their own.
    const job = await app.convert.start({
      family: 'llamagen',
      size,
      student: files.student as string,
      teacher: files.teacher as string,
      tokenizer,
      id: 'llamagen-converted',
    })
    const end = await ended(job.jobId)
    console.log(
      `converted in ${((Date.now() - started) / 1000).toFixed(1)} s; stages: ${[
        ...new Set(events.map((e) => e.stage)),
      ].join(', ')}`,
    )
    expect(end.error).toBeNull()
    expect(end.state).toBe('done')
    expect(events.some((e) => e.state === 'running' && e.total > 0)).toBe(true)
    expect(end.pack).toMatchObject({ id: 'llamagen-converted', source: 'user', status: 'ready' })
    expect(end.pack?.dir).toBe(path.join(userDir, 'llamagen-converted'))
    expect(end.pack?.classes).toHaveLength(1000)
    expect(end.pack?.classes[207]?.name).toBe('golden retriever')
    expect(hidden()).toEqual([])
    const listed = unwrap(await client.packs.list({})).find((p) => p.id === 'llamagen-converted')
    expect(listed?.status).toBe('ready')
  })
})

describe('convert.pickFile', () => {
  it('asks the desktop shell from the calling window, and needs one', async () => {
    const noWindow = await client.convert.pickFile({ family: 'var', role: 'tokenizer' })
    expect(noWindow).toMatchObject({ ok: false, error: { code: 'unavailable' } })
    const sender = Object.freeze({}) as SenderHandle
    const answer = await app.dispatch(
      'convert.pickFile',
      { family: 'llamagen', role: 'teacher' },
      { transport: 'electron', sender },
    )
    expect(answer).toEqual({ ok: true, value: '/home/me/Downloads/llamagen-B.pt' })
    expect(picks).toHaveLength(1)
    expect(picks[0]?.sender).toBe(sender)
    expect(picks[0]?.options.title).toBe('Choose the LlamaGen class-to-image teacher file')
    expect(picks[0]?.options.filters[0]?.extensions).toContain('pt')
  })

  it('is unavailable in serve mode', async () => {
    const served = await createApp({
      shell: 'serve',
      dataDir: tempDir('convert-serve'),
      launcher: childProcessLauncher(BUILT_HOST),
    })
    try {
      const answer = await served.dispatch(
        'convert.pickFile',
        { family: 'llamagen', role: 'student' },
        { transport: 'http' },
      )
      expect(answer).toMatchObject({
        ok: false,
        error: {
          code: 'unavailable',
          message:
            'convert.pickFile: choosing a file in a file dialog is a desktop-app action; it is not available in a browser (serve mode)',
        },
      })
    } finally {
      await served.close()
    }
  })
})
