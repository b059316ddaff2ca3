/** Command-line options of `npm run serve`, validated before anything starts. */
import path from 'node:path'
import { parseArgs } from 'node:util'

export interface ServeArgs {
  host: string
  port: number
  dataDir: string | null
  allowRemote: boolean
  help: boolean
}

export const SERVE_USAGE = `Usage: npm run serve -- [--port N] [--host ADDR --allow-remote] [--data-dir DIR]

  --port N         port to listen on (default: a free port)
  --host ADDR      address to bind (default 127.0.0.1). Anything but loopback also needs --allow-remote:
                   the token then protects the app on your network, over plain HTTP.
  --allow-remote   confirm a non-loopback --host
  --data-dir DIR   settings, gallery and models (default: the per-user data folder)`

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

export function parseServeArgs(argv: string[]): ServeArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'allow-remote': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const port = values.port === undefined ? 0 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer from 0 to 65535, got '${values.port}'`)
  }
  const host = values.host ?? '127.0.0.1'
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new Error(`--host is not an address: '${host}'`)
  const allowRemote = values['allow-remote'] ?? false
  if (!isLoopbackAddress(host) && !allowRemote) {
    throw new Error(
      `refusing to listen on non-loopback address '${host}': anyone who can reach it and has the token can use the app. Add --allow-remote if you mean it.`,
    )
  }
  return {
    host,
    port,
    dataDir: values['data-dir'] ? path.resolve(values['data-dir']) : null,
    allowRemote,
    help: values.help ?? false,
  }
}
