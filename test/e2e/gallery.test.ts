/**
 * The gallery in the served app, in real Chromium, against the real engine: a generated image shows in the
 * result view and in the gallery, search and filters, the keyboard in the grid, the lightbox (metadata,
 * moving, favorite, rating, save, copy), delete with undo, "Use these settings" remaking the identical image,
 * dropped PNGs (ours, AUTOMATIC1111's, damaged, without settings), and the gallery surviving a restart of the
 * server on the same data folder.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GalleryItem, GalleryPage } from '../../common/gallery.ts'
import { settingsFromMetadata } from '../../common/parameters.ts'
import { decodePngRgb, encodePng } from '../../main/engine/output/png.ts'
import { filesIn } from '../support/gallery.ts'
import { callFromPage, type ServedApp } from '../support/servedApp.ts'
import { REPO_ROOT } from '../support/testApp.ts'
import {
  dropFile,
  focusedCellIndex,
  openServedPage,
  pixelsOf,
  type ServedPage,
  waitForGalleryCount,
  waitForIdle,
} from './pageHelpers.ts'

const ARTIFACTS = path.join(REPO_ROOT, 'test-results')

let app: ServedPage
let served: ServedApp
let page: Page

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  app = await openServedPage({
    context: { permissions: ['clipboard-read', 'clipboard-write'] },
    // Refused calls are part of the test.
    allowFailedCalls: true,
  })
  ;({ served, page } = app)
})

afterAll(async () => {
  await app?.close()
})

function call(name: string, input: object): Promise<{ ok: boolean; value: Record<string, unknown> }> {
  return callFromPage(page, name, input)
}

async function list(query: object = {}): Promise<GalleryPage> {
  return (await call('gallery.list', query)).value as unknown as GalleryPage
}

function gallery() {
  return page.getByRole('region', { name: 'Gallery' })
}

function cellNamed(name: string) {
  return gallery().getByRole('gridcell').getByRole('button', { name, exact: true })
}

/** The names of the cells in the DOM, in order. */
async function cellNames(): Promise<string[]> {
  return gallery()
    .getByTestId('gallery-cell')
    .evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label') ?? ''))
}

async function generateVia(request: object): Promise<void> {
  const submitted = await call('jobs.submit', request)
  expect(submitted.ok).toBe(true)
  const done = await call('jobs.wait', { jobId: submitted.value.jobId })
  expect(done.ok).toBe(true)
}

