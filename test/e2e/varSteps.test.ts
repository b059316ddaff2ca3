/**
 * The Steps toggle with a VAR pack in the served app, in real Chromium, against the real engine: the model card
 * and the options speak of scales, Hybrid offers the pack's published schedules (3, 4, 6 steps), choosing one
 * sets the Advanced range and the step count, a hybrid image comes out of it, and the Advanced fields are
 * bounded by the 10 scales. The pack is the converter's VAR test pack, copied into the user's models folder.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureTestPack, testPackDir } from '../support/convertedPacks.ts'

const VAR_PACK_DIR = testPackDir('var')

import { openServedPage, type ServedPage, waitForIdle } from './pageHelpers.ts'

let app: ServedPage | null = null
let page: Page

beforeAll(async () => {
  ensureTestPack('var')
  app = await openServedPage({
    beforeLoad: (s) => {
      fs.cpSync(VAR_PACK_DIR, path.join(s.dataDir, 'models', 'var-test'), { recursive: true })
    },
  })
  page = app.page
  const select = page.getByTestId('pack-select')
  await select.locator('option[value="var-test"]').waitFor({ state: 'attached' })
  await select.selectOption('var-test')
}, 10 * 60_000)

afterAll(async () => {
  await app?.close()
})

/** The hint under the Steps options: the chosen mode's trade-off and its model steps per run. */
function stepsHint() {
  return page.getByRole('radiogroup', { name: 'Steps' }).locator('p').last()
}

async function openAdvanced(): Promise<void> {
  const advanced = page.getByTestId('advanced')
  if (!(await advanced.evaluate((d: HTMLDetailsElement) => d.open)))
    await page.getByText('Advanced', { exact: true }).click()
}

describe('the Steps toggle with a VAR pack', () => {
  it('the card and the options count scales: 680 tokens in 10 scales, Original AR takes 10', async () => {
    const card = page.getByTestId('model-card')
    await card.getByText('VAR-DD test pack', { exact: false }).first().waitFor()
    expect(await card.getByTestId('model-resolution').textContent()).toBe(
      '256×256 px, 680 tokens in 10 scales',
    )
    const steps = page.getByRole('radiogroup', { name: 'Steps' })
    for (const name of ['1 step', '2 steps', 'Hybrid', 'Original AR'])
      await steps.getByRole('radio', { name, exact: true }).waitFor()
    expect(await page.locator('label[for="mode-ar"]').textContent()).toContain('10 scales')
    await page.getByTestId('mode-ar').check()
    expect(await stepsHint().textContent()).toMatch(
      /one scale at a time.*10 model steps per run \(10 scales\)/,
    )
    await page.getByTestId('mode-1step').check()
    expect(await stepsHint().textContent()).toContain('1 model step per run')
    // No hybrid schedules unless Hybrid runs.
    expect(await page.getByTestId('hybrid-presets').count()).toBe(0)
  })

  it("Hybrid offers the published 3, 4 and 6 steps, starting from the pack's default (4)", async () => {
    await page.getByTestId('mode-hybrid').check()
    const presets = page.getByRole('radiogroup', { name: 'Hybrid schedule' })
    await presets.waitFor()
    expect(await presets.getByRole('radio').count()).toBe(3)
    for (const steps of [3, 4, 6]) await page.getByTestId(`hybrid-preset-${steps}`).waitFor()
    expect(await page.getByTestId('hybrid-preset-4').isChecked()).toBe(true)
    expect(await stepsHint().textContent()).toContain('4 model steps per run')
    expect(await page.getByTestId('hybrid-presets-hint').textContent()).toBe(
      'Distilled draft, the original model for 2 scales (from scale 3), then distilled for the rest.',
    )
  })

  it('choosing 6 steps sets the Advanced range and split_t; a range of your own unchecks the schedules', async () => {
    await page.getByTestId('hybrid-preset-6').check()
    expect(await stepsHint().textContent()).toContain('6 model steps per run')
    await openAdvanced()
    expect(await page.getByTestId('field-hybridStart').inputValue()).toBe('0')
    expect(await page.getByTestId('field-hybridEnd').inputValue()).toBe('5')
    expect(await page.getByTestId('field-hybridSplitT').inputValue()).toBe('9')
    expect(await page.getByLabel('Original from scale').inputValue()).toBe('0')

    await page.getByTestId('field-hybridEnd').fill('10')
    expect(await page.getByTestId('hybrid-preset-6').isChecked()).toBe(false)
    // The original model to the last scale: no distilled pass after it, 10 passes in all.
    expect(await stepsHint().textContent()).toContain('10 model steps per run')
    expect(await page.getByTestId('hybrid-presets-hint').textContent()).toMatch(/^Your own range/)
    await page.getByTestId('field-hybridEnd').fill('11')
    await page.getByText('A whole number from 1 to 10.').waitFor()
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    await page.getByTestId('hybrid-preset-3').check()
    expect(await page.getByTestId('field-hybridEnd').inputValue()).toBe('5')
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(false)
  })

  it('generates a hybrid image with the 3-step schedule, and its time is shown on that schedule', async () => {
    await page.getByTestId('seed-input').fill('21')
    await page.getByTestId('count-input').fill('1')
    await page.getByTestId('generate-button').click()
    const image = page.locator('[data-testid="result-image"][data-mode="hybrid"][data-seed="21"]')
    await image.waitFor({ timeout: 120_000 })
    await waitForIdle(page)
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="result-image"]') as HTMLImageElement | null
      return img?.complete && img.naturalWidth > 0
    })
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(256)
    const speed = page
      .getByTestId('hybrid-preset-3')
      .locator('xpath=ancestor::label')
      .getByTestId('hybrid-preset-speed')
    await page.waitForFunction(
      () =>
        !/not measured/.test(
          document.querySelectorAll('[data-testid="hybrid-preset-speed"]')[0]?.textContent ?? '',
        ),
    )
    expect(await speed.textContent()).toMatch(/^[\d.]+ (ms|s)$/)
    expect(await page.getByTestId('model-card').locator('[data-mode="hybrid"] dt').textContent()).toBe(
      'Hybrid (3 steps)',
    )
    expect(app?.consoleProblems).toEqual([])
  })
})
