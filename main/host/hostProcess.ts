/**
 * Entry point of the inference host process. onnxruntime-node's run() blocks its thread, so everything that
 * touches it lives here, never in main. The same file runs as an Electron utility process (parentPort) and as a
 * Node child process (process.send), so serve mode, the CLI and tests exercise exactly what the app runs.
 */
import { AppError, fail, ok, type Result } from '../../common/result.ts'
import type { ProviderProbe } from '../../common/types.ts'
import { generate } from '../engine/generate.ts'
import { openPackRuntime, type PackRuntime } from '../engine/packRuntime.ts'
import {
  chooseProvider,
  isCudaInstalled,
  ortVersion,
  probeProviders,
  providerCandidates,
} from '../engine/providers.ts'
import type { FromHost, HostInput, HostOutput, HostRequests, HostRequestType, ToHost } from './protocol.ts'

interface ParentLink {
  post(message: FromHost): void
  listen(listener: (message: ToHost) => void): void
}

interface UtilityParentPort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (event: { data: unknown }) => void): void
}

function connectToParent(): ParentLink {
  const parentPort = (process as unknown as { parentPort?: UtilityParentPort }).parentPort
  if (parentPort) {
    return {
      post: (message) => parentPort.postMessage(message),
      listen: (listener) => parentPort.on('message', (event) => listener(event.data as ToHost)),
    }
  }
  if (process.send) {
    const send = process.send.bind(process)
    return {
      post: (message) => send(message),
      listen: (listener) => process.on('message', (message) => listener(message as ToHost)),
    }
  }
  throw new Error('the inference host must be started by DD Studio (no parent port or IPC channel)')
}

let probeCache: { probes: ProviderProbe[]; at: string } | null = null

async function probe(refresh: boolean): Promise<{ probes: ProviderProbe[]; at: string }> {
  if (!probeCache || refresh) {
    const probes = await probeProviders(providerCandidates(process.platform, isCudaInstalled()))
    probeCache = { probes, at: new Date().toISOString() }
  }
  return probeCache
}

async function systemInfo(input: HostInput<'systemInfo'>): Promise<HostOutput<'systemInfo'>> {
  const { probes, at } = await probe(input.refresh)
  return {
    nodeVersion: process.versions.node,
    ortVersion: ortVersion(),
    providers: probes,
    activeProvider: chooseProvider(probes, input.preference),
    probedAt: at,
  }
}

/** Idle sessions are released after this long (the next job loads them again). */
const SESSION_IDLE_MS = 5 * 60_000

/** Open packs, by folder and manifest hash; one at a time stays open (a new pack releases the old). */
let openPack: { key: string; runtime: Promise<PackRuntime> } | null = null

async function runtimeFor(input: HostInput<'generate'>, ctx: RequestContext): Promise<PackRuntime> {
  const { probes } = await probe(false)
  const preferred = chooseProvider(probes, input.preference)
  const working = probes.filter((p) => p.available).map((p) => p.name)
  const order = preferred ? [preferred, ...working.filter((p) => p !== preferred)] : working
  const key = `${input.packDir}\n${input.plan.packHash}\n${order.join(',')}`
  if (openPack?.key !== key) {
    const old = openPack
    openPack = {
      key,
      runtime: openPackRuntime(input.packDir, input.manifest, {
        providers: order,
        idleMs: SESSION_IDLE_MS,
        log: (level, message) => ctx.log(level, message),
      }),
    }
    openPack.runtime.catch(() => {
      if (openPack?.key === key) openPack = null
    })
    if (old) void old.runtime.then((rt) => rt.sessions.close()).catch(() => undefined)
  }
  return openPack.runtime
}

async function runGenerate(
  input: HostInput<'generate'>,
  ctx: RequestContext,
): Promise<HostOutput<'generate'>> {
  const runtime = await runtimeFor(input, ctx)
  return generate(
    runtime,
    input.plan,
    { appVersion: input.appVersion, jobId: input.jobId },
    { signal: ctx.signal, onProgress: ctx.progress },
  )
}

async function releasePacks(): Promise<HostOutput<'releasePacks'>> {
  const old = openPack
  openPack = null
  if (!old) return { released: 0 }
  await old.runtime.then((rt) => rt.sessions.close()).catch(() => undefined)
  return { released: 1 }
}

interface RequestContext {
  signal: AbortSignal
  progress(step: number, total: number, etaMs: number | null): void
  log(level: 'info' | 'warn', message: string): void
}

type RequestHandlers = {
  [T in HostRequestType]: (
    input: HostRequests[T]['input'],
    ctx: RequestContext,
  ) => Promise<HostRequests[T]['output']>
}

const handlers: RequestHandlers = {
  systemInfo,
  ping: async () => ({ pid: process.pid }),
  generate: runGenerate,
  releasePacks,
}

async function handle(type: HostRequestType, input: unknown, ctx: RequestContext): Promise<Result<unknown>> {
  const handler = handlers[type] as ((input: unknown, ctx: RequestContext) => Promise<unknown>) | undefined
  if (!handler) return fail('unknown_method', `the inference host has no request '${String(type)}'`)
  try {
    return ok(await handler(input, ctx))
  } catch (err) {
    if (err instanceof AppError) return fail(err.code, err.message)
    return fail('internal', err instanceof Error ? err.message : String(err))
  }
}

function main(): void {
  const parent = connectToParent()
  process.on('uncaughtException', (err) => {
    try {
      parent.post({
        kind: 'log',
        level: 'error',
        message: `inference host crashed: ${err.stack ?? err.message}`,
      })
    } finally {
      process.exit(70)
    }
  })
  const running = new Map<number, AbortController>()
  parent.listen((message) => {
    if (message.kind === 'shutdown') {
      process.exit(0)
    }
    if (message.kind === 'cancel') {
      running.get(message.id)?.abort()
    }
    if (message.kind === 'request') {
      const id = message.id
      const controller = new AbortController()
      running.set(id, controller)
      const ctx: RequestContext = {
        signal: controller.signal,
        progress: (step, total, etaMs) => parent.post({ kind: 'progress', id, step, total, etaMs }),
        log: (level, text) => parent.post({ kind: 'log', level, message: text }),
      }
      void handle(message.type, message.input, ctx).then((result) => {
        running.delete(id)
        parent.post({ kind: 'response', id, result })
      })
    }
  })
  parent.post({ kind: 'ready', pid: process.pid })
}

main()
