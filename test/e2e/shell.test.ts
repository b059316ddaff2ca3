/**
 * The served UI in real Chromium: the shell, the execution provider, a generated result (in the screenshot),
 * About, themes, and a host crash.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callFromPage } from '../support/servedApp.ts'
import { REPO_ROOT } from '../support/testApp.ts'
import { openServedPage, type ServedPage } from './pageHelpers.ts'

let app: ServedPage
let page: Page

beforeAll(async () => {
  // The first test waits for the shell itself.
  app = await openServedPage({ ready: async () => undefined })
  page = app.page
})

afterAll(async () => {
  await app?.close()
})

function call(name: string, input: object): Promise<{ ok: boolean; value: Record<string, unknown> }> {
  return callFromPage(page, name, input)
}

describe('the served app shell in Chromium', () => {
  it('shows the three areas, the execution provider that really loaded, and a generated result', async () => {
    await expect(page.title()).resolves.toBe('DD Studio')
    expect(new URL(page.url()).search).toBe('') // the token left the address bar
    for (const name of ['Generate', 'Result', 'Gallery', 'Status bar']) {
      await page.getByRole('region', { name }).waitFor()
    }
    await page.getByText('Inference host ready').waitFor()
    const provider = page.getByTestId('execution-provider')
    await provider.getByText('cpu', { exact: true }).waitFor({ timeout: 30_000 })
    expect(await provider.textContent()).toBe('Execution provider: cpu')

    // The screenshot shows a compare job: the fast modes and the exact teacher on the same seeds, with
    // agreement and heatmaps.
    await page.getByLabel('Search classes').fill('fluent-3d / smileys')
    await page.getByTestId('mode-compare').check()
    await page.getByTestId('seed-input').fill('3')
    await page.getByTestId('count-input').fill('3')
    await page.getByTestId('generate-button').click()
    await page.getByTestId('compare-table').waitFor({ timeout: 60_000 })
    await page.getByTestId('progress').waitFor({ state: 'detached', timeout: 60_000 })
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('[data-testid="result-image"]')].every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    )
    expect(await page.getByTestId('result-image').count()).toBe(9)
    fs.mkdirSync(path.join(REPO_ROOT, 'docs'), { recursive: true })
    await page.screenshot({ path: path.join(REPO_ROOT, 'docs', 'screenshot.png') })
  })

  it('gives every control an accessible name', async () => {
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('button, input, select, textarea, a[href], [role="button"]')]
        .filter((el) => {
          const label = el.getAttribute('aria-label') ?? el.getAttribute('title') ?? el.textContent ?? ''
          const byId = el.id ? document.querySelector(`label[for="${el.id}"]`) : null
          return label.trim() === '' && !byId && !el.getAttribute('aria-labelledby')
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    )
    expect(unnamed).toEqual([])
  })

  it('opens About with the privacy statement and third-party notices', async () => {
    await page.getByRole('button', { name: 'About' }).click()
    const dialog = page.getByRole('dialog', { name: /DD Studio/ })
    await dialog.waitFor()
    await dialog.getByText(/No telemetry/).waitFor()
    await dialog.getByText(/^onnxruntime-node 1\.30\.0/).waitFor()
    await dialog.getByText(/^react 19/).waitFor()
    await dialog.getByText(/Twemoji by Twitter, Inc and other contributors/).waitFor()
    await dialog.getByRole('button', { name: 'Close' }).click()
    await dialog.waitFor({ state: 'hidden' })
  })

  it('switches to the light theme and keeps it after a reload', async () => {
    expect(await page.evaluate(() => document.documentElement.className)).toContain('dark')
    await page.getByRole('button', { name: 'Switch to light theme' }).click()
    await page.waitForFunction(() => document.documentElement.classList.contains('light'))
    await page.reload()
    await page.getByRole('button', { name: 'Switch to dark theme' }).waitFor()
    expect(await page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(false)
    await page.getByRole('button', { name: 'Switch to dark theme' }).click()
    await page.waitForFunction(() => document.documentElement.classList.contains('dark'))
  })

  it('tells the user when the inference host crashes, and recovers by itself', async () => {
    const before = await call('host.status', {})
    const pid = before.value.pid as number
    expect(pid).toBeGreaterThan(0)
    process.kill(pid, 'SIGKILL')
    await page
      .getByRole('alert')
      .getByText(/signal SIGKILL.*restarting/)
      .waitFor({ timeout: 10_000 })
    await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })
    await page.getByRole('alert').waitFor({ state: 'detached' })
    const after = await call('host.status', {})
    expect(after.value.pid).not.toBe(pid)
    expect(after.value.restarts).toBe(1)
  })

  it('logged no console errors or CSP violations', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
