/**
 * The served app's dialogs and keys, in real Chromium: the Settings dialog (saved, kept after a reload, checked
 * before saving), the keyboard shortcut sheet ('?' opens it, Esc closes it), Esc cancelling a running job,
 * About's privacy statement, and that every dialog is a real modal dialog that takes the focus and gives it
 * back, with every control in it named.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServedApp } from '../support/servedApp.ts'
import { openServedPage, type ServedPage } from './pageHelpers.ts'

let app: ServedPage
let served: ServedApp
let page: Page

beforeAll(async () => {
  // A cancelled call is part of the test.
  app = await openServedPage({ allowFailedCalls: true })
  ;({ served, page } = app)
})

afterAll(async () => {
  await app?.close()
})

/** The accessible-name check of the shell test, for the controls inside `root` (labels by `for` or wrapping). */
async function unnamedControlsIn(selector: string): Promise<string[]> {
  return page.locator(selector).evaluate((root) =>
    [...root.querySelectorAll('button, input, select, textarea, a[href], [role="button"]')]
      .filter((el) => {
        const own = el.getAttribute('aria-label') ?? el.getAttribute('title') ?? el.textContent ?? ''
        const labels = (el as HTMLInputElement).labels
        return own.trim() === '' && !labels?.length && !el.getAttribute('aria-labelledby')
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  )
}

/** Whether the focused element is inside the element that `selector` finds. */
async function focusInside(selector: string): Promise<boolean> {
  return page.locator(selector).evaluate((root) => root.contains(document.activeElement))
}

describe('settings, shortcuts and dialogs in the served app', () => {
  it('opens Settings as a modal dialog that takes the focus, with every control named', async () => {
    const opener = page.getByRole('button', { name: 'Settings', exact: true })
    await opener.focus()
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: 'Settings' })
    await dialog.waitFor()
    expect(await dialog.evaluate((d) => d.tagName)).toBe('DIALOG')
    expect(await dialog.evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    expect(await focusInside('[data-testid="settings-dialog"]')).toBe(true)
    expect(await unnamedControlsIn('[data-testid="settings-dialog"]')).toEqual([])
    for (const label of ['Gallery folder', 'Models folder', 'Execution provider', 'Default mode'])
      await dialog.getByLabel(label, { exact: true }).waitFor()
    await dialog.getByRole('radio', { name: 'Dark' }).waitFor()
    expect(await dialog.getByLabel('Gallery folder').inputValue()).toBe(path.join(served.dataDir, 'gallery'))
    expect(await dialog.getByLabel('Default mode').inputValue()).toBe('1step')

    // Esc closes it and the focus goes back to the Settings button.
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden' })
    expect(await opener.evaluate((el) => el === document.activeElement)).toBe(true)
  })

  it('checks the folders before saving, and keeps what was saved after a reload', async () => {
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    const dialog = page.getByRole('dialog', { name: 'Settings' })
    const gallery = dialog.getByLabel('Gallery folder')
    await gallery.fill('pictures/dd')
    await dialog.getByText(/^An absolute folder path/).waitFor()
    expect(await gallery.getAttribute('aria-invalid')).toBe('true')
    expect(await dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true)

    const galleryDir = path.join(served.dataDir, 'my pictures')
    await gallery.fill(galleryDir)
    await dialog.getByLabel('Execution provider').selectOption('cpu')
    await dialog.getByRole('radio', { name: 'Light' }).check()
    await dialog.getByLabel('Default mode').selectOption({ label: 'Hybrid' })
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await page.waitForFunction(() => document.documentElement.classList.contains('light'))

    // On disk, and back after a reload: the Steps start on the default mode.
    const onDisk = JSON.parse(fs.readFileSync(path.join(served.dataDir, 'settings.json'), 'utf8'))
    expect(onDisk).toMatchObject({
      galleryDir,
      executionProvider: 'cpu',
      theme: 'light',
      defaultMode: 'hybrid',
    })
    await page.reload()
    await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })
    const steps = page.getByRole('radiogroup', { name: 'Steps' })
    await page.waitForFunction(
      () =>
        (document.querySelector('[data-testid="mode-hybrid"]') as HTMLInputElement | null)?.checked === true,
    )
    expect(await steps.getByRole('radio', { name: 'Hybrid', exact: true }).isChecked()).toBe(true)
    expect(await page.evaluate(() => document.documentElement.classList.contains('light'))).toBe(true)

    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    const again = page.getByRole('dialog', { name: 'Settings' })
    expect(await again.getByLabel('Gallery folder').inputValue()).toBe(galleryDir)
    expect(await again.getByLabel('Execution provider').inputValue()).toBe('cpu')
    expect(await again.getByRole('radio', { name: 'Light' }).isChecked()).toBe(true)
    expect(await again.getByLabel('Default mode').inputValue()).toBe('hybrid')
    // Back to the defaults the other tests expect; Cancel closes without saving.
    await again.getByLabel('Execution provider').selectOption('auto')
    await again.getByRole('radio', { name: 'Dark' }).check()
    await again.getByLabel('Default mode').selectOption('1step')
    await again.getByRole('button', { name: 'Save' }).click()
    await again.waitFor({ state: 'hidden' })
    await page.waitForFunction(() => document.documentElement.classList.contains('dark'))
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    await again.getByLabel('Default mode').selectOption('ar')
    await again.getByRole('button', { name: 'Cancel' }).click()
    await again.waitFor({ state: 'hidden' })
    expect(JSON.parse(fs.readFileSync(path.join(served.dataDir, 'settings.json'), 'utf8')).defaultMode).toBe(
      '1step',
    )
  })

  it("opens the shortcut sheet with '?', lists every shortcut, and closes it with Esc", async () => {
    await page.locator('body').click({ position: { x: 640, y: 400 } })
    await page.keyboard.press('?')
    const sheet = page.getByRole('dialog', { name: 'Keyboard shortcuts' })
    await sheet.waitFor()
    expect(await sheet.evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    expect(await focusInside('[data-testid="shortcut-sheet"]')).toBe(true)
    const rows = await sheet
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [tr.querySelector('th')?.textContent, tr.querySelector('td')?.textContent]),
      )
    expect(rows).toEqual(
      expect.arrayContaining([
        ['Ctrl+Enter', 'Generate with the current settings'],
        ['Esc', 'Cancel the running job, or close the open dialog'],
        ['?', 'Show these shortcuts'],
      ]),
    )
    await page.keyboard.press('Escape')
    await sheet.waitFor({ state: 'hidden' })

    // Typed into a text field, '?' is just a character.
    const search = page.getByLabel('Search classes')
    await search.fill('')
    await search.press('?')
    expect(await search.inputValue()).toBe('?')
    expect(await sheet.isVisible()).toBe(false)
    await search.fill('')

    // The header button opens it too, and it gives the focus back to that button.
    const button = page.getByRole('button', { name: 'Keyboard shortcuts' })
    await button.click()
    await sheet.waitFor()
    await sheet.getByRole('button', { name: 'Close' }).click()
    await sheet.waitFor({ state: 'hidden' })
    expect(await button.evaluate((el) => el === document.activeElement)).toBe(true)
  })

  it('cancels the running job with Esc', async () => {
    await page.getByTestId('mode-ar').check()
    await page.getByTestId('count-input').fill('16')
    await page.keyboard.press('Control+Enter')
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="progress"]')?.getAttribute('data-step')) > 0,
      null,
      { timeout: 30_000 },
    )
    await page.locator('body').press('Escape')
    const notice = page.getByTestId('job-error')
    await notice.waitFor({ timeout: 30_000 })
    expect(await notice.getAttribute('data-code')).toBe('cancelled')
    await page.getByTestId('progress').waitFor({ state: 'detached', timeout: 30_000 })
  })

  it('says in About that the app sends no telemetry and makes no network requests', async () => {
    await page.getByRole('button', { name: 'About' }).click()
    const about = page.getByRole('dialog', { name: /DD Studio/ })
    await about.waitFor()
    expect(await about.evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    expect(await about.getByTestId('privacy-statement').textContent()).toMatch(
      /sends no telemetry and makes no network requests/,
    )
    await page.keyboard.press('Escape')
    await about.waitFor({ state: 'hidden' })
  })

  it('logged no console errors or CSP violations', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
