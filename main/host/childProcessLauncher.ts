/** Starts the inference host as a Node child process (serve mode, the CLI, tests). */
import { fork } from 'node:child_process'
import type { FromHost, HostChannel, HostLauncher } from './protocol.ts'

export function childProcessLauncher(hostScript: string, onStderr?: (line: string) => void): HostLauncher {
  return () => {
    const child = fork(hostScript, [], {
      // 'advanced' keeps typed arrays intact (images, latents) instead of turning them into JSON.
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      execArgv: ['--no-warnings=ExperimentalWarning'],
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) onStderr?.(line)
    })
    // A failed send (the child already gone) surfaces as an exit; keep it from becoming an uncaught error.
    child.on('error', () => undefined)
    const channel: HostChannel = {
      pid: child.pid ?? null,
      send: (message) => {
        if (!child.connected) throw new Error('the inference host is not connected')
        child.send(message)
      },
      onMessage: (listener) => child.on('message', (message) => listener(message as FromHost)),
      onExit: (listener) => {
        if (child.exitCode !== null || child.signalCode !== null) listener(child.exitCode, child.signalCode)
        else child.once('exit', (code, signal) => listener(code, signal))
      },
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      },
    }
    return channel
  }
}

/**
 * The last lines the host wrote to stderr. Native libraries print warnings there while providers are probed
 * (e.g. Dawn looking for Vulkan); they only matter when the host dies, so they are kept, not echoed.
 */
export class StderrTail {
  private readonly lines: string[] = []

  constructor(private readonly limit = 40) {}

  push = (line: string): void => {
    this.lines.push(line)
    if (this.lines.length > this.limit) this.lines.shift()
  }

  text(): string {
    return this.lines.join('\n')
  }
}
