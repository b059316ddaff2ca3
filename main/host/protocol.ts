/**
 * Messages between main and the inference host process (an Electron utility process, or a Node child process
 * in serve mode, the CLI and tests). A typed request union: each request type names its input and output.
 */
import type { Result } from '../../common/result.ts'
import type {
  ExecutionProviderName,
  LogLevel,
  ProviderPreference,
  ProviderProbe,
} from '../../common/types.ts'

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
}

export type HostRequestType = keyof HostRequests
export type HostInput<T extends HostRequestType> = HostRequests[T]['input']
export type HostOutput<T extends HostRequestType> = HostRequests[T]['output']

export type ToHost =
  | { kind: 'request'; id: number; type: HostRequestType; input: unknown }
  | { kind: 'shutdown' }

export type FromHost =
  | { kind: 'ready'; pid: number }
  | { kind: 'response'; id: number; result: Result<unknown> }
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
