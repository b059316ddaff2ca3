/**
 * The result view and the gallery in the served app, in real Chromium, against the real engine and the default
 * pack: every Steps option makes its images through the UI, each shown with its timings and saved to the
 * gallery in its own mode; and when the gallery folder cannot be written, the images are still shown, with a
 * notice that names the problem and a Save as link that downloads each one, until the folder is set back.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GalleryItem, GalleryPage } from '../../common/gallery.ts'
import type { SingleMode } from '../../common/generation.ts'
import { decodePngRgb } from '../../main/engine/output/png.ts'
import { callFromPage, type ServedApp } from '../support/servedApp.ts'
import { tempDir } from '../support/testApp.ts'
import { axeViolations, seriousOrCritical } from './axe.ts'
import { openServedPage, type ServedPage, waitForGalleryCount, waitForIdle } from './pageHelpers.ts'

let app: ServedPage
let served: ServedApp
let page: Page

beforeAll(async () => {
  // Refused calls (the gallery while its folder is unusable) are part of the test.
  app = await openServedPage({ context: { acceptDownloads: true }, allowFailedCalls: true })
  ;({ served, page } = app)
})

afterAll(async () => {
  await app?.close()
})

/** Sets seed and count, presses Generate and waits for the job's first image and for the job to end. */
async function generate(seed: number, count: number): Promise<void> {
  await page.getByTestId('seed-input').fill(String(seed))
  await page.getByTestId('count-input').fill(String(count))
  await page.getByTestId('generate-button').click()
  await page.locator(`[data-testid="result-image"][data-seed="${seed}"]`).waitFor({ timeout: 60_000 })
  await waitForIdle(page)
}

/** Every image in the gallery, as the page sees it through its own contract call. */
async function galleryItems(): Promise<GalleryItem[]> {
  const answer = await callFromPage(page, 'gallery.list', { limit: 500 })
  expect(answer.ok).toBe(true)
  return (answer.value as unknown as GalleryPage).items
}

/** Points the gallery at `folder` through the Settings dialog, as a user does. */
async function setGalleryFolder(folder: string): Promise<void> {
  await page.getByRole('button', { name: 'Settings', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: 'Settings' })
  await dialog.waitFor()
  await dialog.getByLabel('Gallery folder').fill(folder)
  await dialog.getByRole('button', { name: 'Save' }).click()
  await dialog.waitFor({ state: 'hidden' })
}

interface ModeCase {
  label: string
  mode: SingleMode
  count: number
  /** The t_list typed into Advanced, for Custom steps. */
  tList?: number[]
}

// The fast modes make two images each; the two that run the original model token by token make one.
const MODE_CASES: readonly ModeCase[] = [
  { label: '1 step', mode: '1step', count: 2 },
  { label: '2 steps', mode: '2step', count: 2 },
  { label: 'Custom steps', mode: 'custom', count: 2, tList: [0, 8, 24, 40] },
  { label: 'Hybrid', mode: 'hybrid', count: 2 },
  { label: 'Original AR', mode: 'ar', count: 1 },
  { label: 'Exact teacher', mode: 'exact', count: 1 },
]

let classIndex = 0
let saved = 0

describe('every Steps option through the UI', () => {
  it('starts on an empty gallery with a class chosen', async () => {
    await page.getByTestId('gallery-empty').waitFor()
    const classSelect = page.getByTestId('class-select')
    await classSelect.selectOption({ index: 2 })
    classIndex = Number(await classSelect.inputValue())
  })

  for (const [i, c] of MODE_CASES.entries()) {
    it(`${c.label}: ${c.count} ${c.count === 1 ? 'image' : 'images'} with timings, saved to the gallery as '${c.mode}'`, async () => {
      const seed = 1000 + 10 * i
      await page
        .getByRole('radiogroup', { name: 'Steps' })
        .getByRole('radio', { name: c.label, exact: true })
        .check()
      if (c.tList) {
        if (!(await page.getByTestId('advanced').evaluate((d: HTMLDetailsElement) => d.open)))
          await page.getByText('Advanced', { exact: true }).click()
        await page.getByTestId('field-tList').fill(c.tList.join(', '))
      }
      await generate(seed, c.count)

      const result = page.getByTestId('result')
      const images = result.getByTestId('result-image')
      expect(await images.count()).toBe(c.count)
      expect(await images.evaluateAll((imgs) => imgs.map((img) => img.getAttribute('data-seed')))).toEqual(
        Array.from({ length: c.count }, (_, k) => String(seed + k)),
      )
      expect(
        new Set(await images.evaluateAll((imgs) => imgs.map((img) => img.getAttribute('data-mode')))),
      ).toEqual(new Set([c.mode]))
      await page.waitForFunction(
        (n) =>
          [...document.querySelectorAll<HTMLImageElement>('[data-testid="result-image"]')].filter(
            (img) => img.complete && img.naturalWidth === 32,
          ).length === n,
        c.count,
      )
      const timings = await result.getByTestId('timings').allTextContents()
      expect(timings).toHaveLength(c.count)
      for (const text of timings)
        expect(text).toMatch(/token [\d.]+ (ms|s)\s*decode [\d.]+ (ms|s)\s*total [\d.]+ (ms|s)/)
      await result.getByText(new RegExp(`^${c.label} · ${c.count} image`)).waitFor()
      expect(await result.getByTestId('result-save').count()).toBe(c.count)
      expect(await page.getByTestId('gallery-error').count()).toBe(0)

      // Saved: one gallery item per image, in this mode, and the gallery pane counts them.
      saved += c.count
      await waitForGalleryCount(page, saved)
      const items = (await galleryItems()).filter(
        (item) => item.seed !== null && item.seed >= seed && item.seed < seed + 10,
      )
      expect(items.map((item) => item.seed).sort()).toEqual(
        Array.from({ length: c.count }, (_, k) => seed + k),
      )
      for (const item of items) {
        expect(item).toMatchObject({ mode: c.mode, packId: 'emoji32', classIndex, width: 32, height: 32 })
        expect(item.timings?.totalMs).toBeGreaterThan(0)
        if (c.tList) expect(JSON.parse(item.metadata ?? '{}').tList).toEqual(c.tList)
      }
    })
  }
})

