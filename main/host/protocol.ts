/**
 * Messages between main and the inference host process (an Electron utility process, or a Node child process
 * in serve mode, the CLI and tests). A typed request union: each request type names its input and output.
 */
import type { GenerationResult } from '../../common/generation.ts'
import type { Result } from '../../common/result.ts'
import type {
  ExecutionProviderName,
  LogLevel,
  ProviderPreference,
  ProviderProbe,
} from '../../common/types.ts'
import type { PackManifest } from '../engine/packs/manifest.ts'
import type { GenerationPlan } from '../engine/plan.ts'

export interface HostProbeInfo {
  nodeVersion: string
  ortVersion: string
  providers: ProviderProbe[]
  activeProvider: ExecutionProviderName | null
  probedAt: string
}

export interface HostRequests {
  systemInfo: { input: { refresh: boolean; preference: ProviderPreference }; output: HostProbeInfo }
  ping: { input: Record<string, never>; output: { pid: number } }
  /** One job: the plan was checked against the pack in main; progress comes back as 'progress' messages. */
  generate: {
    input: {
      jobId: string
      packDir: string
      manifest: PackManifest
      plan: GenerationPlan
      preference: ProviderPreference
      appVersion: string
    }
    output: GenerationResult
  }
  /** Releases every session (a pack was removed, or settings changed). */
  releasePacks: { input: Record<string, never>; output: { released: number } }
}

export type HostRequestType = keyof HostRequests
export type HostInput<T extends HostRequestType> = HostRequests[T]['input']
export type HostOutput<T extends HostRequestType> = HostRequests[T]['output']

export type ToHost =
  | { kind: 'request'; id: number; type: HostRequestType; input: unknown }
  /** Stop request `id` at its next step; it then answers with a 'cancelled' error. */
  | { kind: 'cancel'; id: number }
  | { kind: 'shutdown' }

export type FromHost =
  | { kind: 'ready'; pid: number }
  | { kind: 'response'; id: number; result: Result<unknown> }
  | { kind: 'progress'; id: number; step: number; total: number; etaMs: number | null }
  | { kind: 'log'; level: LogLevel; message: string }

/** One running host process, whatever started it. */
export interface HostChannel {
  readonly pid: number | null
  send(message: ToHost): void
  onMessage(listener: (message: FromHost) => void): void
  onExit(listener: (code: number | null, signal: string | null) => void): void
  kill(): void
}

export type HostLauncher = () => HostChannel
