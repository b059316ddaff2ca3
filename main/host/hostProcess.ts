/**
 * Entry point of the inference host process. onnxruntime-node's run() blocks its thread, so everything that
 * touches it lives here, never in main. The same file runs as an Electron utility process (parentPort) and as a
 * Node child process (process.send), so serve mode, the CLI and tests exercise exactly what the app runs.
 */
import { AppError, fail, ok, type Result } from '../../common/result.ts'
import type { ProviderProbe } from '../../common/types.ts'
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

async function systemInfo(input: HostInput<'systemInfo'>): Promise<HostOutput<'systemInfo'>> {
  if (!probeCache || input.refresh) {
    const probes = await probeProviders(providerCandidates(process.platform, isCudaInstalled()))
    probeCache = { probes, at: new Date().toISOString() }
  }
  return {
    nodeVersion: process.versions.node,
    ortVersion: ortVersion(),
    providers: probeCache.probes,
    activeProvider: chooseProvider(probeCache.probes, input.preference),
    probedAt: probeCache.at,
  }
}

type RequestHandlers = {
  [T in HostRequestType]: (input: HostRequests[T]['input']) => Promise<HostRequests[T]['output']>
}

const handlers: RequestHandlers = {
  systemInfo,
  ping: async () => ({ pid: process.pid }),
}

async function handle(type: HostRequestType, input: unknown): Promise<Result<unknown>> {
  const handler = handlers[type] as ((input: unknown) => Promise<unknown>) | undefined
  if (!handler) return fail('unknown_method', `the inference host has no request '${String(type)}'`)
  try {
    return ok(await handler(input))
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
  parent.listen((message) => {
    if (message.kind === 'shutdown') {
      process.exit(0)
    }
    if (message.kind === 'request') {
      void handle(message.type, message.input).then((result) =>
        parent.post({ kind: 'response', id: message.id, result }),
      )
    }
  })
  parent.post({ kind: 'ready', pid: process.pid })
}

main()
