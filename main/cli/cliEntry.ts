/**
 * `npm run generate`: image generation from the command line, through the same app core and inference host as
 * the desktop app. Arguments are validated and the host is started and asked which execution provider it uses;
 * generation itself needs a model pack and the engine's samplers.
 */
import path from 'node:path'
import { createApp } from '../app/createApp.ts'
import { defaultDataDir } from '../app/dataDir.ts'
import { childProcessLauncher, StderrTail } from '../host/childProcessLauncher.ts'
import { GENERATE_USAGE, parseGenerateArgs } from './generateArgs.ts'

async function main(): Promise<number> {
  let args: ReturnType<typeof parseGenerateArgs>
  try {
    args = parseGenerateArgs(process.argv.slice(2))
  } catch (err) {
    console.error(`dd-studio generate: ${(err as Error).message}\n\n${GENERATE_USAGE}`)
    return 2
  }
  if (args.help) {
    console.log(GENERATE_USAGE)
    return 0
  }

  const hostStderr = new StderrTail()
  const app = await createApp({
    shell: 'cli',
    dataDir: args.dataDir ?? defaultDataDir(),
    launcher: childProcessLauncher(path.join(import.meta.dirname, 'host.js'), hostStderr.push),
  })
  try {
    const info = await app.dispatch('system.info', {}, { transport: 'cli' })
    if (!info.ok) {
      console.error(`dd-studio generate: the inference host is not usable: ${info.error.message}`)
      if (hostStderr.text()) console.error(`[host] last output:\n${hostStderr.text()}`)
      return 1
    }
    const system = info.value as { activeProvider: string | null; ortVersion: string }
    console.log(
      `inference host ready: onnxruntime ${system.ortVersion}, execution provider ${system.activeProvider}`,
    )
    console.error(
      `dd-studio generate: this build cannot sample yet: the engine's samplers are not part of it (mode ${args.mode}, ${args.n} image(s) requested; packs live in models/packs).`,
    )
    return 3
  } finally {
    await app.close()
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('dd-studio generate failed:', err)
    process.exit(1)
  },
)
