import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AppError } from '../../common/result.ts'
import type { HostStatus } from '../../common/types.ts'
import { childProcessLauncher } from '../../main/host/childProcessLauncher.ts'
import { HostSupervisor } from '../../main/host/supervisor.ts'
import { BUILT_HOST, REPO_ROOT, requireBuild } from '../support/testApp.ts'

const running: HostSupervisor[] = []

function supervise(script = BUILT_HOST, maxCrashes = 4) {
  requireBuild()
  const states: HostStatus[] = []
  const logs: string[] = []
  const supervisor = new HostSupervisor(
    childProcessLauncher(script),
    { onState: (s) => states.push(s), onLog: (_level, message) => logs.push(message) },
    { restartDelayMs: 50, maxCrashes, crashWindowMs: 60_000, readyTimeoutMs: 20_000 },
  )
  running.push(supervisor)
  return { supervisor, states, logs }
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()))
})

describe('the inference host process', () => {
  it('starts, reports ready with its pid, and answers requests', async () => {
    const { supervisor, states } = supervise()
    const status = await supervisor.start()
    expect(status.state).toBe('ready')
    expect(status.pid).toBeGreaterThan(0)
    expect(states.map((s) => s.state)).toEqual(['starting', 'ready'])
    const { pid } = await supervisor.request('ping', {})
    expect(pid).toBe(status.pid)
    const info = await supervisor.request('systemInfo', { refresh: false, preference: 'auto' })
    expect(info.providers.at(-1)).toMatchObject({ name: 'cpu', available: true })
    expect(info.activeProvider).toBe('cpu')
  })

  it('after SIGKILL: in-flight requests fail with host_crashed, the UI hears it, and the host comes back', async () => {
    const { supervisor, states } = supervise()
    const first = await supervisor.start()
    // A request that is in flight when the process dies (the probe takes a while on a fresh host).
    const inflight = supervisor.request('systemInfo', { refresh: true, preference: 'auto' })
    process.kill(first.pid as number, 'SIGKILL')
    const err = await inflight.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('host_crashed')
    expect((err as AppError).message).toContain('SIGKILL')

    await waitFor(() => supervisor.status().state === 'ready', 'the restarted host')
    const after = supervisor.status()
    expect(after.restarts).toBe(1)
    expect(after.pid).not.toBe(first.pid)
    expect(after.lastExit?.signal).toBe('SIGKILL')
    expect(states.map((s) => s.state)).toEqual(['starting', 'ready', 'restarting', 'restarting', 'ready'])
    // Later calls work on the new process.
    expect((await supervisor.request('ping', {})).pid).toBe(after.pid)
  })

  it('requests made while it restarts wait for the new process instead of failing', async () => {
    const { supervisor } = supervise()
    const first = await supervisor.start()
    process.kill(first.pid as number, 'SIGKILL')
    await waitFor(() => supervisor.status().state === 'restarting', 'the crash to be noticed')
    const { pid } = await supervisor.request('ping', {})
    expect(pid).not.toBe(first.pid)
  })

  it('gives up after a crash loop, says why, and a manual restart recovers', async () => {
    const crashing = path.join(REPO_ROOT, 'test/fixtures/crashingHost.mjs')
    const { supervisor, states, logs } = supervise(crashing, 2)
    await expect(supervisor.start()).rejects.toMatchObject({ code: 'unavailable' })
    const status = supervisor.status()
    expect(status.state).toBe('failed')
    expect(status.message).toMatch(/crashed 3 times/)
    expect(states.filter((s) => s.state === 'restarting').length).toBeGreaterThanOrEqual(2)
    expect(logs.some((l) => l.includes('code 3'))).toBe(true)
    await expect(supervisor.request('ping', {})).rejects.toMatchObject({ code: 'unavailable' })
  })

  it('stop() ends the process and later requests say it is stopped', async () => {
    const { supervisor } = supervise()
    const { pid } = await supervisor.start()
    await supervisor.stop()
    expect(supervisor.status().state).toBe('stopped')
    expect(() => process.kill(pid as number, 0)).toThrow()
    await expect(supervisor.request('ping', {})).rejects.toMatchObject({ code: 'unavailable' })
  })

  it('restart() replaces a healthy process', async () => {
    const { supervisor } = supervise()
    const { pid } = await supervisor.start()
    const next = await supervisor.restart()
    expect(next.state).toBe('ready')
    expect(next.pid).not.toBe(pid)
  })
})
