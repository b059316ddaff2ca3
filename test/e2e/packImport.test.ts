/**
 * Importing a model pack through the Generate panel's "Import pack…" dialog in the served app, in real
 * Chromium: a relative path stopped at the field without asking main, a folder that is no pack and a second
 * import of the same pack refused in main's words with the path kept, the smoke pack imported by path (with
 * the progress shown while main works), listed and selected without a reload, and a 1-step image made with it.
 * Each served app has its own data folder, so the imported pack stays in this test's models folder.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SMOKE_PACK_DIR } from '../support/packs.ts'
import type { ServedApp } from '../support/servedApp.ts'
import { axeViolations, describeFindings, seriousOrCritical } from './axe.ts'
import { openServedPage, type ServedPage } from './pageHelpers.ts'

let app: ServedPage
let served: ServedApp
let page: Page
/** Every packs.import call the page made. */
const importCalls: string[] = []

beforeAll(async () => {
  if (!fs.existsSync(path.join(SMOKE_PACK_DIR, 'manifest.json')))
    throw new Error(`no smoke pack at ${SMOKE_PACK_DIR}: run npm run models:smoke first`)
  app = await openServedPage({
    // Refused calls are part of the test.
    allowFailedCalls: true,
    beforeLoad: (_served, p) => {
      p.on('request', (r) => {
        if (r.url().includes('/api/call/packs.import')) importCalls.push(r.postData() ?? '')
      })
    },
  })
  ;({ served, page } = app)
  await page.getByTestId('pack-select').locator('option[value="emoji32"]').waitFor({ state: 'attached' })
})

afterAll(async () => {
  await app?.close()
})

const dialog = () => page.getByRole('dialog', { name: 'Import a model pack' })
const pathField = () => dialog().getByLabel('Pack folder or .zip file')

async function openDialog(): Promise<void> {
  if (await dialog().isVisible()) return
  await page.getByRole('button', { name: 'Import pack…' }).click()
  await dialog().waitFor()
}

async function importPath(value: string): Promise<void> {
  await pathField().fill(value)
  await dialog().getByRole('button', { name: 'Import', exact: true }).click()
}

async function focusedTestId(): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null)
}

function userPacks(): string[] {
  const dir = path.join(served.dataDir, 'models')
  return fs.existsSync(dir) ? fs.readdirSync(dir) : []
}

