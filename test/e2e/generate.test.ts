/**
 * The Generate panel and the result view in the served app, in real Chromium, against the real engine and the
 * default pack: one image in 1 step, a compare job laid out by mode, cancelling a running job, the server's
 * invalid_input next to the form, the UI's own validation, and a host crash in the middle of a job.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_COMPARE_MODES } from '../../common/generation.ts'
import { callFromPage, launchChromium, type ServedApp, startServedApp } from '../support/servedApp.ts'

let served: ServedApp
let browser: Browser
let page: Page
const consoleProblems: string[] = []

beforeAll(async () => {
  served = await startServedApp()
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return
    // A refused or cancelled call answers with an HTTP error status, which Chromium logs by itself.
    if (m.text().startsWith('Failed to load resource') && m.location().url.includes('/api/call/')) return
    consoleProblems.push(`${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (err) => consoleProblems.push(`pageerror: ${err.message}`))
  // A user pack that cannot be used: listed, but not selectable.
  const broken = path.join(served.dataDir, 'models', 'half-copied')
  fs.mkdirSync(broken, { recursive: true })
  fs.writeFileSync(path.join(broken, 'manifest.json'), '{"format": "dd-studio-pack"')
  await page.goto(served.url)
  await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })
})

afterAll(async () => {
  await browser?.close()
  await served?.stop()
})

async function setMode(mode: string): Promise<void> {
  await page.getByTestId(`mode-${mode}`).check()
}

async function setNumber(testId: string, value: number): Promise<void> {
  await page.getByTestId(testId).fill(String(value))
}

/** Waits until no job runs (the progress bar is gone) and Generate can be pressed again. */
async function idle(timeout = 60_000): Promise<void> {
  await page.getByTestId('progress').waitFor({ state: 'detached', timeout })
  await page.waitForFunction(
    () => !(document.querySelector('[data-testid="generate-button"]') as HTMLButtonElement).disabled,
    null,
    { timeout },
  )
}

/** Waits for a job's first progress event, so it is really running. */
async function running(): Promise<void> {
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="progress"]')?.getAttribute('data-step')) > 0,
    null,
    { timeout: 30_000 },
  )
}

async function resultJobId(): Promise<string | null> {
  return page.getByTestId('result').getAttribute('data-job-id')
}

function call(name: string, input: object): Promise<{ ok: boolean; value: Record<string, unknown> }> {
  return callFromPage(page, name, input)
}

