/**
 * axe-core on the main screens of the served app, in real Chromium: the Generate screen with a result, the
 * gallery, the lightbox, Settings and the dropped-image dialog, in the dark and the light theme. What axe finds
 * is printed; serious and critical violations fail the test.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodePng } from '../../main/engine/output/png.ts'
import { axeViolations, describeFindings, seriousOrCritical } from './axe.ts'
import { dropFile, hostReady, openServedPage, type ServedPage, waitForGalleryCount } from './pageHelpers.ts'

let app: ServedPage
let page: Page

beforeAll(async () => {
  app = await openServedPage({
    ready: async (p) => {
      await hostReady(p)
      await p.getByTestId('execution-provider').getByText('cpu', { exact: true }).waitFor({ timeout: 30_000 })
    },
  })
  page = app.page
})

afterAll(async () => {
  await app?.close()
})

/** Runs axe on one screen, prints what it found, and fails on serious or critical findings. */
async function check(screen: string, selector?: string): Promise<void> {
  const findings = await axeViolations(page, selector)
  console.log(describeFindings(screen, findings))
  expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
}

describe.each(['dark', 'light'] as const)('accessibility (axe-core), %s theme', (theme) => {
  it('sets the theme', async () => {
    const toggle = page.getByRole('button', { name: `Switch to ${theme} theme` })
    if (await toggle.isVisible()) await toggle.click()
    await page.waitForFunction((t) => document.documentElement.classList.contains(t), theme)
  })

  it('Generate, with a result', async () => {
    if ((await page.getByTestId('result-image').count()) === 0) {
      await page.getByTestId('count-input').fill('3')
      await page.getByTestId('generate-button').click()
      await page.getByTestId('result-image').first().waitFor({ timeout: 60_000 })
      await page.getByTestId('progress').waitFor({ state: 'detached', timeout: 60_000 })
    }
    await check(`Generate (${theme})`)
  })

  it('Gallery', async () => {
    await waitForGalleryCount(page, 3)
    await page.getByRole('region', { name: 'Gallery' }).getByLabel('Favorites only').check()
    await page.getByRole('region', { name: 'Gallery' }).getByLabel('Favorites only').uncheck()
    await waitForGalleryCount(page, 3)
    await check(`Gallery (${theme})`, 'section[aria-labelledby="gallery-title"]')
  })

  it('Lightbox', async () => {
    await page.getByTestId('gallery-cell').first().click()
    await page.getByTestId('lightbox-image').waitFor()
    try {
      await check(`Lightbox (${theme})`, '[data-testid="lightbox"]')
    } finally {
      await page.keyboard.press('Escape')
      await page.getByTestId('lightbox').waitFor({ state: 'hidden' })
    }
  })

  it('Settings', async () => {
    await page.getByRole('button', { name: 'Settings', exact: true }).click()
    await page.getByRole('dialog', { name: 'Settings' }).waitFor()
    try {
      await check(`Settings (${theme})`, '[data-testid="settings-dialog"]')
    } finally {
      await page.keyboard.press('Escape')
      await page.getByRole('dialog', { name: 'Settings' }).waitFor({ state: 'hidden' })
    }
  })

  it('a dropped A1111 image', async () => {
    const parameters = 'a lighthouse\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512'
    await dropFile(page, encodePng(new Uint8Array(4 * 4 * 3), 4, 4, undefined, { parameters }), 'light.png')
    await page.getByTestId('drop-a1111').waitFor()
    try {
      await check(`Dropped image (${theme})`, '[data-testid="drop-dialog"]')
    } finally {
      await page.keyboard.press('Escape')
      await page.getByTestId('drop-dialog').waitFor({ state: 'hidden' })
    }
  })
})
