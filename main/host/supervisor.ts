/**
 * Owns the inference host process: starts it, forwards requests, notices a crash, rejects what was in flight,
 * restarts it with a back-off, and gives up (state 'failed') after too many crashes in a short window so a
 * broken GPU driver cannot make the app spin. Every state change is reported to the UI.
 */
import { AppError } from '../../common/result.ts'
import type { HostStatus, LogLevel } from '../../common/types.ts'
import type {
  FromHost,
  HostChannel,
  HostInput,
  HostLauncher,
  HostOutput,
  HostRequestType,
} from './protocol.ts'

export interface SupervisorOptions {
  readyTimeoutMs: number
  /** More crashes than this within `crashWindowMs` -> 'failed'. */
  maxCrashes: number
  crashWindowMs: number
  restartDelayMs: number
}

export interface SupervisorEvents {
  onState(status: HostStatus): void
  onLog(level: LogLevel, message: string): void
}

const DEFAULTS: SupervisorOptions = {
  readyTimeoutMs: 30_000,
  maxCrashes: 4,
  crashWindowMs: 60_000,
  restartDelayMs: 500,
}

interface Pending {
  type: HostRequestType
  resolve(value: unknown): void
  reject(err: AppError): void
  onProgress?: RequestOptions['onProgress']
}

export interface RequestOptions {
  onProgress?: (step: number, total: number, etaMs: number | null) => void
  /** Aborting sends a cancel to the host; the request then rejects with 'cancelled'. */
  signal?: AbortSignal
}

/** The gate requests wait on until a host process is ready. */
interface Ready {
  promise: Promise<HostChannel>
  settled: boolean
  resolve(channel: HostChannel): void
  reject(err: AppError): void
}

function deferred(): Ready {
  let resolvePromise!: (c: HostChannel) => void
  let rejectPromise!: (e: AppError) => void
  const promise = new Promise<HostChannel>((res, rej) => {
    resolvePromise = res
    rejectPromise = rej
  })
  // Nobody may be waiting when the host fails; that must not become an unhandled rejection.
  promise.catch(() => undefined)
  const gate: Ready = {
    promise,
    settled: false,
    resolve(channel) {
      gate.settled = true
      resolvePromise(channel)
    },
    reject(err) {
      gate.settled = true
      rejectPromise(err)
    },
  }
  return gate
}

export class HostSupervisor {
  private readonly options: SupervisorOptions
  private channel: HostChannel | null = null
  private ready: Ready = deferred()
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private crashTimes: number[] = []
  private restartTimer: NodeJS.Timeout | null = null
  private current: HostStatus = { state: 'stopped', pid: null, restarts: 0, lastExit: null, message: null }

