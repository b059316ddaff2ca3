/**
 * The Generate panel and the result view in the served app, in real Chromium, against the real engine and the
 * default pack: the model card, the Steps options with this machine's measured speeds, one image in 1 step,
 * promoting it to the exact teacher on the same noise, a compare job laid out by mode with its heat-map
 * overlay, cancelling a running job, the server's invalid_input next to the form, the UI's own validation, and
 * a host crash in the middle of a job.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ModeSpeed, PackSummary } from '../../common/generation.ts'
import { callFromPage } from '../support/servedApp.ts'
import { openServedPage, pixelsOf, type ServedPage, waitForIdle } from './pageHelpers.ts'

let app: ServedPage
let page: Page

beforeAll(async () => {
  app = await openServedPage({
    // Refused and cancelled calls are part of the test.
    allowFailedCalls: true,
    beforeLoad: (s) => {
      // A user pack that cannot be used: listed, but not selectable.
      const broken = path.join(s.dataDir, 'models', 'half-copied')
      fs.mkdirSync(broken, { recursive: true })
      fs.writeFileSync(path.join(broken, 'manifest.json'), '{"format": "dd-studio-pack"')
    },
  })
  page = app.page
})

afterAll(async () => {
  await app?.close()
})

async function setMode(mode: string): Promise<void> {
  await page.getByTestId(`mode-${mode}`).check()
}

async function setNumber(testId: string, value: number): Promise<void> {
  await page.getByTestId(testId).fill(String(value))
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

/** The speed shown under a Steps option. */
function optionSpeed(mode: string) {
  return page.locator(`[data-testid="mode-speed"][data-mode="${mode}"]`)
}

async function measuredSpeeds(): Promise<ModeSpeed[]> {
  const answer = await call('packs.speeds', { packId: 'emoji32' })
  return answer.value as unknown as ModeSpeed[]
}

