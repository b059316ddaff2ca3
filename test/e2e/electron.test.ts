/**
 * Smoke test of the real desktop app. It needs the Electron binary, which Electron downloads on first run;
 * where it is absent (offline machines, CI here) the test skips and says why. The probe reads path.txt and
 * dist/ directly: require('electron') would start that download.
 */
import fs from 'node:fs'
import path from 'node:path'
import { _electron as electron } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, requireBuild } from '../support/testApp.ts'

function findElectronBinary(): { binary: string | null; reason: string } {
  const dir = path.join(REPO_ROOT, 'node_modules', 'electron')
  const pathFile = path.join(dir, 'path.txt')
  if (!fs.existsSync(pathFile)) {
    return {
      binary: null,
      reason: `${path.relative(REPO_ROOT, pathFile)} is missing: the Electron binary was never downloaded`,
    }
  }
  const binary = path.join(dir, 'dist', fs.readFileSync(pathFile, 'utf8').trim())
  if (!fs.existsSync(binary)) return { binary: null, reason: `${binary} is missing` }
  if (process.platform === 'linux' && !process.env.DISPLAY) {
    return { binary: null, reason: 'no DISPLAY: run under xvfb-run to test the desktop window' }
  }
  return { binary, reason: '' }
}

const { binary, reason } = findElectronBinary()
if (!binary) console.log(`[electron smoke test] skipped: ${reason}`)

describe.skipIf(!binary)('the Electron app', () => {
  it('opens a sandboxed, isolated window that shows the shell and the execution provider', async () => {
    requireBuild()
    const app = await electron.launch({
      executablePath: binary as string,
      args: [path.join(REPO_ROOT, 'out', 'main', 'index.js')],
      env: { ...process.env, ELECTRON_ENABLE_LOGGING: '1' },
    })
    try {
      const page = await app.firstWindow()
      await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })
      await page
        .getByTestId('execution-provider')
        .getByText('cpu', { exact: true })
        .waitFor({ timeout: 30_000 })
      const isolation = await page.evaluate(() => ({
        hasBridge: typeof window.ddstudio?.system?.info === 'function',
        hasRequire: typeof (window as unknown as { require?: unknown }).require !== 'undefined',
        hasProcess: typeof (window as unknown as { process?: unknown }).process !== 'undefined',
        genericInvoke: 'invoke' in (window.ddstudio ?? {}),
      }))
      expect(isolation).toEqual({
        hasBridge: true,
        hasRequire: false,
        hasProcess: false,
        genericInvoke: false,
      })
    } finally {
      await app.close()
    }
  })
})
