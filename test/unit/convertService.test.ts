/**
 * The convert service's own work, with a scripted converter in place of models/convert: a real Python process
 * that follows the converter's command line (JSON progress lines, done/error events, exit codes 0/1/2) and
 * copies the committed emoji32 pack as its "conversion". What is checked is main's side: the file checks, the
 * arguments, progress events, validation and the move into the models folder, errors passed on as the
 * converter gave them, cancel, one conversion at a time, and that no staging folder is ever left behind.
 * The real converter is run by test/integration/convert.test.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ConvertJob } from '../../common/convert.ts'
import { AppError } from '../../common/result.ts'
import { type ConvertRequest, choosePython } from '../../main/services/converterCli.ts'
import { ConvertService, STAGING_PREFIX } from '../../main/services/convertService.ts'
import { PackService } from '../../main/services/packService.ts'
import { COMMITTED_PACKS_DIR } from '../support/packs.ts'
import { REPO_ROOT, tempDir } from '../support/testApp.ts'

const FAKE_CONVERTER = `
import argparse, json, os, shutil, sys, time

def emit(**event):
    print(json.dumps(event), flush=True)

if sys.argv[1] == "check":
    print(os.environ.get("FAKE_CHECK", json.dumps(
        {"python": "3.11.2", "torch": "2.3.0", "onnx": "1.16.0", "ok": True, "problems": []})))
    sys.exit(int(os.environ.get("FAKE_CHECK_EXIT", "0")))

p = argparse.ArgumentParser()
p.add_argument("family")
for flag in ("--size", "--depth", "--student", "--teacher", "--vq", "--vae", "--out", "--id", "--progress"):
    p.add_argument(flag)
p.add_argument("--fp16", action="store_true")
a = p.parse_args()
with open(os.environ["FAKE_ARGS_LOG"], "w") as f:
    json.dump(sys.argv[1:], f)
mode = os.environ.get("FAKE_MODE", "ok")
for i in range(3):
    emit(event="progress", stage="loading checkpoints", done=i + 1, total=3)
if mode == "slow":
    os.makedirs(a.out)
    with open(os.path.join(a.out, "generator.onnx"), "wb") as f:
        f.write(b"half written")
    emit(event="progress", stage="exporting generator", done=0, total=2)
    time.sleep(60)
if mode == "bad-input":
    emit(event="error", message=a.student + ": not a LlamaGen-DD student checkpoint (expected the key 'ema' with 'cls_embedding.embedding_table.weight' (1001, 768))")
    sys.exit(2)
if mode == "crash":
    raise RuntimeError("something the converter did not expect")
if mode == "elsewhere":
    emit(event="done", pack="/tmp/somewhere-else", id="x")
    sys.exit(0)
if mode == "noisy":
    print("a library talking on stdout", flush=True)
shutil.copytree(os.environ["FAKE_PACK_SRC"], a.out)
manifest_file = os.path.join(a.out, "manifest.json")
with open(manifest_file) as f:
    manifest = json.load(f)
manifest["id"] = a.id or "fake-pack"
with open(manifest_file, "w") as f:
    json.dump(manifest, f)
if mode == "broken":
    with open(os.path.join(a.out, "decoder.onnx"), "ab") as f:
        f.write(b"tampered")
emit(event="progress", stage="writing the pack", done=1, total=1)
emit(event="done", pack=a.out, id=manifest["id"])
`

let root: string
let codeDir: string
let sources: string
let argsLog: string
let userDir: string
let packs: PackService
let service: ConvertService
let events: ConvertJob[]
const logs: string[] = []

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    FAKE_PACK_SRC: path.join(COMMITTED_PACKS_DIR, 'emoji32'),
    FAKE_ARGS_LOG: argsLog,
    ...extra,
  }
}

async function openService(extra: Record<string, string> = {}): Promise<ConvertService> {
  return ConvertService.open({
    userDir,
    packs,
    appRoot: REPO_ROOT,
    pythonPath: codeDir,
    env: env(extra),
    onProgress: (job) => events.push(job),
    log: (level, message) => logs.push(`${level}: ${message}`),
  })
}

function request(overrides: Partial<ConvertRequest> = {}): ConvertRequest {
  return {
    family: 'llamagen',
    size: 'B',
    student: path.join(sources, 'llamagen-B.pt'),
    teacher: path.join(sources, 'c2i_B_256.pt'),
    tokenizer: path.join(sources, 'vq_ds16_c2i.pt'),
    ...overrides,
  }
}

/** Waits for the job's last event to be an end state, and returns that event. */
async function ended(jobId: string): Promise<ConvertJob> {
  for (let i = 0; i < 600; i++) {
    const last = events.filter((e) => e.jobId === jobId).at(-1)
    if (last && ['done', 'failed', 'cancelled'].includes(last.state)) return last
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`job ${jobId} did not end`)
}

