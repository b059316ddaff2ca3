/**
 * Generation jobs through the real app: the contract's jobs.* methods on the dispatcher (over a structuredClone
 * transport, as Electron IPC copies), the FIFO queue in main and the real inference host child process with the
 * committed emoji32 pack. Covers every mode, refusals, queue order, cancellation, progress, a host crash, and
 * that main's event loop stays free while the host samples.
 */
import fs from 'node:fs'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { zipSync } from 'fflate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Client } from '../../common/client.ts'
import type {
  GenerateRequest,
  GenerationResult,
  JobStateName,
  JobSummary,
  SingleMode,
} from '../../common/generation.ts'
import type { AppErrorShape, Result } from '../../common/result.ts'
import type { JobProgress } from '../../common/types.ts'
import { METADATA_KEY } from '../../main/engine/generate.ts'
import { decodePngRgb, readPngText } from '../../main/engine/output/png.ts'
import { memoryTransport } from '../support/memoryTransport.ts'
import { SMOKE_PACK_DIR } from '../support/packs.ts'
import { createTestApp, tempDir } from '../support/testApp.ts'

type TestApp = Awaited<ReturnType<typeof createTestApp>>

let app: TestApp
let client: Client
const changes: JobSummary[][] = []
const progress: JobProgress[] = []
const waiters = new Set<() => void>()

beforeAll(async () => {
  app = await createTestApp()
  client = memoryTransport(app.dispatch, app.events).client
  client.jobs.onChange((list) => {
    changes.push(list)
    for (const check of [...waiters]) check()
  })
  client.jobs.onProgress((p) => {
    progress.push(p)
    for (const check of [...waiters]) check()
  })
})

afterAll(async () => {
  await app?.close()
})