describe('generating images in the served app', () => {
  it('offers the ready packs, and lists a broken one disabled with its problem', async () => {
    const packSelect = page.getByTestId('pack-select')
    await packSelect.locator('option[value="emoji32"]:not([disabled])').waitFor({ state: 'attached' })
    expect(await packSelect.inputValue()).toBe('emoji32')
    const broken = packSelect.locator('option[disabled]')
    await broken.waitFor({ state: 'attached' })
    expect(await broken.count()).toBe(1)
    expect(await broken.textContent()).toMatch(/half-copied/)
    expect(await broken.getAttribute('title')).toMatch(/manifest\.json/)
    await page.getByText(/half-copied.*can’t be used: .*manifest\.json/).waitFor()
  })

  it("shows the pack's model card: description, licences, classes, resolution and speeds", async () => {
    const packs = (await call('packs.list', {})).value as unknown as PackSummary[]
    const pack = packs.find((p) => p.id === 'emoji32') as PackSummary
    expect(pack.licenses.length).toBeGreaterThan(0)

    const card = page.getByRole('region', { name: /Emoji 32/ })
    await card.waitFor()
    expect(await card.getAttribute('data-testid')).toBe('model-card')
    expect(await card.getByTestId('model-description').textContent()).toBe(pack.description)
    expect(await card.getByTestId('model-resolution').textContent()).toBe('32×32 px, 64 tokens')
    expect(await card.getByTestId('model-classes').textContent()).toBe(String(pack.classes.length))
    const licences = [...new Set(pack.licenses.map((l) => l.license))]
    expect(licences).toEqual(expect.arrayContaining(['MIT', 'Apache-2.0', 'CC-BY-4.0']))
    expect(await card.getByTestId('model-licenses').textContent()).toBe(licences.join(', '))
    await card.getByText('Training data credits').click()
    await card
      .getByText(/Twemoji by Twitter, Inc and other contributors, CC-BY 4\.0 \(CC-BY-4\.0\)/)
      .waitFor()
    // Nothing has run on this fresh data folder yet, and there is no benchmark result in it.
    const speeds = await card.getByTestId('model-speeds').locator('dd').allTextContents()
    expect(speeds).toEqual(Array(5).fill('not measured yet'))
    // The select points at the card's summary.
    expect(await page.getByTestId('pack-select').getAttribute('aria-describedby')).toContain(
      'model-card-summary',
    )
  })

  it('offers the modes as a radio group named Steps, each not measured yet', async () => {
    const steps = page.getByRole('radiogroup', { name: 'Steps' })
    await steps.waitFor()
    const names = ['1 step', '2 steps', 'Custom steps', 'Hybrid', 'Original AR', 'Exact teacher', 'Compare']
    for (const name of names) await steps.getByRole('radio', { name, exact: true }).waitFor()
    expect(await steps.getByRole('radio').count()).toBe(names.length)
    expect(await steps.getByRole('radio', { name: '1 step', exact: true }).isChecked()).toBe(true)
    for (const mode of ['1step', '2step', 'hybrid', 'ar', 'exact'])
      expect(await optionSpeed(mode).textContent()).toBe('not measured yet')
    // Each option is described by its speed and its trade-off.
    expect(await page.getByTestId('mode-2step').getAttribute('aria-describedby')).toBe(
      'mode-2step-speed mode-2step-tradeoff',
    )
    // Arrow keys move the choice, as in any radio group.
    await steps.getByRole('radio', { name: '1 step', exact: true }).focus()
    await page.keyboard.press('ArrowRight')
    expect(await steps.getByRole('radio', { name: '2 steps', exact: true }).isChecked()).toBe(true)
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
    await waitForIdle(page)
    // Unlocked, the seed moves on for the next run.
    expect(await page.getByTestId('seed-input').inputValue()).not.toBe('42')
  })

  it("shows this machine's measured time for 1 step once a job finished, in the Steps and the card", async () => {
    const speeds = await measuredSpeeds()
    expect(speeds.map((s) => [s.mode, s.source, s.samples])).toEqual([['1step', 'jobs', 1]])
    // Without a pack id, the default pack's.
    expect((await call('packs.speeds', {})).value).toEqual(speeds)
    const text = optionSpeed('1step')
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="mode-speed"][data-mode="1step"]')
          ?.getAttribute('data-measured') === 'true',
    )
    expect(await text.textContent()).toMatch(/^[\d.]+ (ms|s) per image on this machine$/)
    expect(await text.evaluate((el) => el.firstChild?.textContent)).toMatch(/^[\d.]+ (ms|s)$/)
    const card = page.getByTestId('model-card')
    expect(await card.locator('[data-mode="1step"] dd').textContent()).toMatch(/^[\d.]+ (ms|s)$/)
    // Modes that have not run yet still say so.
    expect(await optionSpeed('exact').textContent()).toBe('not measured yet')
    expect(await card.locator('[data-mode="exact"] dd').textContent()).toBe('not measured yet')
  })

  it('promotes the 1-step image to the exact teacher: same seed and class, same noise, a new image', async () => {
    const draftJob = await resultJobId()
    const className = await page.getByTestId('result').locator('h3').textContent()
    await page.getByRole('button', { name: 'Promote' }).click()
    const choices = page.getByRole('group', { name: 'Promote seed 42 to' })
    await choices.waitFor()
    expect(await choices.getByRole('button').allTextContents()).toEqual([
      expect.stringMatching(/^2 steps/),
      expect.stringMatching(/^Hybrid/),
      expect.stringMatching(/^Exact teacher/),
    ])
    await choices.getByRole('button', { name: /^Exact teacher/ }).click()

    await page.getByTestId('promoted').waitFor({ timeout: 60_000 })
    await waitForIdle(page)
    const draft = page.getByTestId('draft-image')
    const promoted = page.getByTestId('promoted').getByTestId('result-image')
    expect(await draft.getAttribute('data-mode')).toBe('1step')
    expect(await draft.getAttribute('data-seed')).toBe('42')
    expect(await promoted.getAttribute('data-mode')).toBe('exact')
    expect(await promoted.getAttribute('data-seed')).toBe('42')
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('[data-testid="promoted"] img')].every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    )
    const before = await pixelsOf(page, '[data-testid="draft-image"]')
    const after = await pixelsOf(page, '[data-testid="promoted"] [data-testid="result-image"]')
    expect(after).toHaveLength(32 * 32 * 4)
    expect(after).not.toEqual(before)

    // The job itself: a new one, with the draft's seed and class, in the new mode.
    const jobId = await resultJobId()
    expect(jobId).not.toBe(draftJob)
    const jobs = (await call('jobs.list', {})).value as unknown as { jobId: string; [k: string]: unknown }[]
    const job = jobs.find((j) => j.jobId === jobId)
    expect(job).toMatchObject({ state: 'done', mode: 'exact', seed: 42, n: 1, className })
    await page
      .getByTestId('result')
      .getByText(/promoted from a 1-step draft/)
      .waitFor()

    // The finished job taught the exact teacher's speed, and the Steps show it without a reload.
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="mode-speed"][data-mode="exact"]')
          ?.getAttribute('data-measured') === 'true',
    )
    expect((await measuredSpeeds()).map((s) => s.mode)).toEqual(['1step', 'exact'])
  })

  it('lays a compare job out as one column per mode and one row per seed', async () => {
    await setMode('compare')
    const picker = page.getByRole('group', { name: 'Modes to compare' })
    const checked = await picker
      .getByRole('checkbox')
      .evaluateAll((boxes) => boxes.filter((b) => (b as HTMLInputElement).checked).map((b) => b.id))
    expect(checked).toEqual(['compare-mode-1step', 'compare-mode-2step', 'compare-mode-exact'])
    await setNumber('seed-input', 7)
    await setNumber('count-input', 2)
    await page.getByTestId('seed-lock').click()
    expect(await page.getByTestId('seed-lock').getAttribute('aria-pressed')).toBe('true')
    // Ctrl+Enter generates too.
    await page.keyboard.press('Control+Enter')

    const table = page.getByTestId('compare-table')
    await table.waitFor({ timeout: 60_000 })
    await waitForIdle(page)
    const columns = await table
      .getByTestId('compare-column')
      .evaluateAll((ths) => ths.map((th) => th.getAttribute('data-mode')))
    // The UI's default: the two fast modes against the exact teacher, which runs first.
    expect(columns).toEqual(['exact', '1step', '2step'])

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
    // Each column shows its latency too.
    expect(await table.getByTestId('compare-column').getByTestId('timings').count()).toBe(columns.length)

    // The heat-map overlay: each image of a fast mode with its own differing tokens drawn over it.
    expect(await table.getByTestId('heatmap-overlay').count()).toBe(0)
    await page.getByLabel('Show where each image differs from the exact teacher').check()
    const overlays = table.getByTestId('heatmap-overlay')
    expect(await overlays.count()).toBe((columns.length - 1) * 2)
    expect(await overlays.first().locator('div').count()).toBe(64)
    const box = await overlays.first().boundingBox()
    const imageBox = await table
      .locator('[data-testid="result-image"][data-mode="1step"]')
      .first()
      .boundingBox()
    expect(box?.width).toBeCloseTo(imageBox?.width ?? 0, 0)
    await page.getByLabel('Show where each image differs from the exact teacher').uncheck()

    // Every mode it ran is measured now: Compare shows their sum.
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="mode-speed"][data-mode="compare"]')
          ?.getAttribute('data-measured') === 'true',
    )

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
    await waitForIdle(page)
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
    await waitForIdle(page)
  })

  it("shows the server's invalid_input next to the form, on the field it names", async () => {
    const advanced = page.getByText('Advanced', { exact: true })
    if (!(await page.getByTestId('advanced').evaluate((d: HTMLDetailsElement) => d.open)))
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

    // t2 of '2 steps' (in Advanced), and the modes of a compare job.
    if (!(await page.getByTestId('advanced').evaluate((d: HTMLDetailsElement) => d.open)))
      await page.getByText('Advanced', { exact: true }).click()
    await setMode('2step')
    const t2 = page.getByTestId('field-t2')
    await t2.fill('0')
    await page.getByText('A whole number from 1 to 63: where the second step starts.').waitFor()
    expect(await t2.getAttribute('aria-invalid')).toBe('true')
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    await t2.fill('16')
    await setMode('compare')
    await page.getByTestId('compare-mode-2step').uncheck()
    await page.getByTestId('compare-mode-exact').uncheck()
    await page.getByText('Pick at least two modes to compare.').waitFor()
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    await page.getByTestId('compare-mode-2step').check()
    await page.getByTestId('compare-mode-exact').check()
    await setMode('2step')
    await page.getByTestId('generate-button').click()
    await page.locator('[data-testid="result-image"][data-mode="2step"]').waitFor({ timeout: 60_000 })
    await waitForIdle(page)

    await setMode('custom')
    const tList = page.getByTestId('field-tList')
    await tList.fill('0, 40, 20')
    await page.getByText('Each step must be larger than the one before.').waitFor()
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    await tList.fill('0, 16, 32, 48')
    expect(await page.getByTestId('generate-button').isEnabled()).toBe(true)
    await page.getByTestId('generate-button').click()
    await page.locator('[data-testid="result-image"][data-mode="custom"]').waitFor({ timeout: 60_000 })
    await waitForIdle(page)
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
    await waitForIdle(page)
    await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })

    await setMode('1step')
    await setNumber('seed-input', 99)
    await setNumber('count-input', 1)
    await page.getByTestId('generate-button').click()
    await page.locator('[data-testid="result-image"][data-seed="99"]').waitFor({ timeout: 60_000 })
    await notice.waitFor({ state: 'detached' })
  })

  it('logged no console errors or CSP violations', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