function leftovers(): string[] {
  return fs.existsSync(userDir) ? fs.readdirSync(userDir).filter((n) => n.startsWith('.')) : []
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof AppError) return err
    throw err
  }
  throw new Error('a refusal was expected')
}

beforeAll(async () => {
  root = tempDir('convert-service')
  codeDir = path.join(root, 'code')
  fs.mkdirSync(path.join(codeDir, 'convert'), { recursive: true })
  fs.writeFileSync(path.join(codeDir, 'convert', '__init__.py'), '')
  fs.writeFileSync(path.join(codeDir, 'convert', '__main__.py'), FAKE_CONVERTER)
  sources = path.join(root, 'downloads')
  fs.mkdirSync(sources)
  for (const name of ['llamagen-B.pt', 'c2i_B_256.pt', 'vq_ds16_c2i.pt'])
    fs.writeFileSync(path.join(sources, name), `not really ${name}`)
  argsLog = path.join(root, 'args.json')
  userDir = path.join(root, 'models')
  packs = await PackService.open({ builtInDirs: [COMMITTED_PACKS_DIR], userDir, log: () => undefined })
  service = await openService()
})

afterAll(async () => {
  await service?.close()
  packs?.close()
})

beforeEach(() => {
  events = []
})

describe('convert.check through the service', () => {
  it('reports the versions and the interpreter it ran, with nothing to do when all is there', async () => {
    const check = await service.check()
    const python = choosePython()
    expect(check).toEqual({
      ok: true,
      interpreter: python.interpreter,
      interpreterFrom: python.from,
      python: '3.11.2',
      torch: '2.3.0',
      onnx: '1.16.0',
      problems: [],
      instructions: [],
    })
  })

  it('passes on what is missing, with how to install it into that Python', async () => {
    const missing = await openService({
      FAKE_CHECK: JSON.stringify({
        python: '3.12.1',
        torch: null,
        onnx: '1.16.0',
        ok: false,
        problems: ['torch is not installed (No module named torch)'],
      }),
      // Exit 0 or 1: the JSON object is the verdict either way.
      FAKE_CHECK_EXIT: '1',
    })
    const check = await missing.check()
    expect(check).toMatchObject({ ok: false, python: '3.12.1', torch: null, onnx: '1.16.0' })
    expect(check.problems).toEqual(['torch is not installed (No module named torch)'])
    expect(check.instructions.join('\n')).toContain(`${check.interpreter} -m pip install torch`)
    expect(check.instructions.join('\n')).not.toContain('pip install onnx')
  })

  it('says which Python it could not run, and what to do', async () => {
    const nowhere = path.join(root, 'no-such-python')
    const check = await (await openService({ DDSTUDIO_PYTHON: nowhere })).check()
    expect(check).toMatchObject({ ok: false, interpreter: nowhere, interpreterFrom: 'DDSTUDIO_PYTHON' })
    expect(check.problems[0]).toMatch(new RegExp(`^could not run ${nowhere}: .*ENOENT`))
    expect(check.instructions[0]).toMatch(/named by the DDSTUDIO_PYTHON environment variable/)
    expect(check.instructions[1]).toMatch(/Install Python 3\.10 or newer/)
  })

  it('reports a converter that is not there', async () => {
    const noConverter = await ConvertService.open({
      userDir,
      packs,
      appRoot: REPO_ROOT,
      pythonPath: path.join(root, 'empty'),
      env: env(),
      onProgress: () => undefined,
      log: () => undefined,
    })
    const check = await noConverter.check()
    expect(check.ok).toBe(false)
    expect(check.problems[0]).toMatch(/-m convert check failed: .*No module named convert/)
    expect(check.instructions[1]).toMatch(/could not run the converter/)
  })
})

