/**
 * The class explorer and the prompt box with a pack of the 1000 ImageNet classes (a converted LlamaGen pack:
 * models/.cache/packs/llamagen-test from `npm run models:testpacks`, or any 1000-class pack named in
 * DDSTUDIO_TEST_PACKS), in the served app in real Chromium: search by name, synonym and number, ranked; the
 * keyboard; the prompt mapping free text to a class ("golden retriever" -> 207) and saying which and why, tied
 * matches to click, no match; that typing stays fast; that the request carries the class index; and axe.
 * The test pack is built first when it is missing or older than the converter.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prepareClasses, searchClasses } from '../../common/classMatch.ts'
import { ensureTestPack } from '../support/convertedPacks.ts'
import { packDirsUnderTest } from '../support/packs.ts'
import { REPO_ROOT, tempDir } from '../support/testApp.ts'
import { axeViolations, describeFindings, seriousOrCritical } from './axe.ts'
import { openServedPage, type ServedPage } from './pageHelpers.ts'

interface ManifestClass {
  index: number
  name: string
  synonyms?: string[]
}

/** The first pack with the 1000 ImageNet classes: the test pack, or one named in DDSTUDIO_TEST_PACKS. */
function imagenetPack(): { dir: string; id: string; classes: ManifestClass[] } | null {
  const candidates = [
    path.join(REPO_ROOT, 'models', '.cache', 'packs', 'llamagen-test'),
    ...packDirsUnderTest(),
  ]
  for (const dir of candidates) {
    const file = path.join(dir, 'manifest.json')
    if (!fs.existsSync(file)) continue
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      id: string
      conditioning: { classes: ManifestClass[] }
    }
    const classes = manifest.conditioning.classes
    if (classes.length === 1000 && classes[207]?.name === 'golden retriever')
      return { dir, id: manifest.id, classes }
  }
  return null
}

ensureTestPack('llamagen')
const found = imagenetPack()
if (!found)
  throw new Error('the LlamaGen test pack does not have the 1000 ImageNet classes with their synonyms')
const pack = found

let app: ServedPage
let page: Page

beforeAll(async () => {
  const dataDir = tempDir('class-explorer')
  fs.mkdirSync(path.join(dataDir, 'models'))
  // A link is enough: the registry accepts a linked pack folder, and nothing here writes to it.
  fs.symlinkSync(pack.dir, path.join(dataDir, 'models', pack.id))
  app = await openServedPage({ serve: { dataDir } })
  page = app.page
  await page.getByTestId('pack-select').locator(`option[value="${pack.id}"]`).waitFor({ state: 'attached' })
  await page.getByTestId('pack-select').selectOption(pack.id)
  await page.getByTestId('class-list').getByRole('option').first().waitFor()
})

afterAll(async () => {
  await app?.close()
})

async function chosen(): Promise<number> {
  return Number(await page.getByTestId('class-select').inputValue())
}

const search = () => page.getByLabel('Search classes')
const prompt = () => page.getByRole('textbox', { name: 'Prompt' })
const status = () => page.getByTestId('prompt-status')

describe('the class explorer with 1000 ImageNet classes', () => {
  it('lists the 1000 classes with their numbers and other names, only the rows in view in the page', async () => {
    expect(await page.getByTestId('class-count').textContent()).toBe('1000 classes')
    const options = page.getByTestId('class-list').getByRole('option')
    expect(await options.count()).toBeLessThan(30)
    expect(await options.first().getAttribute('aria-setsize')).toBe('1000')
    const tench = page.locator('#class-option-0')
    expect(await tench.textContent()).toBe('0tenchTinca tinca')
    await page.getByRole('option', { name: /^0\s*tench\s*Tinca tinca$/ }).waitFor()
  })

  it('finds "golden retriever" (207) by name, best match first, and chooses it', async () => {
    await search().fill('golden retriever')
    expect(await chosen()).toBe(207)
    const first = page.getByTestId('class-list').getByRole('option').first()
    expect(await first.getAttribute('data-class-index')).toBe('207')
    expect(await first.getAttribute('aria-selected')).toBe('true')
    expect(await page.getByTestId('class-chosen').textContent()).toBe('Class 207 · golden retriever')
    expect(await search().getAttribute('aria-activedescendant')).toBe('class-option-207')
  })

  it('finds classes by a synonym, with the synonym that matched shown first, and by number', async () => {
    await search().fill('Tinca')
    expect(await chosen()).toBe(0)
    await search().fill('toilet paper')
    expect(await chosen()).toBe(999)
    const row = page.locator('#class-option-999')
    expect(await row.textContent()).toBe('999toilet tissuetoilet paper, bathroom tissue')
    expect(await page.getByTestId('class-chosen').textContent()).toBe(
      'Class 999 · toilet tissue · also toilet paper, bathroom tissue',
    )
    await search().fill('281')
    expect(await chosen()).toBe(281)
    expect(await page.locator('#class-option-281').getAttribute('aria-posinset')).toBe('1')
  })

  it('ranks and steps through the matches with the keyboard, from the search box and in the list', async () => {
    const ranked = searchClasses(prepareClasses(pack?.classes ?? []), 'retriever').map((h) => h.index)
    expect(ranked).toHaveLength(5)
    await search().fill('retriever')
    expect(await chosen()).toBe(ranked[0])
    expect(await page.getByTestId('class-count').textContent()).toBe('5 of 1000 classes match, best first.')
    await search().press('ArrowDown')
    await search().press('ArrowDown')
    expect(await chosen()).toBe(ranked[2])
    await search().press('PageDown')
    expect(await chosen()).toBe(ranked[4])
    await search().press('ArrowUp')
    expect(await chosen()).toBe(ranked[3])

    await search().fill('')
    const list = page.getByTestId('class-list')
    await list.focus()
    await page.keyboard.press('End')
    expect(await chosen()).toBe(999)
    expect(await list.getAttribute('aria-activedescendant')).toBe('class-option-999')
    expect(await page.locator('#class-option-999').getAttribute('aria-selected')).toBe('true')
    await page.keyboard.press('PageUp')
    expect(await chosen()).toBeLessThan(999)
    await page.keyboard.press('Home')
    expect(await chosen()).toBe(0)
  })

  it('stays fast on every keystroke: no task over 100 ms while typing a class name', async () => {
    await search().fill('')
    await page.evaluate(() => {
      const w = window as unknown as { longTasks: number[] }
      w.longTasks = []
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.longTasks.push(e.duration)
      }).observe({ type: 'longtask' })
    })
    const started = Date.now()
    await search().pressSequentially('golden retriever', { delay: 30 })
    const elapsed = Date.now() - started
    expect(await chosen()).toBe(207)
    const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks)
    console.log(
      `typing 16 characters took ${elapsed} ms; long tasks: ${longTasks.map((d) => d.toFixed(0)).join(', ') || 'none'}`,
    )
    expect(longTasks.filter((d) => d > 100)).toEqual([])
  })
})