describe('generating images in the served app', () => {
  it('offers the ready packs, and lists a broken one disabled with its problem', async () => {
    const packSelect = page.getByTestId('pack-select')
    await packSelect.locator('option:not([disabled])', { hasText: 'Emoji 32' }).waitFor({ state: 'attached' })
    expect(await packSelect.inputValue()).toBe('emoji32')
    const broken = packSelect.locator('option[disabled]')
    await broken.waitFor({ state: 'attached' })
    expect(await broken.count()).toBe(1)
    expect(await broken.textContent()).toMatch(/half-copied/)
    expect(await broken.getAttribute('title')).toMatch(/manifest\.json/)
    await page.getByText(/half-copied.*can’t be used: .*manifest\.json/).waitFor()
  })

  it('makes one 32x32 image in 1 step with seed 42, with its timings', async () => {
    const classSelect = page.getByTestId('class-select')
    await page.getByLabel('Search classes').fill('animals')
    expect(await classSelect.locator('option').count()).toBeGreaterThan(1)
    await classSelect.selectOption({ index: 1 })
    const className = (await classSelect.locator('option:checked').textContent())?.trim() ?? ''
    expect(className).toMatch(/Animals/)

    await setMode('1step')
    await setNumber('seed-input', 42)
    await setNumber('count-input', 1)
    await page.getByTestId('generate-button').click()

    const image = page.getByTestId('result-image')
    await image.waitFor({ timeout: 60_000 })
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="result-image"]') as HTMLImageElement | null
      return img?.complete && img.naturalWidth > 0
    })
    expect(await image.count()).toBe(1)
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(32)
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(32)
    expect(await image.getAttribute('data-seed')).toBe('42')
    expect(await image.getAttribute('data-mode')).toBe('1step')
    // Scaled up without smoothing.
    expect(await image.evaluate((img) => getComputedStyle(img).imageRendering)).toBe('pixelated')
    expect((await image.boundingBox())?.width).toBeGreaterThanOrEqual(128)
    expect(await image.getAttribute('src')).toMatch(/^blob:/)

    const timings = page.getByTestId('result').getByTestId('timings')
    expect(await timings.textContent()).toMatch(
      /token [\d.]+ (ms|s)\s*decode [\d.]+ (ms|s)\s*total [\d.]+ (ms|s)/,
    )
    await page.getByTestId('result').getByText(className, { exact: true }).waitFor()
    await page.getByTestId('result').getByText('Seed 42', { exact: true }).waitFor()
    await idle()
    // Unlocked, the seed moves on for the next run.
    expect(await page.getByTestId('seed-input').inputValue()).not.toBe('42')
  })

  it('lays a compare job out as one column per mode and one row per seed', async () => {
    await setMode('compare')
    await setNumber('seed-input', 7)
    await setNumber('count-input', 2)
    await page.getByTestId('seed-lock').click()
    expect(await page.getByTestId('seed-lock').getAttribute('aria-pressed')).toBe('true')
    // Ctrl+Enter generates too.
    await page.keyboard.press('Control+Enter')

    const table = page.getByTestId('compare-table')
    await table.waitFor({ timeout: 60_000 })
    await idle()
    const columns = await table
      .getByTestId('compare-column')
      .evaluateAll((ths) => ths.map((th) => th.getAttribute('data-mode')))
    expect([...columns].sort()).toEqual([...DEFAULT_COMPARE_MODES].sort())
    expect(columns[0]).toBe('exact')

    const rows = table.locator('tbody tr')
    expect(await rows.count()).toBe(2)
    for (const [i, seed] of ['7', '8'].entries()) {
      const seeds = await rows
        .nth(i)
        .getByTestId('result-image')
        .evaluateAll((imgs) => imgs.map((img) => img.getAttribute('data-seed')))
      expect(seeds).toEqual(columns.map(() => seed))
      const modes = await rows
        .nth(i)
        .getByTestId('result-image')
        .evaluateAll((imgs) => imgs.map((img) => img.getAttribute('data-mode')))
      expect(modes).toEqual(columns)
    }

    // Agreement with the exact teacher and a heatmap under every other mode's column.
    const agreements = await table.getByTestId('agreement').allTextContents()
    expect(agreements).toHaveLength(columns.length - 1)
    for (const text of agreements) expect(text).toMatch(/^\d+(\.\d)?% tokens = exact$/)
    const heatmaps = table.getByTestId('heatmap')
    expect(await heatmaps.count()).toBe(columns.length - 1)
    expect(await heatmaps.first().getAttribute('data-rows')).toBe('8')
    expect(await heatmaps.first().getAttribute('data-cols')).toBe('8')
    expect(await heatmaps.first().getByTestId('heatmap-cell').count()).toBe(64)
    expect(await heatmaps.first().getByRole('img').getAttribute('aria-label')).toMatch(/positions differ/)

    // Locked, the seed stays.
    expect(await page.getByTestId('seed-input').inputValue()).toBe('7')
    await page.getByTestId('seed-lock').click()
  })

  it('cancels a running AR job of 16 images, and the next run works', async () => {
    const before = await resultJobId()
    await setMode('ar')
    await setNumber('count-input', 16)
    await page.getByTestId('generate-button').click()
    await running()
    const progress = page.getByTestId('progress')
    expect(await progress.getAttribute('data-total')).toBe('64')
    await page.getByTestId('cancel-button').click()

    const notice = page.getByTestId('job-error')
    await notice.waitFor({ timeout: 30_000 })
    expect(await notice.getAttribute('role')).toBe('alert')
    expect(await notice.getAttribute('data-code')).toBe('cancelled')
    expect(await notice.textContent()).toMatch(/Cancelled/)
    await idle()
    await page.getByTestId('cancel-button').waitFor({ state: 'detached' })
    // The cancelled job left the last result alone.
    expect(await resultJobId()).toBe(before)

    await setMode('1step')
    await setNumber('seed-input', 5)
    await setNumber('count-input', 1)
    await page.getByTestId('generate-button').click()
    await page.locator('[data-testid="result-image"][data-seed="5"]').waitFor({ timeout: 60_000 })
    expect(await resultJobId()).not.toBe(before)
    await notice.waitFor({ state: 'detached' })
    await idle()
  })

  it("shows the server's invalid_input next to the form, on the field it names", async () => {
    const advanced = page.getByText('Advanced', { exact: true })
    if (
      !(await page
        .locator('details:has(> summary)')
        .first()
        .evaluate((d: HTMLDetailsElement) => d.open))
    )
      await advanced.click()
    await setMode('ar')
    const topK = page.getByTestId('field-topK')
    const packTopK = await topK.inputValue()
    await topK.fill('100000') // above the codebook size, which only the server knows
    await page.getByTestId('generate-button').click()

    const alert = page.getByTestId('input-error')
    await alert.waitFor({ timeout: 30_000 })
    expect(await alert.getAttribute('role')).toBe('alert')
    expect(await alert.textContent()).toMatch(/teacher\.topK/)
    expect(await topK.getAttribute('aria-invalid')).toBe('true')
    expect(await topK.getAttribute('aria-describedby')).toContain('server-input-error')
    await topK.fill(packTopK)
  })

  it('checks the fields before sending anything', async () => {
    await setMode('1step')
    await setNumber('count-input', 17)
    await page.getByText('A whole number from 1 to 16.').waitFor()
    expect(await page.getByTestId('count-input').getAttribute('aria-invalid')).toBe('true')
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    await setNumber('count-input', 1)

    await setMode('custom')
    const tList = page.getByTestId('field-tList')
    await tList.fill('0, 40, 20')
    await page.getByText('Each step must be larger than the one before.').waitFor()
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    await tList.fill('0, 16, 32, 48')
    expect(await page.getByTestId('generate-button').isEnabled()).toBe(true)
    await page.getByTestId('generate-button').click()
    await page.locator('[data-testid="result-image"][data-mode="custom"]').waitFor({ timeout: 60_000 })
    await idle()
  })

  it('reports a host crash during a job inline, and keeps working', async () => {
    await setMode('ar')
    await setNumber('count-input', 16)
    await page.getByTestId('generate-button').click()
    await running()
    const status = await call('host.status', {})
    process.kill(status.value.pid as number, 'SIGKILL')

    const notice = page.getByTestId('job-error')
    await notice.waitFor({ timeout: 30_000 })
    expect(await notice.getAttribute('data-code')).toBe('host_crashed')
    expect(await notice.getAttribute('role')).toBe('alert')
    await idle()
    await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })

    await setMode('1step')
    await setNumber('seed-input', 99)
    await setNumber('count-input', 1)
    await page.getByTestId('generate-button').click()
    await page.locator('[data-testid="result-image"][data-seed="99"]').waitFor({ timeout: 60_000 })
    await notice.waitFor({ state: 'detached' })
  })

  it('logged no console errors or CSP violations', () => {
    expect(consoleProblems).toEqual([])
  })
})