function localDate(offsetDays: number): string {
  const d = new Date()
  d.setDate(d.getDate() + offsetDays)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

let firstClass = ''
let classB = { index: 0, name: '' }

describe('the gallery in the served app', () => {
  it('starts empty, then shows a generated 1-step image in the result view and in the gallery', async () => {
    await gallery()
      .getByTestId('gallery-empty')
      .getByText(/No images yet/)
      .waitFor()
    await page.getByLabel('Search classes').fill('animals')
    const classSelect = page.getByTestId('class-select')
    await classSelect.selectOption({ index: 1 })
    firstClass = (await classSelect.locator('option:checked').textContent())?.trim() ?? ''
    await page.getByTestId('mode-1step').check()
    await page.getByTestId('seed-input').fill('42')
    await page.getByTestId('count-input').fill('1')
    await page.getByTestId('generate-button').click()

    await page.locator('[data-testid="result-image"][data-seed="42"]').waitFor({ timeout: 60_000 })
    await waitForIdle(page)
    await waitForGalleryCount(page, 1)
    const cell = cellNamed(`${firstClass}, 1 step, seed 42`)
    await cell.waitFor()
    // The cached thumbnail: 128 px for a 32 px image (whole-pixel enlargement), shown with square pixels.
    const thumb = cell.locator('img')
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="gallery-cell"] img') as HTMLImageElement | null
      return img?.complete === true && img.naturalWidth > 0
    })
    expect(await thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(128)
    expect(await thumb.getAttribute('src')).toMatch(/^\/gallery-thumb\//)
    expect(await thumb.evaluate((img) => getComputedStyle(img).imageRendering)).toBe('pixelated')

    // The saved file holds exactly the pixels of the result.
    const [item] = (await list()).items as GalleryItem[]
    expect(item).toMatchObject({ seed: 42, mode: '1step', className: firstClass, packId: 'emoji32' })
    expect(await cell.getAttribute('data-id')).toBe(item?.id)
    const fromResult = await pixelsOf(page, '[data-testid="result-image"][data-seed="42"]')
    const onDisk = decodePngRgb(fs.readFileSync(path.join(served.dataDir, 'gallery', item?.id ?? '')))
    expect(fromResult.filter((_, i) => i % 4 !== 3)).toEqual(Array.from(onDisk.rgb))
  })

  it('lists new images newest first as jobs finish, without a reload', async () => {
    const packs = (await call('packs.list', {})).value as unknown as {
      id: string
      classes: { index: number; name: string }[]
    }[]
    const classes = packs.find((p) => p.id === 'emoji32')?.classes ?? []
    classB = classes.find((c) => c.name !== firstClass && !c.name.includes('Animals')) as typeof classB
    await generateVia({ mode: '2step', class: firstClass, seed: 100, n: 2 })
    await generateVia({ mode: '1step', class: classB.index, seed: 200, n: 1 })
    await waitForGalleryCount(page, 4)
    await cellNamed(`${classB.name}, 1 step, seed 200`).waitFor()
    const names = await cellNames()
    expect(names).toEqual([
      `${classB.name}, 1 step, seed 200`,
      `${firstClass}, 2 steps, seed 101`,
      `${firstClass}, 2 steps, seed 100`,
      `${firstClass}, 1 step, seed 42`,
    ])
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('[data-testid="gallery-cell"] img')].every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    )
    await gallery().screenshot({ path: path.join(ARTIFACTS, 'gallery.png') })
  })

  it('searches and filters by pack, class, mode, favorites and dates', async () => {
    const g = gallery()
    const search = g.getByLabel('Search', { exact: true })
    await search.fill('100')
    await waitForGalleryCount(page, 1)
    expect(await cellNames()).toEqual([`${firstClass}, 2 steps, seed 100`])
    await search.fill('2step')
    await waitForGalleryCount(page, 2)
    // Every word must match: the other class shares '/' but not the rest.
    await search.fill(classB.name)
    await waitForGalleryCount(page, 1)
    await g.getByRole('button', { name: 'Clear search and filters' }).click()
    await waitForGalleryCount(page, 4)
    expect(await search.inputValue()).toBe('')

    await g.getByLabel('Mode', { exact: true }).selectOption('2step')
    await waitForGalleryCount(page, 2)
    await g.getByLabel('Mode', { exact: true }).selectOption('')
    await g.getByLabel('Class', { exact: true }).selectOption(String(classB.index))
    await waitForGalleryCount(page, 1)
    expect(await cellNames()).toEqual([`${classB.name}, 1 step, seed 200`])
    await g.getByLabel('Class', { exact: true }).selectOption('')
    await g.getByLabel('Pack', { exact: true }).selectOption('emoji32')
    await waitForGalleryCount(page, 4)
    await g.getByLabel('Pack', { exact: true }).selectOption('')

    await g.getByLabel('From', { exact: true }).fill(localDate(1))
    await waitForGalleryCount(page, 0)
    await g.getByText('No image matches the search and filters.').waitFor()
    await g.getByLabel('From', { exact: true }).fill(localDate(0))
    await g.getByLabel('To', { exact: true }).fill(localDate(0))
    await waitForGalleryCount(page, 4)
    await g.getByLabel('To', { exact: true }).fill(localDate(-1))
    await waitForGalleryCount(page, 0)
    await g.getByLabel('From', { exact: true }).fill('')
    await g.getByLabel('To', { exact: true }).fill('')
    await waitForGalleryCount(page, 4)

    await g.getByLabel('Favorites only').check()
    await waitForGalleryCount(page, 0)
    await g.getByLabel('Favorites only').uncheck()
    await waitForGalleryCount(page, 4)
  })

  it('moves the selection with the arrow keys, and marks with F and 0-5', async () => {
    const grid = gallery().getByRole('grid', { name: 'Images' })
    const columns = Number(await grid.getAttribute('aria-colcount'))
    expect(columns).toBeGreaterThanOrEqual(3)
    expect(await grid.getAttribute('aria-rowcount')).toBe(String(Math.ceil(4 / columns)))
    // One tab stop: the selected cell.
    expect(await grid.locator('button[tabindex="0"]').count()).toBe(1)
    await grid.locator('button[data-index="0"]').focus()
    await page.keyboard.press('ArrowRight')
    expect(await focusedCellIndex(page)).toBe(1)
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('ArrowLeft')
    expect(await focusedCellIndex(page)).toBe(1)
    await page.keyboard.press('End')
    expect(await focusedCellIndex(page)).toBe(3)
    await page.keyboard.press('Home')
    expect(await focusedCellIndex(page)).toBe(0)
    await page.keyboard.press('ArrowDown') // a single row: the last image is as far down as it goes
    expect(await focusedCellIndex(page)).toBe(Math.min(3, columns))
    await page.keyboard.press('Home')
    expect(
      await grid.locator('[role="gridcell"][aria-selected="true"] button').getAttribute('data-index'),
    ).toBe('0')

    // F marks the selected image as a favorite, and again unmarks it.
    const first = `${classB.name}, 1 step, seed 200`
    await page.keyboard.press('f')
    await cellNamed(`${first}, favorite`).waitFor()
    expect((await list()).items[0]?.favorite).toBe(true)
    await page.keyboard.press('f')
    await cellNamed(first).waitFor()
    expect((await list()).items[0]?.favorite).toBe(false)
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('f')
    await page.keyboard.press('4')
    await cellNamed(`${firstClass}, 2 steps, seed 101, favorite, rated 4 of 5`).waitFor()
    expect(await focusedCellIndex(page)).toBe(1)

    await gallery().getByLabel('Favorites only').check()
    await waitForGalleryCount(page, 1)
    await gallery().getByLabel('Favorites only').uncheck()
    await waitForGalleryCount(page, 4)
  })

  it('opens the lightbox with Enter: large, pixelated, with the metadata and the A1111 text', async () => {
    await gallery().locator('button[data-index="2"]').focus()
    await page.keyboard.press('Enter')
    await page.getByRole('dialog', { name: `${firstClass}, seed 100` }).waitFor()
    const lightbox = page.getByTestId('lightbox')
    expect(await lightbox.evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    await lightbox.getByText('Image 3 of 4', { exact: false }).waitFor()
    const image = lightbox.getByTestId('lightbox-image')
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="lightbox-image"]') as HTMLImageElement | null
      return img?.complete === true && img.naturalWidth > 0
    })
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(32)
    expect(await image.evaluate((img) => getComputedStyle(img).imageRendering)).toBe('pixelated')
    expect((await image.boundingBox())?.width).toBeGreaterThanOrEqual(256)

    const item = (await list({ text: '100' })).items[0] as GalleryItem
    const meta = JSON.parse(item.metadata ?? '{}')
    const details = lightbox.getByTestId('lightbox-details')
    const row = async (id: string) => (await details.getByTestId(id).locator('dd').textContent()) ?? ''
    expect(await row('meta-pack')).toMatch(/^emoji32 /)
    expect(await row('meta-mode')).toBe('2 steps (2step)')
    expect(await row('meta-class')).toBe(`${firstClass} #${meta.class.index}`)
    expect(await row('meta-seed')).toMatch(/^100/)
    expect(await row('meta-tlist')).toBe(meta.tList.join(', '))
    expect(await row('meta-split')).toBe(String(meta.splitT))
    expect(await row('meta-hybrid')).toBe(
      `${meta.hybrid.start}–${meta.hybrid.end} · split_t ${meta.hybrid.splitT}`,
    )
    expect(await row('meta-teacher')).toBe(
      `CFG ${meta.teacher.cfgScale} · temperature ${meta.teacher.temperature} · top-k ${meta.teacher.topK} · top-p ${meta.teacher.topP}`,
    )
    expect(await row('meta-providers')).toMatch(/generator: cpu/)
    expect(await row('meta-timings')).toMatch(/^token [\d.]+ m?s · decode [\d.]+ m?s · total [\d.]+ m?s$/)
    expect(await row('meta-file')).toContain(path.join(served.dataDir, 'gallery'))
    // Reveal in folder needs the desktop app: not offered, and the lightbox says why.
    expect(await lightbox.getByRole('button', { name: 'Reveal in folder' }).count()).toBe(0)
    expect(await row('meta-file')).toMatch(/desktop app only/)
    expect(await lightbox.getByTestId('parameters-text').textContent()).toBe(item.parameters)
    expect(item.parameters).toMatch(/Sampler: DD 2-step, CFG scale: [\d.]+, Seed: 100,/)
    await lightbox.screenshot({ path: path.join(ARTIFACTS, 'lightbox.png') })

    // Arrows move through the current view; the title follows.
    await page.keyboard.press('ArrowRight')
    await page.getByRole('dialog', { name: `${firstClass}, seed 42` }).waitFor()
    await lightbox.getByText('Image 4 of 4', { exact: false }).waitFor()
    expect(await lightbox.getByRole('button', { name: 'Next image' }).isDisabled()).toBe(true)
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowLeft')
    await page.getByRole('dialog', { name: `${firstClass}, seed 101` }).waitFor()
  })

  it('marks favorite (F) and rating (0-5) in the lightbox, saves and copies the image', async () => {
    const lightbox = page.getByTestId('lightbox')
    const favorite = lightbox.getByTestId('lightbox-favorite')
    expect(await favorite.getAttribute('aria-pressed')).toBe('true')
    await page.keyboard.press('f')
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="lightbox-favorite"]')?.getAttribute('aria-pressed') === 'false',
    )
    await favorite.click()
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="lightbox-favorite"]')?.getAttribute('aria-pressed') === 'true',
    )
    const rating = lightbox.getByRole('group', { name: 'Rating' })
    expect(await rating.getByRole('radio', { name: '4 stars' }).isChecked()).toBe(true)
    await rating.getByText('★').nth(1).click() // the second star
    await page.waitForFunction(
      () =>
        (document.querySelector('input[aria-label="2 stars"]') as HTMLInputElement | null)?.checked === true,
    )
    await lightbox.getByRole('button', { name: 'Delete' }).focus()
    await page.keyboard.press('5')
    await page.waitForFunction(
      () =>
        (document.querySelector('input[aria-label="5 stars"]') as HTMLInputElement | null)?.checked === true,
    )
    const marked = (await list({ text: '101' })).items[0] as GalleryItem
    expect(marked).toMatchObject({ favorite: true, rating: 5 })

    // Save as: a download link to the file itself.
    const save = lightbox.getByTestId('lightbox-save')
    expect(await save.getAttribute('download')).toBe(path.basename(marked.id))
    const href = (await save.getAttribute('href')) ?? ''
    const bytes = await page.evaluate(
      async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer())),
      href,
    )
    expect(Buffer.from(bytes).equals(fs.readFileSync(path.join(served.dataDir, 'gallery', marked.id)))).toBe(
      true,
    )

    // Copy: a PNG on the clipboard where the browser allows it, else a message that says why.
    await lightbox.getByRole('button', { name: 'Copy image' }).click()
    const note = lightbox.getByTestId('lightbox-note')
    await note.waitFor()
    const said = (await note.textContent()) ?? ''
    if (said.startsWith('Copied')) {
      const types = await page.evaluate(async () =>
        (await navigator.clipboard.read()).flatMap((i) => [...i.types]),
      )
      expect(types).toContain('image/png')
    } else {
      expect(said).toMatch(/^(Copying images is not available here|Could not copy the image: )/)
    }
    console.log(`copy image: ${said}`)

    // Esc closes it; the focus goes back to the grid, on the image last shown.
    await page.keyboard.press('Escape')
    await lightbox.waitFor({ state: 'hidden' })
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-index') === '1')
  })

  it('deletes with the Delete key and brings the image back with Undo, in the grid and in the lightbox', async () => {
    const folder = path.join(served.dataDir, 'gallery')
    const before = filesIn(folder)
    const victim = (await list()).items[1] as GalleryItem
    await gallery().locator('button[data-index="1"]').focus()
    await page.keyboard.press('Delete')
    const toast = gallery().getByTestId('gallery-toast')
    await toast.getByText(`Deleted ${victim.className}, seed ${victim.seed}.`).waitFor()
    await waitForGalleryCount(page, 3)
    expect(filesIn(folder)).toEqual(before.filter((f) => f !== victim.id))
    // The selection stays in place, on the image that moved up.
    expect(await focusedCellIndex(page)).toBe(1)
    await toast.getByRole('button', { name: 'Undo' }).click()
    await waitForGalleryCount(page, 4)
    await toast.getByText(`Restored ${victim.className}, seed ${victim.seed}.`).waitFor()
    expect(filesIn(folder)).toEqual(before)
    // Its marks came back with it.
    expect((await list({ text: String(victim.seed) })).items[0]).toMatchObject({ favorite: true, rating: 5 })

    // In the lightbox: Delete shows the next image, and Undo is offered right there.
    await gallery().locator('button[data-index="0"]').click()
    const lightbox = page.getByTestId('lightbox')
    await lightbox.getByText('Image 1 of 4', { exact: false }).waitFor()
    const shown = (await lightbox.getByTestId('lightbox-image').getAttribute('data-id')) ?? ''
    await page.keyboard.press('Delete')
    await lightbox.getByText('Image 1 of 3', { exact: false }).waitFor()
    await page.waitForFunction(
      (id) => document.querySelector('[data-testid="lightbox-image"]')?.getAttribute('data-id') !== id,
      shown,
    )
    await lightbox.getByTestId('gallery-toast').getByRole('button', { name: 'Undo' }).click()
    await lightbox.getByText('of 4', { exact: false }).waitFor()
    await page.keyboard.press('Escape')
    await lightbox.waitFor({ state: 'hidden' })
    await waitForGalleryCount(page, 4)
    expect(filesIn(folder)).toEqual(before)
    await gallery().getByRole('button', { name: 'Dismiss' }).click()
  })

  it('"Use these settings" restores every setting, and generating again gives the identical image', async () => {
    const advanced = page.getByTestId('advanced')
    if (!(await advanced.evaluate((d: HTMLDetailsElement) => d.open)))
      await page.getByText('Advanced', { exact: true }).click()
    await page.getByLabel('Search classes').fill('')
    await page.getByTestId('class-select').selectOption(String(classB.index))
    await page.getByTestId('mode-hybrid').check()
    const fields = {
      hybridStart: '6',
      hybridEnd: '20',
      temperature: '0.8',
      topK: '40',
      topP: '0.9',
      cfgScale: '3',
    }
    for (const [name, value] of Object.entries(fields)) await page.getByTestId(`field-${name}`).fill(value)
    await page.getByTestId('seed-input').fill('777')
    await page.getByTestId('count-input').fill('1')
    await page.getByTestId('generate-button').click()
    const firstResult = page.locator('[data-testid="result-image"][data-seed="777"][data-mode="hybrid"]')
    await firstResult.waitFor({ timeout: 60_000 })
    await waitForIdle(page)
    const firstJob = await page.getByTestId('result').getAttribute('data-job-id')
    const original = await pixelsOf(page, '[data-testid="result-image"][data-seed="777"]')
    await waitForGalleryCount(page, 5)

    // Everything else changes.
    await page.getByTestId('mode-1step').check()
    await page.getByTestId('seed-input').fill('5')
    await page.getByTestId('class-select').selectOption(String(classB.index === 0 ? 1 : 0))
    await page.getByRole('button', { name: 'Reset to the pack’s defaults' }).click()
    expect(await page.getByTestId('field-hybridStart').inputValue()).not.toBe('6')

    await cellNamed(`${classB.name}, Hybrid, seed 777`).click()
    const lightbox = page.getByRole('dialog', { name: `${classB.name}, seed 777` })
    await lightbox.waitFor()
    await lightbox.getByRole('button', { name: 'Use these settings' }).click()
    await lightbox.waitFor({ state: 'hidden' })
    await page.getByTestId('settings-loaded').getByText(`${classB.name}, seed 777`).waitFor()
    expect(await page.getByTestId('mode-hybrid').isChecked()).toBe(true)
    expect(await page.getByTestId('seed-input').inputValue()).toBe('777')
    expect(await page.getByTestId('class-select').inputValue()).toBe(String(classB.index))
    for (const [name, value] of Object.entries(fields))
      expect(await page.getByTestId(`field-${name}`).inputValue()).toBe(value)

    await page.getByTestId('generate-button').click()
    await page.waitForFunction(
      (job) => document.querySelector('[data-testid="result"]')?.getAttribute('data-job-id') !== job,
      firstJob,
      { timeout: 60_000 },
    )
    await waitForIdle(page)
    expect(
      await page.locator('[data-testid="result-image"][data-seed="777"][data-mode="hybrid"]').count(),
    ).toBe(1)
    expect(await pixelsOf(page, '[data-testid="result-image"][data-seed="777"]')).toEqual(original)

    // Both saved PNGs: the same pixels and the same settings.
    await waitForGalleryCount(page, 6)
    const both = (await list({ text: '777' })).items as GalleryItem[]
    expect(both).toHaveLength(2)
    const [a, b] = both.map((item) =>
      decodePngRgb(fs.readFileSync(path.join(served.dataDir, 'gallery', item.id))),
    )
    expect(Buffer.from(a?.rgb ?? []).equals(Buffer.from(b?.rgb ?? []))).toBe(true)
    expect(settingsFromMetadata(both[0]?.metadata)).toEqual(settingsFromMetadata(both[1]?.metadata))
    expect(settingsFromMetadata(both[0]?.metadata)).toMatchObject({
      mode: 'hybrid',
      seed: 777,
      class: classB.index,
      hybrid: { start: 6, end: 20 },
      teacher: { temperature: 0.8, topK: 40, topP: 0.9, cfgScale: 3 },
    })
  })

  it('reads a dropped AUTOMATIC1111 PNG: prompt, what maps (seed, CFG) and what does not', async () => {
    const parameters =
      'a red fox in the snow, highly detailed\nNegative prompt: blurry, lowres\n' +
      'Steps: 30, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned'
    const png = encodePng(new Uint8Array(8 * 8 * 3).fill(200), 8, 8, undefined, { parameters })
    await page.locator('body').click({ position: { x: 640, y: 20 } })
    await dropFile(page, png, 'fox.png')
    const dialog = page.getByRole('dialog', { name: 'Settings in a dropped image' })
    await dialog.waitFor()
    const body = dialog.getByTestId('drop-a1111')
    await body.waitFor()
    expect(await body.getByTestId('a1111-prompt').locator('dd').textContent()).toBe(
      'a red fox in the snow, highly detailed',
    )
    expect(await body.getByTestId('a1111-mapped').locator('dd').textContent()).toBe(
      'Seed 1234 · CFG scale 6.5',
    )
    expect(await body.getByTestId('a1111-not-applicable').locator('dd').textContent()).toBe(
      'Steps, Sampler, Model hash, Model',
    )
    expect(await body.getByTestId('parameters-text').textContent()).toBe(parameters)
    await body.getByRole('button', { name: 'Use Seed and CFG scale' }).click()
    await dialog.waitFor({ state: 'hidden' })
    await page.getByTestId('settings-loaded').getByText('fox.png').waitFor()
    expect(await page.getByTestId('seed-input').inputValue()).toBe('1234')
    expect(await page.getByTestId('field-cfgScale').inputValue()).toBe('6.5')
    // What the image did not say stays as it was.
    expect(await page.getByTestId('mode-hybrid').isChecked()).toBe(true)
  })

  it('reads a dropped PNG of ours, and offers its exact settings', async () => {
    const item = (await list({ text: '200' })).items[0] as GalleryItem
    const png = fs.readFileSync(path.join(served.dataDir, 'gallery', item.id))
    await dropFile(page, png, path.basename(item.id))
    const dialog = page.getByRole('dialog', { name: 'Settings in a dropped image' })
    const body = dialog.getByTestId('drop-dd-studio')
    await body.waitFor()
    expect(await body.getByTestId('meta-seed').locator('dd').textContent()).toBe('200')
    expect(await body.getByTestId('meta-mode').locator('dd').textContent()).toBe('1 step (1step)')
    await body.getByRole('button', { name: 'Use these settings' }).click()
    await dialog.waitFor({ state: 'hidden' })
    expect(await page.getByTestId('mode-1step').isChecked()).toBe(true)
    expect(await page.getByTestId('seed-input').inputValue()).toBe('200')
    expect(await page.getByTestId('class-select').inputValue()).toBe(String(classB.index))
  })

  it('explains a dropped PNG that is damaged, has no settings, or is not a PNG', async () => {
    const item = (await list({ text: '42' })).items[0] as GalleryItem
    const damaged = Buffer.from(fs.readFileSync(path.join(served.dataDir, 'gallery', item.id)))
    const idat = damaged.indexOf('IDAT')
    damaged[idat + 10] = (damaged[idat + 10] ?? 0) ^ 0xff
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'damaged.png',
        damaged,
        /^This PNG is damaged, so its settings cannot be trusted: chunk IDAT at byte \d+ is corrupt/,
      ],
      ['plain.png', encodePng(new Uint8Array(4 * 4 * 3), 4, 4), /^This PNG carries no generation settings/],
      ['notes.png', new TextEncoder().encode('just some text'), /^This file is not a PNG image\./],
    ]
    const dialog = page.getByRole('dialog', { name: 'Settings in a dropped image' })
    for (const [name, bytes, message] of cases) {
      await dropFile(page, bytes, name)
      await dialog.getByText(name, { exact: true }).waitFor()
      const alert = dialog.getByTestId('drop-none').getByRole('alert')
      await alert.waitFor()
      expect(await alert.textContent()).toMatch(message)
      expect(await dialog.getByRole('button', { name: /^Use / }).count()).toBe(0)
      await page.keyboard.press('Escape')
      await dialog.waitFor({ state: 'hidden' })
    }
  })

  it('lists the gallery keys in the shortcut sheet', async () => {
    await page.getByRole('button', { name: 'Keyboard shortcuts' }).click()
    const sheet = page.getByRole('dialog', { name: 'Keyboard shortcuts' })
    await sheet.waitFor()
    const actions = await sheet.locator('tbody td').allTextContents()
    expect(actions).toEqual(
      expect.arrayContaining([
        'In the gallery: move the selection',
        'In the gallery: open the selected image large',
        'In the open image: previous or next image',
        'In the gallery or the open image: mark or unmark as favorite',
        'In the gallery or the open image: rate (0 clears the rating)',
        'In the gallery or the open image: delete (Undo brings it back)',
      ]),
    )
    await page.keyboard.press('Escape')
    await sheet.waitFor({ state: 'hidden' })
  })

  it('keeps the gallery, its favorites and ratings across a restart of the server', async () => {
    const before = await list()
    await app.restart()
    ;({ served, page } = app)
    await waitForGalleryCount(page, before.total)
    expect((await list()).items.map((i) => i.id)).toEqual(before.items.map((i) => i.id))
    await cellNamed(`${firstClass}, 2 steps, seed 101, favorite, rated 5 of 5`).waitFor()
    await gallery().getByLabel('Favorites only').check()
    await waitForGalleryCount(page, 1)
  })

  it('logged no console errors or CSP violations', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