describe('the prompt box of a class pack', () => {
  it('maps "golden retriever" to class 207 and says which class it picked and why', async () => {
    await search().fill('')
    await page.getByTestId('class-select').selectOption('1')
    await prompt().fill('golden retriever')
    expect(await chosen()).toBe(207)
    expect(await status().textContent()).toBe("Class 207 · golden retriever (matched 'golden retriever')")
    await prompt().fill('a photo of my Golden Retrievers in the park')
    expect(await status().textContent()).toBe(
      "Class 207 · golden retriever (matched 'golden retriever', whole words)",
    )
  })

  it('lists tied matches to click, and says which one was clicked', async () => {
    await prompt().fill('crane')
    const candidates = page.getByTestId('prompt-candidates').getByRole('button')
    expect(await candidates.allTextContents()).toEqual(['Class 134 · crane', 'Class 517 · crane'])
    expect(await status().textContent()).toBe("2 classes match 'crane' equally well: choose one.")
    await candidates.nth(1).click()
    expect(await chosen()).toBe(517)
    expect(await candidates.nth(1).getAttribute('aria-pressed')).toBe('true')
    expect(await status().textContent()).toBe('Class 517 · crane (chosen among the matches of the prompt)')

    await prompt().fill('retriever')
    expect(await candidates.count()).toBe(5)
  })

  it('says when nothing matches, and keeps the class', async () => {
    await page.getByTestId('class-select').selectOption('3')
    await prompt().fill('xyzzy qwertyuiop')
    expect(await chosen()).toBe(3)
    expect(await status().textContent()).toBe(
      "No class found: no class name or synonym matches 'xyzzy qwertyuiop' (as words, word starts or parts of words). Choose a class below.",
    )
    expect(await page.getByTestId('prompt-candidates').count()).toBe(0)
  })

  it('leaves a class chosen directly in place, offering the prompt’s match', async () => {
    await prompt().fill('tabby cat')
    expect(await chosen()).toBe(281)
    await page.getByTestId('class-select').selectOption('1')
    expect(await status().textContent()).toBe(
      "The prompt matches Class 281 · tabby (matched 'tabby cat'), but Class 1 · goldfish is chosen below.",
    )
    await page.getByRole('button', { name: 'Use Class 281 · tabby' }).click()
    expect(await chosen()).toBe(281)
  })

  it('sends the class index in the request, as before', async () => {
    await prompt().fill('golden retriever')
    let body: Record<string, unknown> | null = null
    const stop = async (route: Route) => {
      body = JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>
      // Answered here: this test is about what the form sends, not about the engine.
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ ok: false, error: { code: 'invalid_input', message: 'held by the test' } }),
      })
    }
    await page.route('**/api/call/jobs.submit', stop)
    await page.getByTestId('generate-button').click()
    await page.waitForFunction(() => document.body.textContent?.includes('held by the test'))
    await page.unroute('**/api/call/jobs.submit', stop)
    expect(body).toMatchObject({ packId: pack?.id, class: 207 })
  })

  it('has no serious accessibility problems in either theme, and the page logged none', async () => {
    await prompt().fill('retriever')
    await search().fill('dog')
    for (const theme of ['light', 'dark']) {
      await page.getByRole('button', { name: `Switch to ${theme} theme` }).click()
      const findings = await axeViolations(page, '#generate-title + form')
      console.log(describeFindings(`class explorer and prompt, ${theme} theme`, findings))
      expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
    }
    expect(app.consoleProblems).toEqual([])
  })
})