/** Resolves once `predicate` holds, checked after every job event (the test's timeout bounds the wait). */
function until(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate()) return
      waiters.delete(check)
      resolve()
    }
    waiters.add(check)
    check()
  })
}

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`)
  return result.value
}

async function submit(request: GenerateRequest): Promise<JobSummary> {
  return unwrap(await client.jobs.submit(request))
}

async function waitDone(jobId: string): Promise<GenerationResult> {
  return unwrap(await client.jobs.wait({ jobId }))
}

async function waitError(jobId: string): Promise<AppErrorShape> {
  const result = await client.jobs.wait({ jobId })
  if (result.ok) throw new Error(`job ${jobId} succeeded; an error was expected`)
  return result.error
}

/** The states a job went through, in order, as jobs.onChange reported them. */
function statesOf(jobId: string): JobStateName[] {
  const states: JobStateName[] = []
  for (const list of changes) {
    const state = list.find((j) => j.jobId === jobId)?.state
    if (state && states.at(-1) !== state) states.push(state)
  }
  return states
}

/** The jobs among `ids` in the order they first reached `state`. */
function orderReaching(state: JobStateName, ids: string[]): string[] {
  const seen: string[] = []
  for (const list of changes)
    for (const job of list)
      if (ids.includes(job.jobId) && job.state === state && !seen.includes(job.jobId)) seen.push(job.jobId)
  return seen
}

function progressOf(jobId: string): JobProgress[] {
  return progress.filter((p) => p.jobId === jobId)
}

function metadataOf(png: Uint8Array): Record<string, unknown> {
  return JSON.parse(readPngText(png)[METADATA_KEY] ?? 'null') as Record<string, unknown>
}

/** Every image is a 32x32 PNG with its generation metadata; not a blank one. */
function checkImages(result: GenerationResult, request: GenerateRequest, modes: SingleMode[]): void {
  const n = request.n ?? 1
  expect(result.images).toHaveLength(n * modes.length)
  expect([...result.modes].sort()).toEqual([...modes].sort())
  for (const mode of modes) {
    const ofMode = result.images.filter((i) => i.mode === mode)
    expect(
      ofMode.map((i) => i.index),
      mode,
    ).toEqual(Array.from({ length: n }, (_, i) => i))
    for (const image of ofMode) {
      expect(image.png).toBeInstanceOf(Uint8Array)
      const { width, height, rgb } = decodePngRgb(image.png)
      expect([width, height, image.width, image.height]).toEqual([32, 32, 32, 32])
      expect(new Set(rgb).size, 'a blank image').toBeGreaterThan(4)
      expect(image.seed).toBe(((request.seed as number) + image.index) % 2 ** 32)
      expect(image.ids).toHaveLength(64)
      expect(image.ids.every((id) => Number.isInteger(id) && id >= 0 && id < 512)).toBe(true)
      expect(image.timings.totalMs).toBeGreaterThan(0)
      const meta = metadataOf(image.png)
      expect(meta).toMatchObject({
        app: 'DD Studio',
        mode,
        seed: image.seed,
        jobSeed: request.seed,
        index: image.index,
        class: { index: result.classIndex, name: result.className },
        pack: { id: 'emoji32' },
        noise: 'dd-noise-v1',
      })
      expect((meta.pack as { manifestSha256: string }).manifestSha256).toMatch(/^[0-9a-f]{64}$/)
    }
    expect(result.modeTimings[mode]?.totalMs, mode).toBeGreaterThan(0)
  }
}

describe('packs.list', () => {
  it('lists the built-in emoji32 pack as ready and the default', async () => {
    const packs = unwrap(await client.packs.list({}))
    const emoji = packs.find((p) => p.id === 'emoji32')
    expect(emoji).toMatchObject({
      source: 'built-in',
      status: 'ready',
      problems: [],
      isDefault: true,
      image: { width: 32, height: 32 },
      tokens: 64,
      defaults: { tLists: { '1step': [0], '2step': [0, 32] }, teacher: { topK: 64 } },
    })
    expect(emoji?.classes).toHaveLength(36)
    expect(packs.filter((p) => p.isDefault)).toHaveLength(1)
  })
})

describe('packs.import', () => {
  it('imports a zipped pack through the contract, lists it and generates with it', async () => {
    const files: Record<string, Uint8Array> = {}
    for (const name of fs.readdirSync(SMOKE_PACK_DIR)) {
      files[`smoke/${name}`] = fs.readFileSync(path.join(SMOKE_PACK_DIR, name))
    }
    const zipFile = path.join(tempDir('zip'), 'smoke.zip')
    fs.writeFileSync(zipFile, zipSync(files))
    const imported = unwrap(await client.packs.import({ path: zipFile }))
    expect(imported).toMatchObject({ id: 'smoke', source: 'user', status: 'ready', isDefault: false })
    expect(unwrap(await client.packs.list({})).map((p) => p.id)).toContain('smoke')
    const again = await client.packs.import({ path: zipFile })
    expect(again.ok ? null : again.error.code).toBe('invalid_input')
    const job = await submit({ packId: 'smoke', mode: '2step', class: 1, seed: 11 })
    const result = await waitDone(job.jobId)
    expect(result.packId).toBe('smoke')
    expect(result.images).toHaveLength(1)
  })

  it('refuses a relative path and a missing file, naming the problem', async () => {
    const relative = await client.packs.import({ path: 'packs/smoke.zip' })
    expect(relative.ok ? null : relative.error.message).toMatch(/path: must be an absolute path/)
    const missing = await client.packs.import({ path: '/nonexistent/pack.zip' })
    expect(missing.ok).toBe(false)
    expect(missing.ok ? '' : missing.error.message).toContain('/nonexistent/pack.zip')
  })
})

describe('jobs.submit + jobs.wait: every mode', () => {
  const cases: [string, GenerateRequest, SingleMode[]][] = [
    ['1step', { mode: '1step', class: 0, seed: 42, n: 2 }, ['1step']],
    ['2step', { mode: '2step', class: 'noto / Animals', seed: 7, n: 2 }, ['2step']],
    ['custom', { mode: 'custom', class: 5, seed: 9, n: 2, tList: [0, 16, 40] }, ['custom']],
    ['hybrid', { mode: 'hybrid', class: 11, seed: 3, n: 2, hybrid: { start: 4, end: 20 } }, ['hybrid']],
    ['ar', { mode: 'ar', class: 27, seed: 2 ** 32 - 1, n: 2 }, ['ar']],
    ['exact', { mode: 'exact', class: 20, seed: 100, n: 2 }, ['exact']],
    ['compare', { mode: 'compare', class: 2, seed: 5, n: 2 }, ['exact', '1step', '2step', 'hybrid', 'ar']],
  ]

  it.each(cases)('%s returns PNGs with their metadata', async (_label, request, modes) => {
    const job = await submit(request)
    expect(job).toMatchObject({
      packId: 'emoji32',
      mode: request.mode,
      n: 2,
      seed: request.seed,
      error: null,
    })
    const result = await waitDone(job.jobId)
    expect(result).toMatchObject({ jobId: job.jobId, packId: 'emoji32', seed: request.seed, provider: 'cpu' })
    expect(result.className).toBe(job.className)
    checkImages(result, request, modes)
    expect(statesOf(job.jobId).at(-1)).toBe('done')
  })

  it('writes the trajectory each DD image really used into its metadata', async () => {
    const custom = await waitDone(
      (await submit({ mode: 'custom', class: 0, seed: 1, tList: [0, 8, 24] })).jobId,
    )
    expect(metadataOf(custom.images[0]?.png as Uint8Array).tList).toEqual([0, 8, 24])
    const hybrid = await waitDone((await submit({ mode: 'hybrid', class: 0, seed: 1 })).jobId)
    // The pack has no hybrid presets: its own split_t.
    expect(metadataOf(hybrid.images[0]?.png as Uint8Array).hybrid).toEqual({ start: 8, end: 32, splitT: 64 })
  })

  it('a compare job runs every mode on the same noise as the single-mode jobs', async () => {
    const request = {
      mode: 'compare',
      class: 4,
      seed: 77,
      n: 2,
      compareModes: ['2step', 'custom', 'exact'],
      tList: [0, 16, 40],
    } satisfies GenerateRequest
    const compare = await waitDone((await submit(request)).jobId)
    checkImages(compare, request, ['2step', 'custom', 'exact'])
    expect(Object.keys(compare.agreement).sort()).toEqual(['2step', 'custom'])
    for (const mode of ['2step', 'custom', 'exact'] as const) {
      const single = await waitDone(
        (
          await submit({
            ...request,
            mode,
            compareModes: undefined,
            tList: mode === 'custom' ? request.tList : undefined,
          })
        ).jobId,
      )
      expect(
        compare.images.filter((i) => i.mode === mode).map((i) => i.ids),
        `${mode} in a compare job`,
      ).toEqual(single.images.map((i) => i.ids))
    }
    // '2step' keeps the pack's [0, 32] even though the job's tList is the custom one.
    const twoStep = compare.images.find((i) => i.mode === '2step')
    expect(metadataOf(twoStep?.png as Uint8Array).tList).toEqual([0, 32])
  })
})

describe('jobs.submit: refusals', () => {
  it('an unknown pack is not_found, naming it', async () => {
    const result = await client.jobs.submit({ packId: 'no-such-pack', mode: '1step', class: 0 })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.error.code).toBe('not_found')
    expect(result.error.message).toContain("'no-such-pack'")
  })

  it('bad inputs arrive as invalid_input naming the field, and queue nothing', async () => {
    const before = unwrap(await client.jobs.list({})).length
    const bad: [unknown, string][] = [
      [{ mode: '1step', class: 36 }, 'class'],
      [{ mode: '1step', class: 'unicorn' }, 'class'],
      [{ mode: '1step', class: 'Flags' }, 'class'],
      [{ mode: 'custom', class: 0, tList: [0, 30, 20] }, 'tList'],
      [{ mode: 'custom', class: 0, tList: [4, 20] }, 'tList'],
      [{ mode: 'custom', class: 0, tList: [0, 64] }, 'tList'],
      [{ mode: 'custom', class: 0 }, 'tList'],
      [{ mode: 'hybrid', class: 0, hybrid: { start: 20, end: 20 } }, 'hybrid.end'],
      [{ mode: 'ar', class: 0, teacher: { topK: 513 } }, 'teacher.topK'],
      [{ mode: '1step', class: 0, seed: -1 }, 'input.seed'],
      [{ mode: '1step', class: 0, seed: 2 ** 32 }, 'input.seed'],
      [{ mode: '1step', class: 0, n: 0 }, 'input.n'],
      [{ mode: '1step', class: 0, n: 65 }, 'input.n'],
      [{ mode: 'ar', class: 0, teacher: { temperature: 0 } }, 'input.teacher.temperature'],
      [{ mode: 'ar', class: 0, teacher: { topK: 0 } }, 'input.teacher.topK'],
      [{ mode: 'ar', class: 0, teacher: { cfgScale: -1 } }, 'input.teacher.cfgScale'],
      [{ mode: 'ar', class: 0, teacher: { topP: 1.01 } }, 'input.teacher.topP'],
    ]
    for (const [input, field] of bad) {
      const result = await app.dispatch('jobs.submit', input, { transport: 'memory' })
      const label = JSON.stringify(input)
      expect(result.ok, label).toBe(false)
      if (result.ok) continue
      expect(result.error.code, label).toBe('invalid_input')
      expect(result.error.message, label).toContain(field)
    }
    expect(unwrap(await client.jobs.list({}))).toHaveLength(before)
  })

  it('jobs.wait and jobs.cancel on an unknown job are not_found', async () => {
    const jobId = '00000000-0000-4000-8000-000000000000'
    expect(await client.jobs.wait({ jobId })).toMatchObject({ ok: false, error: { code: 'not_found' } })
    expect(await client.jobs.cancel({ jobId })).toMatchObject({ ok: false, error: { code: 'not_found' } })
    expect(await client.jobs.cancel({})).toMatchObject({ ok: false, error: { code: 'invalid_input' } })
  })
})

describe('the queue', () => {
  it('runs jobs one at a time, in the order they came (FIFO)', async () => {
    const a = await submit({ mode: 'ar', class: 0, seed: 1, n: 2 })
    const b = await submit({ mode: 'exact', class: 1, seed: 2 })
    const c = await submit({ mode: '1step', class: 2, seed: 3 })
    expect([a.state, b.state, c.state]).toEqual(['running', 'queued', 'queued'])
    expect([a.position, b.position, c.position]).toEqual([null, 1, 2])
    // Waiting on the last one first does not change the order.
    await waitDone(c.jobId)
    await waitDone(a.jobId)
    await waitDone(b.jobId)
    const ids = [a.jobId, b.jobId, c.jobId]
    expect(orderReaching('running', ids)).toEqual(ids)
    expect(orderReaching('done', ids)).toEqual(ids)
    for (const list of changes)
      expect(list.filter((j) => j.state === 'running').length).toBeLessThanOrEqual(1)
    const listed = unwrap(await client.jobs.list({}))
    for (const id of ids) expect(listed.find((j) => j.jobId === id)?.state).toBe('done')
  })

  it('cancelling a queued job removes it; the others run', async () => {
    const a = await submit({ mode: 'ar', class: 0, seed: 11, n: 8 })
    const b = await submit({ mode: '1step', class: 0, seed: 12 })
    const c = await submit({ mode: '1step', class: 0, seed: 13 })
    const cancelled = unwrap(await client.jobs.cancel({ jobId: b.jobId }))
    expect(cancelled).toMatchObject([{ jobId: b.jobId, state: 'cancelled', position: null }])
    expect(await waitError(b.jobId)).toMatchObject({ code: 'cancelled' })
    expect((await waitDone(a.jobId)).images).toHaveLength(8)
    expect((await waitDone(c.jobId)).images).toHaveLength(1)
    expect(statesOf(b.jobId)).toEqual(['queued', 'cancelled'])
    expect(orderReaching('running', [a.jobId, b.jobId, c.jobId])).toEqual([a.jobId, c.jobId])
  })

  it('cancelling the running AR job stops it before its last step, and the next job runs', async () => {
    const a = await submit({ mode: 'ar', class: 0, seed: 21, n: 64 })
    const b = await submit({ mode: '1step', class: 0, seed: 22 })
    await until(() => progressOf(a.jobId).length > 0)
    await client.jobs.cancel({ jobId: a.jobId })
    const error = await waitError(a.jobId)
    expect(error.code).toBe('cancelled')
    expect(Math.max(...progressOf(a.jobId).map((p) => p.step))).toBeLessThan(64)
    expect((await waitDone(b.jobId)).images).toHaveLength(1)
    expect(statesOf(a.jobId)).toEqual(['queued', 'running', 'cancelled'])
    expect(app.host.status().restarts).toBe(0)
  })

  it('cancel all: the running job and the queued ones', async () => {
    const a = await submit({ mode: 'ar', class: 0, seed: 31, n: 64 })
    const b = await submit({ mode: '1step', class: 0, seed: 32 })
    const c = await submit({ mode: 'exact', class: 0, seed: 33 })
    await until(() => progressOf(a.jobId).length > 0)
    const answered = unwrap(await client.jobs.cancel({ all: true }))
    expect(answered.map((j) => j.jobId).sort()).toEqual([a.jobId, b.jobId, c.jobId].sort())
    for (const job of [a, b, c]) expect(await waitError(job.jobId)).toMatchObject({ code: 'cancelled' })
    expect(orderReaching('running', [a.jobId, b.jobId, c.jobId])).toEqual([a.jobId])
    const listed = unwrap(await client.jobs.list({}))
    for (const job of [a, b, c]) expect(listed.find((j) => j.jobId === job.jobId)?.state).toBe('cancelled')
    // The queue is not stuck.
    expect((await waitDone((await submit({ mode: '1step', class: 0, seed: 34 })).jobId)).images).toHaveLength(
      1,
    )
  })
})

describe('progress', () => {
  it('an AR job reports every step with its total and an estimate of the time left', async () => {
    const job = await submit({ mode: 'ar', class: 0, seed: 41, n: 2 })
    await waitDone(job.jobId)
    const reports = progressOf(job.jobId)
    expect(reports.map((p) => p.step)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1))
    for (const p of reports) {
      expect(p.total).toBe(64)
      if (p.etaMs !== null) expect(p.etaMs).toBeGreaterThanOrEqual(0)
    }
    expect(reports.filter((p) => p.etaMs !== null).length).toBeGreaterThan(0)
    expect(reports.at(-1)?.etaMs).toBe(0)
  })

  it('a compare job counts the steps of all its modes, without gaps', async () => {
    const job = await submit({ mode: 'compare', class: 0, seed: 42 })
    await waitDone(job.jobId)
    // exact 64 + 1step 1 + 2step 2 + hybrid (2 + 32 - 8) + ar 64
    const total = 64 + 1 + 2 + 26 + 64
    const reports = progressOf(job.jobId)
    expect(reports.map((p) => p.step)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    expect(new Set(reports.map((p) => p.total))).toEqual(new Set([total]))
  })
})

describe('main never blocks', () => {
  it("main's event loop stays responsive (p99 delay <= 20 ms) while a 64-step AR job runs", async () => {
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    const job = await submit({ mode: 'ar', class: 0, seed: 51, n: 32 })
    const result = await waitDone(job.jobId)
    histogram.disable()
    expect(result.images).toHaveLength(32)
    // The measurement covered the whole job: all its steps came in while it ran.
    expect(progressOf(job.jobId)).toHaveLength(64)
    const p99Ms = histogram.percentile(99) / 1e6
    console.log(
      `event-loop delay during a 64-step AR job (n 32): p50 ${(histogram.percentile(50) / 1e6).toFixed(2)} ms, p99 ${p99Ms.toFixed(2)} ms, max ${(histogram.max / 1e6).toFixed(2)} ms, ${histogram.count} samples`,
    )
    expect(histogram.count).toBeGreaterThan(0)
    expect(p99Ms).toBeLessThanOrEqual(20)
  })
})

describe('a host crash', () => {
  it('fails the running and the queued jobs with host_crashed; after the restart a new job succeeds', async () => {
    const before = app.host.status()
    expect(before.state).toBe('ready')
    const running = await submit({ mode: 'ar', class: 0, seed: 61, n: 64 })
    const queued = await submit({ mode: '1step', class: 0, seed: 62 })
    await until(() => progressOf(running.jobId).length > 0)
    process.kill(before.pid as number, 'SIGKILL')

    const first = await waitError(running.jobId)
    expect(first.code).toBe('host_crashed')
    expect(first.message).toContain('SIGKILL')
    const second = await waitError(queued.jobId)
    expect(second.code).toBe('host_crashed')
    expect(second.message).toContain(`crashed while job ${running.jobId} ran`)
    expect(statesOf(queued.jobId)).toEqual(['queued', 'failed'])
    const listed = unwrap(await client.jobs.list({}))
    expect(listed.find((j) => j.jobId === queued.jobId)?.error?.code).toBe('host_crashed')

    // A new job succeeds (should the host still be restarting, the job waits for the new process).
    const after = await waitDone((await submit({ mode: '2step', class: 0, seed: 63 })).jobId)
    expect(after.images).toHaveLength(1)
    const status = app.host.status()
    expect(status).toMatchObject({ state: 'ready', restarts: 1, lastExit: { signal: 'SIGKILL' } })
    expect(status.pid).not.toBe(before.pid)
  })
})
