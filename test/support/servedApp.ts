/** Starts the built `serve.js` exactly as `npm run serve` does, and a headless Debian Chromium to drive it. */
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'
import { BUILT_SERVE, requireBuild, tempDir } from './testApp.ts'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface ServedApp {
  url: string
  origin: string
  dataDir: string
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts serve mode on a fresh data folder, or on `dataDir` (another app's, to see what it kept). */
export async function startServedApp(options: { dataDir?: string } = {}): Promise<ServedApp> {
  requireBuild()
  const dataDir = options.dataDir ?? tempDir('served')
  const child = spawn(process.execPath, [BUILT_SERVE, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString()
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not print its URL in 30 s:\n${output}`)),
      30_000,
    )
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString()
      const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[0])
      }
    })
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)))
  })
  return {
    url,
    origin: new URL(url).origin,
    dataDir,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH; .ci/run installs it`,
    )
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

/** A contract call from inside the page, through its cookie: the path the UI itself uses. */
export async function callFromPage(
  page: Page,
  name: string,
  input: object,
): Promise<{ ok: boolean; value: Record<string, unknown> }> {
  return page.evaluate<{ ok: boolean; value: Record<string, unknown> }, readonly [string, object]>(
    async ([n, i]) => {
      const response = await fetch(`/api/call/${n}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(i),
      })
      return (await response.json()) as { ok: boolean; value: Record<string, unknown> }
    },
    [name, input] as const,
  )
}
