/** Builds the real app core (real inference host child process, real settings file) in a temporary folder. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type App, createApp } from '../../main/app/createApp.ts'
import { childProcessLauncher } from '../../main/host/childProcessLauncher.ts'
import type { SupervisorOptions } from '../../main/host/supervisor.ts'

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..')
export const BUILT_HOST = path.join(REPO_ROOT, 'out', 'main', 'host.js')
export const BUILT_SERVE = path.join(REPO_ROOT, 'out', 'main', 'serve.js')
export const BUILT_CLI = path.join(REPO_ROOT, 'out', 'main', 'cli.js')

export function requireBuild(): void {
  if (!fs.existsSync(BUILT_HOST)) {
    throw new Error(`${BUILT_HOST} is missing: run \`npm run build\` first (\`npm test\` does it for you)`)
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ddstudio-${prefix}-`))
}

export async function createTestApp(
  supervisor?: Partial<SupervisorOptions>,
): Promise<App & { dataDir: string }> {
  requireBuild()
  const dataDir = tempDir('app')
  const app = await createApp({
    shell: 'serve',
    dataDir,
    launcher: childProcessLauncher(BUILT_HOST),
    supervisor,
  })
  await app.host.start()
  return { ...app, dataDir }
}
