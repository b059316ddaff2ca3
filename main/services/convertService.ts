/**
 * "Import official checkpoint": official DD checkpoint files -> a pack in the user's models folder, with the
 * Python converter (models/convert; its command line in converterCli.ts). One conversion at a time. The
 * converter writes into a hidden staging folder inside the models folder (same file system, so the final move
 * is a rename); the result is validated with loadPack and renamed to `<models>/<id>` only then, so a pack is
 * either complete or absent. Cancelling, a failure or closing the app removes the staging folder; one left by
 * a crash is removed the next time the app starts.
 */
import { randomUUID } from 'node:crypto'
import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import {
  CHECKPOINT_ROLES,
  type CheckpointRole,
  type ConverterCheck,
  type ConvertJob,
  FAMILIES,
  modelLabel,
} from '../../common/convert.ts'
import type { PackSummary } from '../../common/generation.ts'
import { AppError } from '../../common/result.ts'
import { syncDir } from '../app/atomicWrite.ts'
import { isAbandonedStaging } from '../app/stagingFolder.ts'
import { loadPack } from '../engine/packs/loadPack.ts'
import {
  type CheckReport,
  type ConvertRequest,
  checkInstructions,
  choosePython,
  clip,
  converterArgs,
  type PythonChoice,
  type PythonRun,
  parseCheckOutput,
  parseConverterLine,
  runPython,
} from './converterCli.ts'

export const STAGING_PREFIX = '.convert-'

/** How long `check` may take (importing torch is slow on a cold disk). */
const CHECK_TIMEOUT_MS = 120_000
/** After SIGTERM, how long the converter has before it is killed outright. */
const KILL_GRACE_MS = 5_000
/** Progress events at most this often, except for a new stage or the end of one. */
const PROGRESS_INTERVAL_MS = 100
/** Ended conversions kept for convert.list. */
const KEEP_ENDED = 10

/** What the service needs of the pack registry. */
export interface PackCatalog {
  list(): PackSummary[]
  rescan(): Promise<PackSummary[]>
}

export interface ConvertServiceOptions {
  /** The user's models folder, where packs go (the registry's). */
  userDir: string
  packs: PackCatalog
  /** The app's root folder: the converter's working folder. */
  appRoot: string
  /** Put on PYTHONPATH so `-m convert` finds the converter (default: `<appRoot>/models`). */
  pythonPath?: string
  /** Where DDSTUDIO_PYTHON and the rest of the converter's environment come from (default: process.env). */
  env?: NodeJS.ProcessEnv
  onProgress(job: ConvertJob): void
  /** The pack list after a converted pack was added (before the folder watcher would notice it). */
  onPacksChange?(packs: PackSummary[]): void
  log(level: 'info' | 'warn' | 'error', message: string): void
}

interface Run {
  job: ConvertJob
  staging: string
  out: string
  process: PythonRun | null
  cancelRequested: boolean
  /** Resolves once the conversion has ended and its staging folder is gone. */
  ended: Promise<void>
  lastEmit: number
}

export class ConvertService {
  private readonly jobs: ConvertJob[] = []
  private running: Run | null = null

  private constructor(private readonly options: ConvertServiceOptions) {}

  static async open(options: ConvertServiceOptions): Promise<ConvertService> {
    const service = new ConvertService(options)
    await service.removeLeftovers()
    return service
  }

  private get python(): PythonChoice {
    return choosePython(this.options.env ?? process.env)
  }

  private get pythonPath(): string {
    return this.options.pythonPath ?? path.join(this.options.appRoot, 'models')
  }

