/**
 * The generation queue in main: jobs run one at a time on the inference host, in the order they came (FIFO).
 * A job is planned against its pack when it is submitted, so a bad request fails at once with invalid_input,
 * never later in the queue. Cancelling a queued job removes it; cancelling the running one stops it at its
 * next step. When the host crashes, the running job fails with host_crashed and the queued ones fail with a
 * clear reason instead of running on a host that is restarting.
 */
import { randomUUID } from 'node:crypto'
import type { GenerateRequest, GenerationResult, JobStateName, JobSummary } from '../../common/generation.ts'
import { AppError } from '../../common/result.ts'
import type { JobProgress, ProviderPreference } from '../../common/types.ts'
import type { PackManifest } from '../engine/packs/manifest.ts'
import { type GenerationPlan, planGeneration } from '../engine/plan.ts'
import type { WordTokenizer } from '../engine/text/tokenizer.ts'
import type { HostSupervisor } from '../host/supervisor.ts'

/** What the job service needs from the pack registry. */
export interface PackSource {
  ready(id: string | undefined): Promise<{
    dir: string
    manifest: PackManifest
    manifestSha256: string
    /** A text pack's word tokenizer (plan.ts tokenizes the prompt with it); null for a class pack. */
    tokenizer: WordTokenizer | null
  }>
}

interface Job {
  id: string
  plan: GenerationPlan
  pack: { dir: string; manifest: PackManifest }
  state: JobStateName
  controller: AbortController
  result: Promise<GenerationResult>
  resolve(result: GenerationResult): void
  reject(err: AppError): void
  error: AppError | null
}

/** Finished jobs kept for `jobs.wait` and `jobs.list`. */
const KEEP_FINISHED = 50

export class JobService {
  private readonly queue: Job[] = []
  private readonly jobs = new Map<string, Job>()
  private running: Job | null = null

  constructor(
    private readonly host: HostSupervisor,
    private readonly packs: PackSource,
    private readonly options: {
      appVersion: string
      preference: () => ProviderPreference
      onProgress: (progress: JobProgress) => void
      onChange?: (jobs: JobSummary[]) => void
      /** A job finished with images (the speed service learns this machine's timings from it). */
      onResult?: (result: GenerationResult) => void
      /**
       * Keeps a finished job's images (the gallery); runs before the job counts as done, so saves happen in
       * job order. Should not throw: a failure to keep the images is reported in result.galleryError.
       */
      keep?: (result: GenerationResult) => Promise<void>
    },
  ) {}

  async submit(request: GenerateRequest): Promise<JobSummary> {
    const pack = await this.packs.ready(request.packId)
    const plan = planGeneration(request, pack.manifest, pack.manifestSha256, pack.tokenizer)
    let resolve!: (r: GenerationResult) => void
    let reject!: (e: AppError) => void
    const result = new Promise<GenerationResult>((res, rej) => {
      resolve = res
      reject = rej
    })
    result.catch(() => undefined) // nobody may wait on it
    const job: Job = {
      id: randomUUID(),
      plan,
      pack: { dir: pack.dir, manifest: pack.manifest },
      state: 'queued',
      controller: new AbortController(),
      result,
      resolve,
      reject,
      error: null,
    }
    this.jobs.set(job.id, job)
    this.queue.push(job)
    this.forgetOldJobs()
    this.changed()
    void this.pump()
    return this.summary(job)
  }

  /** Resolves when the job is done (at once if it already is). */
  async wait(jobId: string): Promise<GenerationResult> {
    return this.job(jobId).result
  }

  /** Submit and wait, for callers that do not need the job id first (the CLI, the bench). */
  async run(request: GenerateRequest): Promise<GenerationResult> {
    const { jobId } = await this.submit(request)
    return this.wait(jobId)
  }

  cancel(jobId: string): JobSummary {
    const job = this.job(jobId)
    this.cancelJob(job, 'the job was cancelled')
    return this.summary(job)
  }

  cancelAll(): JobSummary[] {
    const all = [...this.queue, ...(this.running ? [this.running] : [])]
    for (const job of all) this.cancelJob(job, 'the job was cancelled (cancel all)')
    return all.map((j) => this.summary(j))
  }

  list(): JobSummary[] {
    return [...this.jobs.values()].map((j) => this.summary(j))
  }

  /** The host crashed: the queued jobs would run on a fresh host that may crash again, so they fail too. */
  failQueued(reason: string): void {
    const queued = this.queue.splice(0)
    for (const job of queued) this.finish(job, 'failed', new AppError('host_crashed', reason))
    if (queued.length) this.changed()
  }

  private cancelJob(job: Job, message: string): void {
    if (job.state === 'queued') {
      this.queue.splice(this.queue.indexOf(job), 1)
      this.finish(job, 'cancelled', new AppError('cancelled', message))
      this.changed()
    } else if (job.state === 'running') {
      job.controller.abort()
    }
  }

  private job(jobId: string): Job {
    const job = this.jobs.get(jobId)
    if (!job)
      throw new AppError('not_found', `jobId: no job '${jobId}' (finished jobs are kept for a while only)`)
    return job
  }

  private async pump(): Promise<void> {
    if (this.running) return
    const job = this.queue.shift()
    if (!job) return
    this.running = job
    job.state = 'running'
    this.changed()
    try {
      const result = await this.host.request(
        'generate',
        {
          jobId: job.id,
          packDir: job.pack.dir,
          manifest: job.pack.manifest,
          plan: job.plan,
          preference: this.options.preference(),
          appVersion: this.options.appVersion,
        },
        {
          signal: job.controller.signal,
          onProgress: (step, total, etaMs) => this.options.onProgress({ jobId: job.id, step, total, etaMs }),
        },
      )
      await this.keep(result)
      this.finish(job, 'done', null, result)
    } catch (err) {
      const error = err instanceof AppError ? err : new AppError('internal', String(err))
      this.finish(job, error.code === 'cancelled' ? 'cancelled' : 'failed', error)
      if (error.code === 'host_crashed')
        this.failQueued(`the inference host crashed while job ${job.id} ran: ${error.message}`)
    } finally {
      this.running = null
      this.changed()
      void this.pump()
    }
  }

  private async keep(result: GenerationResult): Promise<void> {
    if (!this.options.keep) return
    try {
      await this.options.keep(result)
    } catch (err) {
      // The images were generated: the job still succeeds, and says why they were not kept.
      result.galleryError = `the images were not saved: ${err instanceof Error ? err.message : String(err)}`
    }
  }

  private finish(job: Job, state: JobStateName, error: AppError | null, result?: GenerationResult): void {
    job.state = state
    job.error = error
    if (result) {
      // Before resolving, so whoever waits on the job sees what the result taught (the measured speeds).
      this.options.onResult?.(result)
      job.resolve(result)
    } else job.reject(error ?? new AppError('internal', 'the job ended without a result'))
  }

  private forgetOldJobs(): void {
    const finished = [...this.jobs.values()].filter((j) => j.state !== 'queued' && j.state !== 'running')
    for (const job of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)))
      this.jobs.delete(job.id)
  }

  private summary(job: Job): JobSummary {
    const position = job.state === 'queued' ? this.queue.indexOf(job) + 1 : null
    return {
      jobId: job.id,
      state: job.state,
      position,
      packId: job.plan.packId,
      mode: job.plan.mode,
      n: job.plan.n,
      seed: job.plan.seed,
      className: job.plan.className,
      prompt: job.plan.prompt?.text ?? null,
      error: job.error ? { code: job.error.code, message: job.error.message } : null,
    }
  }

  private changed(): void {
    this.options.onChange?.(this.list())
  }
}
