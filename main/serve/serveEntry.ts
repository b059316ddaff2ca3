/** `npm run serve`: the app without Electron, for a browser on this machine (or, deliberately, on the network). */
import path from 'node:path'
import type { HostStatus, LogEntry } from '../../common/types.ts'
import { createApp } from '../app/createApp.ts'
import { defaultDataDir } from '../app/dataDir.ts'
import { childProcessLauncher, StderrTail } from '../host/childProcessLauncher.ts'
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
  const hostStderr = new StderrTail()
  const app = await createApp({
    shell: 'serve',
    dataDir: args.dataDir ?? defaultDataDir(),
    launcher: childProcessLauncher(path.join(here, 'host.js'), hostStderr.push),
  })
  app.events.subscribe((name, payload) => {
    if (name === 'app.onLog') {
      const entry = payload as LogEntry
      if (entry.level === 'warn' || entry.level === 'error')
        console.error(`[${entry.source}] ${entry.message}`)
    }
    if (name === 'host.onState' && (payload as HostStatus).state === 'failed' && hostStderr.text()) {
      console.error(`[host] last output before it failed:
${hostStderr.text()}`)
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
    galleryThumb: (urlPath) => app.gallery.thumbnail(urlPath),
    packExamples: (urlPath) => app.packs.examplesSheet(urlPath),
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