  /** Runs `python -m convert check`: the interpreter, torch and onnx, with instructions when something is missing. */
  async check(): Promise<ConverterCheck> {
    const python = this.python
    let stdout = ''
    const run = runPython(python, ['-m', 'convert', 'check'], {
      cwd: this.options.appRoot,
      pythonPath: this.pythonPath,
      env: this.options.env,
      onLine: (line) => {
        stdout += `${line}\n`
      },
    })
    const timer = setTimeout(() => run.child.kill('SIGKILL'), CHECK_TIMEOUT_MS)
    const { code, signal, spawnError } = await run.exited
    clearTimeout(timer)
    const base = { interpreter: python.interpreter, interpreterFrom: python.from }
    const failed = (problem: string, ran: boolean): ConverterCheck => ({
      ...base,
      ok: false,
      python: null,
      torch: null,
      onnx: null,
      problems: [problem],
      instructions: checkInstructions(python, { ran, torch: null, onnx: null, converter: false }),
    })
    if (spawnError) return failed(`could not run ${python.interpreter}: ${spawnError.message}`, false)
    if (signal === 'SIGKILL')
      return failed(
        `${python.interpreter} -m convert check did not answer in ${CHECK_TIMEOUT_MS / 1000} s`,
        true,
      )
    // The verdict is the JSON object, whatever the exit status says (a failed check may exit with 1).
    const report = parseCheckOutput(stdout)
    if ('error' in report) {
      if (code !== 0) {
        const why = run.stderr.value().split('\n').slice(-3).join(' ') || `exit code ${code}`
        return failed(`${python.interpreter} -m convert check failed: ${clip(why, 600)}`, true)
      }
      return failed(`${python.interpreter} -m convert check gave no usable answer: ${report.error}`, true)
    }
    return this.checkResult(python, report)
  }

  private checkResult(python: PythonChoice, report: CheckReport): ConverterCheck {
    const problems = [...report.problems]
    // The converter's own verdict decides; a missing version it did not mention is still worth saying.
    if (report.torch === null && !problems.some((p) => /torch/i.test(p)))
      problems.push('torch is not installed')
    if (report.onnx === null && !problems.some((p) => /onnx/i.test(p))) problems.push('onnx is not installed')
    const ok = report.ok && report.torch !== null && report.onnx !== null
    return {
      ok,
      interpreter: python.interpreter,
      interpreterFrom: python.from,
      python: report.python,
      torch: report.torch,
      onnx: report.onnx,
      problems: ok ? [] : problems,
      instructions: ok
        ? []
        : checkInstructions(python, { ran: true, torch: report.torch, onnx: report.onnx, converter: true }),
    }
  }

  /**
   * Checks the request (the three files exist, are files and differ; the id is free), then starts the
   * converter and answers at once; convert.onProgress reports the rest.
   */
  async start(request: ConvertRequest): Promise<ConvertJob> {
    if (this.running) {
      const { job } = this.running
      throw new AppError(
        'unavailable',
        `a conversion is already running (${modelLabel(job.family, job.size)}, job ${job.jobId}): wait for it to end or cancel it`,
      )
    }
    await checkFiles(request)
    if (request.id !== undefined) await this.assertIdFree(request.id)

    await fs.mkdir(this.options.userDir, { recursive: true })
    const staging = await fs.mkdtemp(path.join(this.options.userDir, `${STAGING_PREFIX}${process.pid}-`))
    const job: ConvertJob = {
      jobId: randomUUID(),
      family: request.family,
      size: request.size,
      state: 'running',
      stage: null,
      done: 0,
      total: 0,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      pack: null,
      error: null,
    }
    const run: Run = {
      job,
      staging,
      out: path.join(staging, 'pack'),
      process: null,
      cancelRequested: false,
      ended: Promise.resolve(),
      lastEmit: 0,
    }
    this.running = run
    this.jobs.unshift(job)
    this.jobs.splice(KEEP_ENDED + 1)
    this.options.log('info', `converting ${modelLabel(job.family, job.size)} (job ${job.jobId})`)
    run.ended = this.convert(run, request)
    this.emit(run, true)
    return { ...job }
  }