describe('checking the request before anything runs', () => {
  it('names the file and its role: missing, a folder, empty, the same file twice', async () => {
    const missing = await refusal(service.start(request({ teacher: path.join(sources, 'gone.pt') })))
    expect(missing.code).toBe('invalid_input')
    expect(missing.message).toBe(
      `teacher (LlamaGen class-to-image teacher): there is no file at ${path.join(sources, 'gone.pt')}`,
    )
    expect((await refusal(service.start(request({ student: sources })))).message).toMatch(
      /^student \(LlamaGen-DD student\): .* is a folder; choose the checkpoint file in it$/,
    )
    const empty = path.join(root, 'empty.pt')
    fs.writeFileSync(empty, '')
    expect((await refusal(service.start(request({ tokenizer: empty })))).message).toBe(
      `tokenizer (VQ-16 tokenizer): ${empty} is empty`,
    )
    expect(
      (await refusal(service.start(request({ tokenizer: path.join(sources, 'llamagen-B.pt') })))).message,
    ).toMatch(/^tokenizer \(VQ-16 tokenizer\): .* is the same file as the student$/)
    expect((await refusal(service.start(request({ id: 'emoji32' })))).message).toMatch(
      /^a pack with the id 'emoji32' already exists/,
    )
    expect(events).toEqual([])
    expect(leftovers()).toEqual([])
  })
})

