/** Starts the inference host as an Electron utility process: a native fault in onnxruntime cannot take main down. */
import { utilityProcess } from 'electron'
import type { FromHost, HostChannel, HostLauncher } from '../host/protocol.ts'

export function utilityProcessLauncher(hostScript: string): HostLauncher {
  return () => {
    const child = utilityProcess.fork(hostScript, [], {
      serviceName: 'DD Studio inference host',
      stdio: 'inherit',
    })
    let exitCode: number | null | undefined
    child.once('exit', (code) => {
      exitCode = code
    })
    const channel: HostChannel = {
      get pid() {
        return child.pid ?? null
      },
      send: (message) => {
        if (exitCode !== undefined) throw new Error('the inference host has exited')
        child.postMessage(message)
      },
      onMessage: (listener) => child.on('message', (message: unknown) => listener(message as FromHost)),
      onExit: (listener) => {
        if (exitCode !== undefined) listener(exitCode, null)
        else child.once('exit', (code) => listener(code, null))
      },
      kill: () => {
        if (exitCode === undefined) child.kill()
      },
    }
    return channel
  }
}
