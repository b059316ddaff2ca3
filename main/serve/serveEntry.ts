/** `npm run serve`: the app without Electron, for a browser on this machine (or, deliberately, on the network). */
import path from 'node:path'
import { createApp } from '../app/createApp.ts'
import { defaultDataDir } from '../app/dataDir.ts'
import { childProcessLauncher } from '../host/childProcessLauncher.ts'
import { newToken } from '../security/token.ts'
import { createServeServer } from './httpServer.ts'
import { isLoopbackAddress, parseServeArgs, SERVE_USAGE } from './serveArgs.ts'

async function main(): Promise<void> {
  let args: ReturnType<typeof parseServeArgs>
  try {
    args = parseServeArgs(process.argv.slice(2))
  } catch (err) {
    console.error(`dd-studio serve: ${(err as Error).message}\n\n${SERVE_USAGE}`)
    process.exit(2)
  }
  if (args.help) {
    console.log(SERVE_USAGE)
    return
  }

  const here = import.meta.dirname
  const app = await createApp({
    shell: 'serve',
    dataDir: args.dataDir ?? defaultDataDir(),
    launcher: childProcessLauncher(path.join(here, 'host.js'), (line) => console.error(`[host] ${line}`)),
  })
  app.events.subscribe((name, payload) => {
    if (name === 'app.onLog') {
      const entry = payload as { level: string; source: string; message: string }
      if (entry.level === 'warn' || entry.level === 'error')
        console.error(`[${entry.source}] ${entry.message}`)
    }
  })

  const token = newToken()
  const loopback = isLoopbackAddress(args.host)
  const server = createServeServer({
    dispatch: app.dispatch,
    events: app.events,
    token,
    staticDir: path.join(here, '..', 'renderer'),
    galleryDir: () => app.settings.get().galleryDir,
    loopbackOnly: loopback,
  })

  server.on('error', (err) => {
    console.error(`dd-studio serve: cannot listen on ${args.host}:${args.port}: ${err.message}`)
    void app.close().then(() => process.exit(1))
  })
  server.listen(args.port, args.host, () => {
    const address = server.address()
    const port = typeof address === 'object' && address ? address.port : args.port
    const shownHost = args.host.includes(':') ? `[${args.host}]` : args.host
    if (!loopback) {
      console.warn(`WARNING: listening on ${args.host}, reachable from other machines over plain HTTP.`)
    }
    console.log(`DD Studio is running at http://${shownHost}:${port}/?token=${token}`)
  })

  let closing = false
  const shutdown = () => {
    if (closing) return
    closing = true
    server.closeAllConnections()
    server.close()
    void app.close().then(() => process.exit(0))
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

void main()