describe('a conversion', () => {
  it('runs the converter with the files as given, reports progress, validates and lists the pack', async () => {
    const job = await service.start(request({ fp16: true }))
    expect(job).toMatchObject({ family: 'llamagen', size: 'B', state: 'running', pack: null, error: null })
    const end = await ended(job.jobId)
    expect(end.error).toBeNull()
    expect(end.state).toBe('done')
    expect(end.pack).toMatchObject({ id: 'fake-pack', source: 'user', status: 'ready' })
    expect(end.pack?.dir).toBe(path.join(userDir, 'fake-pack'))
    expect(fs.existsSync(path.join(userDir, 'fake-pack', 'manifest.json'))).toBe(true)
    expect(packs.list().find((p) => p.id === 'fake-pack')?.status).toBe('ready')

    const args = JSON.parse(fs.readFileSync(argsLog, 'utf8')) as string[]
    const out = args[args.indexOf('--out') + 1] as string
    expect(path.dirname(path.dirname(out))).toBe(userDir)
    expect(path.basename(path.dirname(out))).toMatch(new RegExp(`^\\${STAGING_PREFIX}${process.pid}-`))
    expect(args).toEqual([
      'llamagen',
      '--size',
      'B',
      '--student',
      request().student,
      '--teacher',
      request().teacher,
      '--vq',
      request().tokenizer,
      '--out',
      out,
      '--fp16',
      '--progress',
      'json',
    ])

    const states = events.map((e) => e.state)
    expect(states[0]).toBe('running')
    expect(states.filter((s) => s === 'validating').length).toBeGreaterThan(0)
    expect(states.at(-1)).toBe('done')
    expect(events.some((e) => e.stage === 'loading checkpoints' && e.total === 3)).toBe(true)
    expect(events.some((e) => e.stage === 'writing the pack' && e.done === 1)).toBe(true)
    expect(leftovers()).toEqual([])
    expect(service.list()[0]).toEqual(end)
  })

  it('fails, after converting, when the id it gets is taken, and leaves nothing behind', async () => {
    const job = await service.start(request())
    const end = await ended(job.jobId)
    expect(end.state).toBe('failed')
    expect(end.error).toMatch(/^a pack with the id 'fake-pack' already exists \(.*fake-pack\)/)
    expect(leftovers()).toEqual([])
    expect(packs.list().filter((p) => p.id === 'fake-pack')).toHaveLength(1)
  })

  it('passes on the converter’s error as it gave it (exit 2), with no pack and no staging folder', async () => {
    const bad = await openService({ FAKE_MODE: 'bad-input' })
    events = []
    const job = await bad.start(request({ id: 'never-made' }))
    const end = await ended(job.jobId)
    expect(end).toMatchObject({ state: 'failed', pack: null })
    expect(end.error).toBe(
      `${request().student}: not a LlamaGen-DD student checkpoint (expected the key 'ema' with 'cls_embedding.embedding_table.weight' (1001, 768))`,
    )
    expect(leftovers()).toEqual([])
    expect(fs.existsSync(path.join(userDir, 'never-made'))).toBe(false)
  })

  it('says that the converter stopped unexpectedly, with the end of what it wrote (exit 1)', async () => {
    const crash = await openService({ FAKE_MODE: 'crash' })
    const end = await ended((await crash.start(request({ id: 'never-made' }))).jobId)
    expect(end.state).toBe('failed')
    expect(end.error).toMatch(/^the converter stopped unexpectedly \(exit code 1\): /)
    expect(end.error).toContain('RuntimeError: something the converter did not expect')
    expect(leftovers()).toEqual([])
  })

  it('refuses a pack that does not validate, or one reported outside its folder', async () => {
    const broken = await openService({ FAKE_MODE: 'broken' })
    const end = await ended((await broken.start(request({ id: 'broken-pack' }))).jobId)
    expect(end.state).toBe('failed')
    expect(end.error).toMatch(/^the converted pack did not validate: .*decoder\.onnx/)
    const elsewhere = await openService({ FAKE_MODE: 'elsewhere' })
    const moved = await ended((await elsewhere.start(request({ id: 'elsewhere' }))).jobId)
    expect(moved.error).toMatch(
      /^the converter reported its pack at \/tmp\/somewhere-else, not in the folder/,
    )
    expect(leftovers()).toEqual([])
    expect(fs.readdirSync(userDir).sort()).toEqual(['fake-pack'])
  })

  it('logs stray stdout lines and still converts', async () => {
    const noisy = await openService({ FAKE_MODE: 'noisy' })
    const end = await ended((await noisy.start(request({ id: 'noisy-pack' }))).jobId)
    expect(end.state).toBe('done')
    expect(logs).toContain('info: converter: a library talking on stdout')
  })

  it('runs one at a time, and a cancel stops the converter and removes everything it wrote', async () => {
    const slow = await openService({ FAKE_MODE: 'slow' })
    const job = await slow.start(request({ id: 'cancelled-pack' }))
    // Wait until the converter has written into its staging folder.
    for (let i = 0; i < 200 && !events.some((e) => e.stage === 'exporting generator'); i++)
      await new Promise((r) => setTimeout(r, 50))
    expect(leftovers()).toHaveLength(1)
    const busy = await refusal(slow.start(request({ id: 'second' })))
    expect(busy.code).toBe('unavailable')
    expect(busy.message).toMatch(/^a conversion is already running \(LlamaGen-DD B, job /)

    const started = Date.now()
    const cancelled = await slow.cancel(job.jobId)
    expect(Date.now() - started).toBeLessThan(4000)
    expect(cancelled).toMatchObject({ state: 'cancelled', error: null, pack: null })
    expect(events.at(-1)?.state).toBe('cancelled')
    expect(leftovers()).toEqual([])
    expect(fs.existsSync(path.join(userDir, 'cancelled-pack'))).toBe(false)
    // Cancelling again answers with the same ended job; an unknown id is not found.
    expect((await slow.cancel(job.jobId)).state).toBe('cancelled')
    expect((await refusal(slow.cancel('00000000-0000-4000-8000-000000000000'))).code).toBe('not_found')
  })

  it('removes staging folders left by a crashed app when it opens, but not those of a running one', async () => {
    const dead = path.join(userDir, `${STAGING_PREFIX}999999999-abc`)
    const alive = path.join(userDir, `${STAGING_PREFIX}${process.ppid}-def`)
    for (const dir of [dead, alive]) fs.mkdirSync(path.join(dir, 'pack'), { recursive: true })
    await openService()
    expect(fs.existsSync(dead)).toBe(false)
    expect(fs.existsSync(alive)).toBe(true)
    fs.rmSync(alive, { recursive: true })
  })
})