describe('importing a model pack in the served app', () => {
  it('opens a modal dialog from the pack area, with the focus in the path field and how to give the path', async () => {
    await openDialog()
    expect(await dialog().evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    expect(await focusedTestId()).toBe('import-pack-path')
    await dialog()
      .getByText(/the path on the machine that runs DD Studio/)
      .waitFor()
    expect(await pathField().getAttribute('aria-describedby')).toContain('import-pack-path-hint')
  })

  it('stops an empty or relative path at the field, without asking main', async () => {
    await importPath('')
    const error = dialog().getByTestId('import-pack-path-error')
    expect(await error.textContent()).toMatch(/Type the path/)

    await importPath('Downloads/my-pack.zip')
    await error.getByText(/whole path/).waitFor()
    expect(await pathField().getAttribute('aria-invalid')).toBe('true')
    expect(await pathField().getAttribute('aria-describedby')).toContain('import-pack-path-error')
    expect(await focusedTestId()).toBe('import-pack-path')
    expect(await pathField().inputValue()).toBe('Downloads/my-pack.zip')
    expect(importCalls).toEqual([])

    // Fixed, the error goes as soon as the path is absolute.
    await pathField().fill('/tmp/my-pack.zip')
    await error.waitFor({ state: 'detached' })
    expect(await pathField().getAttribute('aria-invalid')).toBeNull()
  })

  it("shows main's reason when the folder is not a pack, and keeps the path to fix", async () => {
    const notAPack = path.join(served.dataDir, 'not-a-pack')
    fs.mkdirSync(notAPack)
    fs.writeFileSync(path.join(notAPack, 'notes.txt'), 'no manifest here')
    await importPath(notAPack)

    const refused = dialog().getByRole('alert')
    await refused.waitFor()
    const text = (await refused.textContent()) ?? ''
    expect(text).toMatch(/^The pack could not be imported: /)
    expect(text).toContain(`${notAPack} is not a valid pack`)
    expect(await pathField().inputValue()).toBe(notAPack)
    expect(await focusedTestId()).toBe('import-pack-path')
    expect(importCalls).toHaveLength(1)
    // Nothing was left behind in the models folder.
    expect(userPacks()).toEqual([])
  })

  it('has no serious or critical axe findings in the dialog, with its errors shown', async () => {
    await importPath('relative/path')
    await dialog().getByTestId('import-pack-path-error').waitFor()
    const findings = await axeViolations(page, '[data-testid="import-pack-dialog"]')
    console.log(describeFindings('import pack dialog', findings))
    expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
  })

  it('imports the smoke pack by path, showing progress, then lists and selects it without a reload', async () => {
    // Held back until the progress has been seen, so the check does not race the import.
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const hold = async (route: Route) => {
      await held
      await route.continue()
    }
    await page.route('**/api/call/packs.import', hold)
    await importPath(SMOKE_PACK_DIR)
    const submit = dialog().getByTestId('import-pack-submit')
    await submit.getByText('Importing…').waitFor()
    expect(await submit.getAttribute('aria-disabled')).toBe('true')
    expect(await dialog().getByTestId('import-pack-progress').textContent()).toMatch(/copying the pack/)
    // The earlier refusal is gone while this one runs.
    expect(await dialog().getByRole('alert').count()).toBe(0)
    release()
    await dialog().waitFor({ state: 'hidden' })
    await page.unroute('**/api/call/packs.import', hold)
    const select = page.getByTestId('pack-select')
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="pack-select"]') as HTMLSelectElement).value === 'smoke',
    )
    expect(await select.locator('option:checked').textContent()).toBe('Smoke test pack 0.0.1')
    expect(await select.locator('option[value="emoji32"]:not([disabled])').count()).toBe(1)
    const card = page.getByRole('region', { name: /Smoke test pack/ })
    await card.waitFor()
    expect(await card.getByTestId('model-resolution').textContent()).toBe('32×32 px, 64 tokens')
    expect(await card.getByTestId('model-classes').textContent()).toBe('36')
    const note = page.getByTestId('pack-imported')
    expect(await note.textContent()).toMatch(/Imported Smoke test pack 0\.0\.1 into the models folder/)
    // The focus went back to the button that opened the dialog.
    expect(await focusedTestId()).toBe('import-pack-button')
    expect(userPacks()).toEqual(['smoke'])
    expect(importCalls).toHaveLength(2)

    // The pack area with its import button and the note.
    const findings = await axeViolations(page, '#generate-title + form')
    console.log(describeFindings('Generate form after an import', findings))
    expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
  })

  it('makes a 1-step image with the imported pack', async () => {
    await page.getByTestId('mode-1step').check()
    await page.getByTestId('seed-input').fill('7')
    await page.getByTestId('count-input').fill('1')
    await page.getByTestId('generate-button').click()
    const image = page.getByTestId('result-image')
    await image.waitFor({ timeout: 60_000 })
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="result-image"]') as HTMLImageElement | null
      return img?.complete === true && img.naturalWidth > 0
    })
    expect(await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([
      32, 32,
    ])
    expect(await image.getAttribute('data-mode')).toBe('1step')
    expect(await page.getByTestId('result-save').getAttribute('download')).toBe('smoke-1step-7.png')
    await page.getByTestId('progress').waitFor({ state: 'detached', timeout: 60_000 })
  })

  it('refuses the same pack a second time in main’s words, keeping the path', async () => {
    await openDialog()
    // Each opening starts empty.
    expect(await pathField().inputValue()).toBe('')
    await importPath(SMOKE_PACK_DIR)
    const refused = dialog().getByRole('alert')
    await refused.waitFor()
    expect(await refused.textContent()).toMatch(
      /^The pack could not be imported: a model pack with id 'smoke' already exists/,
    )
    expect(await pathField().inputValue()).toBe(SMOKE_PACK_DIR)
    expect(userPacks()).toEqual(['smoke'])

    // Closing keeps the imported pack selected.
    await page.keyboard.press('Escape')
    await dialog().waitFor({ state: 'hidden' })
    expect(await page.getByTestId('pack-select').inputValue()).toBe('smoke')
  })

  it('logged no errors or warnings in the page', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