  /** Stops a conversion and answers once the converter has exited and its staging folder is gone. */
  async cancel(jobId: string): Promise<ConvertJob> {
    const job = this.jobs.find((j) => j.jobId === jobId)
    if (!job) throw new AppError('not_found', `no conversion with job id ${jobId}`)
    const run = this.running
    if (run && run.job === job) {
      run.cancelRequested = true
      const child = run.process?.child
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const force = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS)
        await run.ended
        clearTimeout(force)
      } else {
        await run.ended
      }
    }
    return { ...job }
  }

  list(): ConvertJob[] {
    return this.jobs.map((j) => ({ ...j }))
  }

  /** Cancels the running conversion (the app is closing). */
  async close(): Promise<void> {
    if (this.running) await this.cancel(this.running.job.jobId)
  }

  /** Runs the converter, then validates and moves the pack in; always ends with the staging folder removed. */
  private async convert(run: Run, request: ConvertRequest): Promise<void> {
    const { job } = run
    try {
      const outcome = await this.runConverter(run, request)
      if (run.cancelRequested) return this.end(run, 'cancelled', null)
      if ('error' in outcome) return this.end(run, 'failed', outcome.error)
      job.state = 'validating'
      job.stage = 'checking the pack'
      job.done = 0
      job.total = 0
      this.emit(run, true)
      const pack = await this.validateAndMove(run, outcome.pack)
      if (pack === null) return this.end(run, 'cancelled', null)
      job.pack = pack
      this.options.log(
        'info',
        `converted ${modelLabel(job.family, job.size)} into the pack '${pack.id}' (${pack.dir})`,
      )
      return this.end(run, 'done', null)
    } catch (err) {
      const message =
        err instanceof AppError ? err.message : `unexpected: ${String((err as Error).message ?? err)}`
      if (!(err instanceof AppError))
        this.options.log('error', `conversion ${job.jobId} failed: ${String(err)}`)
      return this.end(run, run.cancelRequested ? 'cancelled' : 'failed', message)
    } finally {
      await fs.rm(run.staging, { recursive: true, force: true }).catch((err: Error) => {
        this.options.log('warn', `could not remove the staging folder ${run.staging}: ${err.message}`)
      })
      this.running = null
      // Listeners hear the end only once nothing is left behind.
      this.emit(run, true)
    }
  }

  private async runConverter(
    run: Run,
    request: ConvertRequest,
  ): Promise<{ pack: string } | { error: string }> {
    const { job } = run
    const python = this.python
    let done: { pack: string; id: string } | null = null
    let error: string | null = null
    run.process = runPython(python, converterArgs(request, run.out), {
      cwd: this.options.appRoot,
      pythonPath: this.pythonPath,
      env: this.options.env,
      onLine: (line) => {
        const event = parseConverterLine(line)
        switch (event.event) {
          case 'progress': {
            const newStage = event.stage !== job.stage
            job.stage = event.stage
            job.done = Math.min(event.done, event.total)
            job.total = event.total
            this.emit(run, newStage || event.done >= event.total)
            break
          }
          case 'done':
            done = { pack: event.pack, id: event.id }
            break
          case 'error':
            error = event.message
            break
          case 'other':
            if (event.line !== '') this.options.log('info', `converter: ${clip(event.line, 400)}`)
        }
      },
    })
    const { code, signal, spawnError } = await run.process.exited
    if (run.cancelRequested) return { error: 'cancelled' }
    if (spawnError)
      return {
        error: `could not run ${python.interpreter}: ${spawnError.message}. Set DDSTUDIO_PYTHON to a Python that has torch and onnx.`,
      }
    const stderr = run.process.stderr.value()
    const lastLines = stderr.split('\n').slice(-5).join('\n')
    if (code === 0 && done !== null) {
      const reported = path.resolve(this.options.appRoot, (done as { pack: string }).pack)
      if (reported !== path.resolve(run.out))
        return {
          error: `the converter reported its pack at ${reported}, not in the folder it was given (${run.out})`,
        }
      return { pack: run.out }
    }
    if (error !== null) return { error }
    if (code === 0) return { error: 'the converter ended without reporting a pack' }
    if (code === 2)
      return { error: `the converter refused its input (exit code 2)${lastLines ? `: ${lastLines}` : ''}` }
    if (signal) return { error: `the converter was stopped by ${signal}${lastLines ? `: ${lastLines}` : ''}` }
    return {
      error: `the converter stopped unexpectedly (exit code ${code})${lastLines ? `: ${lastLines}` : ''}`,
    }
  }

  /** Validates the converted pack and renames it into the models folder; null when cancelled meanwhile. */
  private async validateAndMove(run: Run, dir: string): Promise<PackSummary | null> {
    const loaded = await loadPack(dir)
    if (!loaded.ok)
      throw new AppError(
        'invalid_input',
        `the converted pack did not validate: ${loaded.problems.join('; ')}`,
      )
    if (run.cancelRequested) return null
    const id = loaded.manifest.id
    await this.assertIdFree(id)
    const target = path.join(this.options.userDir, id)
    await syncDir(dir)
    try {
      await fs.rename(dir, target)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST' || code === 'ENOTEMPTY') throw idTaken(id, target)
      throw err
    }
    await syncDir(this.options.userDir)
    const list = await this.options.packs.rescan()
    this.options.onPacksChange?.(list)
    const pack = list.find((p) => path.resolve(p.dir) === path.resolve(target))
    if (!pack) throw new AppError('internal', `the converted pack vanished from ${target}`)
    if (pack.status !== 'ready')
      throw new AppError(
        'invalid_input',
        `the converted pack in ${target} cannot be used: ${pack.problems.join('; ')}`,
      )
    return pack
  }

  private async assertIdFree(id: string): Promise<void> {
    const target = path.join(this.options.userDir, id)
    const listed = this.options.packs.list().find((p) => p.id === id)
    if (listed) throw idTaken(id, listed.dir)
    const exists = await fs.lstat(target).then(
      () => true,
      () => false,
    )
    if (exists) throw idTaken(id, target)
  }

  private end(run: Run, state: 'done' | 'failed' | 'cancelled', error: string | null): void {
    const { job } = run
    job.state = state
    job.error = state === 'failed' ? error : null
    job.finishedAt = new Date().toISOString()
    if (state === 'failed')
      this.options.log('warn', `conversion ${job.jobId} failed: ${clip(error ?? '', 1000)}`)
  }

  private emit(run: Run, force: boolean): void {
    const now = Date.now()
    if (!force && now - run.lastEmit < PROGRESS_INTERVAL_MS) return
    run.lastEmit = now
    this.options.onProgress({ ...run.job })
  }

  /** Removes staging folders that a crashed or killed app left behind (never one of another running app). */
  private async removeLeftovers(): Promise<void> {
    let names: string[]
    try {
      names = await fs.readdir(this.options.userDir)
    } catch {
      return
    }
    for (const name of names.filter((n) => n.startsWith(STAGING_PREFIX))) {
      const dir = path.join(this.options.userDir, name)
      if (!(await isAbandonedStaging(dir, STAGING_PREFIX))) continue
      await fs
        .rm(dir, { recursive: true, force: true })
        .then(() => this.options.log('info', `removed ${dir}, left by an interrupted conversion`))
        .catch((err: Error) => this.options.log('warn', `could not remove ${dir}: ${err.message}`))
    }
  }
}