  constructor(
    private readonly launch: HostLauncher,
    private readonly events: SupervisorEvents,
    options: Partial<SupervisorOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options }
  }

  status(): HostStatus {
    return { ...this.current }
  }

  /** Starts the host if it is not running and resolves once it is ready. */
  async start(): Promise<HostStatus> {
    if (this.current.state === 'stopped' || this.current.state === 'failed') this.spawn()
    await this.ready.promise
    return this.status()
  }

  /** Stops the current process (if any), forgets past crashes and starts a fresh one. */
  async restart(): Promise<HostStatus> {
    this.crashTimes = []
    this.cancelRestartTimer()
    const old = this.channel
    this.channel = null
    if (old) {
      this.rejectPending('cancelled', 'the inference host was restarted')
      old.kill()
    }
    this.spawn()
    await this.ready.promise
    return this.status()
  }

  async stop(): Promise<void> {
    this.cancelRestartTimer()
    const old = this.channel
    this.channel = null
    this.rejectPending('cancelled', 'the inference host was stopped')
    if (!this.ready.settled) this.ready.reject(new AppError('unavailable', 'the inference host is stopped'))
    this.setState({ state: 'stopped', pid: null, message: null })
    if (!old) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        old.kill()
        resolve()
      }, 2000)
      old.onExit(() => {
        clearTimeout(timer)
        resolve()
      })
      try {
        old.send({ kind: 'shutdown' })
      } catch {
        old.kill()
      }
    })
  }

  async request<T extends HostRequestType>(
    type: T,
    input: HostInput<T>,
    options: RequestOptions = {},
  ): Promise<HostOutput<T>> {
    if (this.current.state === 'stopped' || this.current.state === 'failed') {
      throw new AppError(
        'unavailable',
        `the inference host is ${this.current.state}${this.current.message ? `: ${this.current.message}` : ''}`,
      )
    }
    const channel = await this.ready.promise
    if (options.signal?.aborted) throw new AppError('cancelled', 'the job was cancelled')
    const id = this.nextId++
    const onAbort = () => {
      if (!this.pending.has(id)) return
      try {
        channel.send({ kind: 'cancel', id })
      } catch {
        // The host is gone; its exit rejects the request.
      }
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    return new Promise<HostOutput<T>>((resolve, reject) => {
      this.pending.set(id, {
        type,
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: options.onProgress,
      })
      try {
        channel.send({ kind: 'request', id, type, input })
      } catch (err) {
        this.pending.delete(id)
        reject(new AppError('host_crashed', `could not reach the inference host: ${String(err)}`))
      }
    }).finally(() => options.signal?.removeEventListener('abort', onAbort))
  }

  private spawn(): void {
    this.openGate()
    let channel: HostChannel
    try {
      channel = this.launch()
    } catch (err) {
      this.onCrash(null, null, null, `could not start the inference host: ${String(err)}`)
      return
    }
    this.channel = channel
    this.setState({ state: this.current.restarts > 0 ? 'restarting' : 'starting', pid: channel.pid })

    const readyTimer = setTimeout(() => {
      if (this.channel === channel && this.current.state !== 'ready') {
        this.events.onLog('error', `inference host did not start within ${this.options.readyTimeoutMs} ms`)
        channel.kill()
      }
    }, this.options.readyTimeoutMs)

    channel.onMessage((message) => {
      if (this.channel !== channel) return
      this.handleMessage(channel, message, readyTimer)
    })
    channel.onExit((code, signal) => {
      clearTimeout(readyTimer)
      if (this.channel !== channel) return // an intentional stop or restart
      this.channel = null
      this.onCrash(channel, code, signal, null)
    })
  }

  /** Requests from now on wait for the next ready process; callers already waiting keep their gate. */
  private openGate(): void {
    if (this.ready.settled) this.ready = deferred()
  }

  private handleMessage(channel: HostChannel, message: FromHost, readyTimer: NodeJS.Timeout): void {
    switch (message.kind) {
      case 'ready':
        clearTimeout(readyTimer)
        this.setState({ state: 'ready', pid: message.pid, message: null })
        this.ready.resolve(channel)
        return
      case 'response': {
        const pending = this.pending.get(message.id)
        if (!pending) return
        this.pending.delete(message.id)
        if (message.result.ok) pending.resolve(message.result.value)
        else pending.reject(new AppError(message.result.error.code, message.result.error.message))
        return
      }
      case 'progress':
        this.pending.get(message.id)?.onProgress?.(message.step, message.total, message.etaMs)
        return
      case 'log':
        this.events.onLog(message.level, message.message)
        return
    }
  }

  private onCrash(
    channel: HostChannel | null,
    code: number | null,
    signal: string | null,
    why: string | null,
  ): void {
    const lastExit = { code, signal, at: new Date().toISOString() }
    const how = why ?? `the inference host exited (${signal ? `signal ${signal}` : `code ${code}`})`
    const inflight = [...this.pending.values()].map((p) => p.type)
    this.rejectPending(
      'host_crashed',
      `${how}${inflight.length ? ` while handling ${inflight.join(', ')}` : ''}`,
    )
    this.events.onLog('error', `${how}; pid ${channel?.pid ?? 'none'}`)

    this.openGate()
    const now = Date.now()
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < this.options.crashWindowMs), now]
    if (this.crashTimes.length > this.options.maxCrashes) {
      const message = `${how}; it crashed ${this.crashTimes.length} times within ${Math.round(this.options.crashWindowMs / 1000)} s, so it was not restarted again`
      this.ready.reject(new AppError('unavailable', message))
      this.setState({ state: 'failed', pid: null, lastExit, message })
      return
    }
    this.setState({
      state: 'restarting',
      pid: null,
      restarts: this.current.restarts + 1,
      lastExit,
      message: `${how}; restarting`,
    })
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null
      this.spawn()
    }, this.options.restartDelayMs)
  }

  private rejectPending(code: 'host_crashed' | 'cancelled', message: string): void {
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const p of pending) p.reject(new AppError(code, message))
  }

  private cancelRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
  }

  private setState(change: Partial<HostStatus>): void {
    this.current = { ...this.current, ...change }
    this.events.onState(this.status())
  }
}