describe('a gallery folder that cannot be written', () => {
  let galleryDir = ''
  let unusable = ''

  it('still shows the images, with a notice that names the problem', async () => {
    galleryDir = path.join(served.dataDir, 'gallery')
    // A path under a regular file: no folder can be made there, even by root (chmod would not stop root).
    const blocker = path.join(tempDir('results-blocked'), 'a-file')
    fs.writeFileSync(blocker, 'not a folder')
    unusable = path.join(blocker, 'gallery')
    await setGalleryFolder(unusable)

    await page
      .getByRole('radiogroup', { name: 'Steps' })
      .getByRole('radio', { name: '1 step', exact: true })
      .check()
    await generate(500, 2)

    const result = page.getByTestId('result')
    const images = result.getByTestId('result-image')
    expect(await images.count()).toBe(2)
    for (const img of await images.all()) expect(await img.isVisible()).toBe(true)

    const notice = page.getByRole('status', { name: 'These images were not saved to the gallery' })
    await notice.waitFor()
    expect(await notice.getAttribute('data-testid')).toBe('gallery-error')
    // Main's reason, as a sentence: the folder and what the system said about it.
    const reason = (await notice.getByTestId('gallery-error-reason').textContent()) ?? ''
    expect(reason).toMatch(/^The gallery folder .* cannot be used: ENOTDIR/)
    expect(reason).toContain(unusable)
    expect(await notice.textContent()).toMatch(/still shown here: use Save as… under an image to keep one/)
    // The notice sits in the result view, above the images, and passes axe's checks there.
    expect(await result.getByTestId('gallery-error').count()).toBe(1)
    const findings = await axeViolations(page, '[data-testid="result"]')
    expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])

    // Nothing of this job reached the gallery, which says it cannot be read there.
    const listed = (await callFromPage(page, 'gallery.list', {})) as unknown as {
      ok: boolean
      error?: { code: string; message: string }
    }
    expect(listed.ok).toBe(false)
    expect(listed.error?.code).toBe('unavailable')
    expect(listed.error?.message).toContain(unusable)
  })

  it('downloads an unsaved image through its Save as link', async () => {
    const link = page.locator('[data-testid="result-save"][data-seed="501"]')
    expect(await link.getAttribute('download')).toBe('emoji32-1step-501.png')
    expect(await link.getAttribute('href')).toMatch(/^blob:/)
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
    expect(download.suggestedFilename()).toBe('emoji32-1step-501.png')
    const file = await download.path()
    const png = decodePngRgb(new Uint8Array(fs.readFileSync(file)))
    expect([png.width, png.height]).toEqual([32, 32])
  })

  it('saves again once the folder is set back, and the notice goes', async () => {
    await setGalleryFolder(galleryDir)
    await generate(600, 1)
    await page.getByTestId('gallery-error').waitFor({ state: 'detached' })

    saved += 1
    await waitForGalleryCount(page, saved)
    const items = await galleryItems()
    expect(items).toHaveLength(saved)
    expect(items.filter((item) => item.seed === 600).map((item) => item.mode)).toEqual(['1step'])
    // The images made while the folder was unusable are not in the gallery.
    expect(items.filter((item) => item.seed === 500 || item.seed === 501)).toEqual([])
  })

  it('logged no console errors or CSP violations', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