function idTaken(id: string, where: string): AppError {
  return new AppError(
    'invalid_input',
    `a pack with the id '${id}' already exists (${where}): remove it, or give the conversion another id`,
  )
}

/**
 * The three files: absolute, present, regular files (a link is followed: downloads caches link to their
 * blobs), not empty, readable, and three different files. Errors name the file's role and path.
 */
export async function checkFiles(request: ConvertRequest): Promise<void> {
  const family = FAMILIES[request.family]
  const seen = new Map<string, CheckpointRole>()
  for (const role of CHECKPOINT_ROLES) {
    const file = request[role]
    const what = `${role} (${family.files[role]})`
    if (!path.isAbsolute(file))
      throw new AppError('invalid_input', `${what}: '${file}' is not an absolute path`)
    let stat: Stats
    try {
      stat = await fs.stat(file)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new AppError(
        'invalid_input',
        code === 'ENOENT' ? `${what}: there is no file at ${file}` : `${what}: cannot read ${file} (${code})`,
      )
    }
    if (stat.isDirectory())
      throw new AppError('invalid_input', `${what}: ${file} is a folder; choose the checkpoint file in it`)
    if (!stat.isFile()) throw new AppError('invalid_input', `${what}: ${file} is not a regular file`)
    if (stat.size === 0) throw new AppError('invalid_input', `${what}: ${file} is empty`)
    try {
      await fs.access(file, fs.constants.R_OK)
    } catch {
      throw new AppError('invalid_input', `${what}: ${file} cannot be read (permissions)`)
    }
    const key = `${stat.dev}:${stat.ino}`
    const other = seen.get(key)
    if (other) throw new AppError('invalid_input', `${what}: ${file} is the same file as the ${other}`)
    seen.set(key, role)
  }
}
