/** Values that cross the process boundary. Plain data only: everything here survives structuredClone and JSON. */
import type { SingleMode } from './generation.ts'

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const
export type ExecutionProviderName = (typeof EXECUTION_PROVIDERS)[number]

export interface ProviderProbe {
  name: ExecutionProviderName
  /** True only when a real session was created on it and ran a check graph correctly. */
  available: boolean
  /** Why it is not available, in the runtime's own words where it gave some. */
  error: string | null
  /** Session creation plus one run, in milliseconds; null when it failed before running. */
  probeMs: number | null
}

export interface SystemInfo {
  appName: string
  appVersion: string
  /** Where the app runs: the Electron desktop shell or `npm run serve`. */
  shell: 'electron' | 'serve' | 'cli'
  electronVersion: string | null
  chromeVersion: string | null
  /** Node.js of the inference host, which is what runs onnxruntime-node. */
  nodeVersion: string
  ortVersion: string
  platform: string
  arch: string
  /** Candidates in the order they are tried for this platform; cpu is always last. */
  providers: ProviderProbe[]
  /** The provider the engine will use: the preferred one if it works, else the first that works. */
  activeProvider: ExecutionProviderName | null
  probedAt: string
}

/**
 * What the shell the app runs in can do beyond the common app: the desktop app can show a file in the system's
 * file manager and drag a file out to other apps; a browser (serve mode) cannot. The UI offers an action only
 * where it works.
 */
export interface ShellCapabilities {
  /** gallery.reveal works. */
  revealInFolder: boolean
  /** gallery.startDrag works. */
  dragOut: boolean
}

export type HostStateName = 'starting' | 'ready' | 'restarting' | 'failed' | 'stopped'

export interface HostStatus {
  state: HostStateName
  pid: number | null
  /** Restarts after crashes since the app started. */
  restarts: number
  lastExit: { code: number | null; signal: string | null; at: string } | null
  message: string | null
}

export type Theme = 'dark' | 'light'
export type ProviderPreference = 'auto' | ExecutionProviderName

export interface Settings {
  theme: Theme
  galleryDir: string
  modelsDir: string
  executionProvider: ProviderPreference
  /** The mode the Steps toggle starts on. */
  defaultMode: SingleMode
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface LogEntry {
  level: LogLevel
  source: 'main' | 'host'
  message: string
  at: string
}

export interface JobProgress {
  jobId: string
  step: number
  total: number
  /** Estimated milliseconds left; null until a rate is known. */
  etaMs: number | null
}
