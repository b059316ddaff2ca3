/**
 * A text pack in the served app, in real Chromium, against the real engine: the prompt box is the form's main
 * input (no class picker), with its word count and the tokenizer's notes as the prompt is typed (an unknown word
 * with the nearest known one to click, ignored emoji, words cut off); Enter generates; every mode and a compare
 * job send the prompt; the result, the gallery and the lightbox show it; "Use these settings" and a dropped PNG
 * bring back prompt, pack, mode and seed, which remake the very same pixels; the prompt history (the arrow keys
 * and the History list) and Surprise me; the negative prompt when the pack takes one; and axe on the panel.
 *
 * The pack is the shipped models/packs/emoji32-text, else the development build at
 * models/.cache/packs/emoji32-text-dev (linked into the data folder's models).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GalleryItem, GalleryPage } from '../../common/gallery.ts'
import type { PackSummary } from '../../common/generation.ts'
import { parseMetadata, settingsFromMetadata } from '../../common/parameters.ts'
import { decodePngRgb } from '../../main/engine/output/png.ts'
import { callFromPage } from '../support/servedApp.ts'
import { REPO_ROOT, tempDir } from '../support/testApp.ts'
import { axeViolations, describeFindings, seriousOrCritical } from './axe.ts'
import {
  dropFile,
  openServedPage,
  pixelsOf,
  type ServedPage,
  waitForGalleryCount,
  waitForIdle,
} from './pageHelpers.ts'

const SHIPPED = path.join(REPO_ROOT, 'models', 'packs', 'emoji32-text')
const DEVELOPMENT = path.join(REPO_ROOT, 'models', '.cache', 'packs', 'emoji32-text-dev')

interface TextManifest {
  id: string
  conditioning: { kind: string; tokenizer: { file: string } }
}

/** The text pack under test: its folder, whether it is built in, its manifest and its vocabulary. */
function textPack(): { dir: string; builtIn: boolean; manifest: TextManifest; words: Set<string> } {
  for (const [dir, builtIn] of [
    [SHIPPED, true],
    [DEVELOPMENT, false],
  ] as const) {
    const file = path.join(dir, 'manifest.json')
    if (!fs.existsSync(file)) continue
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as TextManifest
    if (manifest.conditioning.kind !== 'text') throw new Error(`${file}: not a text pack`)
    const tokenizer = JSON.parse(
      fs.readFileSync(path.join(dir, manifest.conditioning.tokenizer.file), 'utf8'),
    ) as { words: string[] }
    return { dir, builtIn, manifest, words: new Set(tokenizer.words.slice(4)) }
  }
  throw new Error(
    `no text pack: neither ${SHIPPED} nor ${DEVELOPMENT} exists (build one with \`npm run models:build emoji32-text\`)`,
  )
}

const found = textPack()
const SEED = 4242
const ARTIFACTS = path.join(REPO_ROOT, 'test-results')

let app: ServedPage
let page: Page
let pack: PackSummary
let text: NonNullable<PackSummary['text']>
/** An example prompt of two words or more, all known to the pack. */
let prompt: string

beforeAll(async () => {
  const dataDir = tempDir('text-prompt')
  fs.mkdirSync(path.join(dataDir, 'models'))
  // A link is enough: the registry accepts a linked pack folder, and nothing here writes to it.
  if (!found.builtIn) fs.symlinkSync(found.dir, path.join(dataDir, 'models', found.manifest.id))
  app = await openServedPage({ serve: { dataDir } })
  page = app.page
  const packs = (await call('packs.list', {})).value as unknown as PackSummary[]
  pack = packs.find((p) => p.id === found.manifest.id) as PackSummary
  expect(pack?.status, pack?.problems.join('; ')).toBe('ready')
  expect(pack.conditioning).toBe('text')
  text = pack.text as NonNullable<PackSummary['text']>
  const known = text.examplePrompts.filter((p) => {
    const words = p
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean)
    return words.length >= 2 && words.length <= text.maxTokens - 1 && words.every((w) => found.words.has(w))
  })
  expect(known.length, 'example prompts made of known words').toBeGreaterThan(1)
  prompt = known[0] as string
  const select = page.getByTestId('pack-select')
  await select.locator(`option[value="${pack.id}"]`).waitFor({ state: 'attached' })
  await select.selectOption(pack.id)
  await promptBox().waitFor()
}, 120_000)

afterAll(async () => {
  expect(app?.consoleProblems ?? []).toEqual([])
  await app?.close()
})

function call(name: string, input: object): Promise<{ ok: boolean; value: Record<string, unknown> }> {
  return callFromPage(page, name, input)
}

function promptBox() {
  return page.getByRole('textbox', { name: 'Prompt', exact: true })
}

/** The notes under the prompt box, one string each. */
function notes(testId = 'prompt-notes') {
  return page.getByTestId(testId).getByTestId('prompt-note')
}

function note(kind: string, testId = 'prompt-notes') {
  return page.getByTestId(testId).locator(`[data-kind="${kind}"]`)
}

async function list(query: object = {}): Promise<GalleryPage> {
  return (await call('gallery.list', query)).value as unknown as GalleryPage
}

/** The pixels of a saved image, read from its file. */
function rgbOf(item: GalleryItem): { width: number; height: number; rgb: Uint8Array } {
  return decodePngRgb(fs.readFileSync(path.join(app.served.dataDir, 'gallery', item.id)))
}

function cellNamed(name: string) {
  return page
    .getByRole('region', { name: 'Gallery' })
    .getByRole('gridcell')
    .getByRole('button', { name, exact: true })
}

async function resultJobId(): Promise<string | null> {
  return (await page.getByTestId('result').count()) > 0
    ? page.getByTestId('result').getAttribute('data-job-id')
    : null
}

/** Starts a run (Enter in the prompt box, or the button) and waits for its result. */
async function generate(how: 'enter' | 'button' = 'button'): Promise<void> {
  const before = await resultJobId()
  if (how === 'enter') await promptBox().press('Enter')
  else await page.getByTestId('generate-button').click()
  await page.waitForFunction(
    (job) => {
      const id = document.querySelector('[data-testid="result"]')?.getAttribute('data-job-id')
      return id !== undefined && id !== null && id !== job
    },
    before,
    { timeout: 120_000 },
  )
  await waitForIdle(page, 120_000)
}

describe('the prompt of a text pack', () => {
  it('is the main input: no class picker, a word count against what the pack reads', async () => {
    expect(await page.getByTestId('class-select').count()).toBe(0)
    expect(await page.getByLabel('Search classes').count()).toBe(0)
    const maxWords = text.maxTokens - 1
    expect(await page.getByTestId('model-prompt').textContent()).toContain(`up to ${maxWords} words`)
    await promptBox().fill('')
    expect(await page.getByTestId('prompt-count').textContent()).toBe(`0 / ${maxWords} words`)
    if (text.unconditional) {
      await note('empty').getByText('empty prompt: an unconditional image').waitFor()
      expect(await page.getByTestId('generate-button').isDisabled()).toBe(false)
    } else {
      await note('empty').getByText('this pack needs a prompt: it has no unconditional mode').waitFor()
      expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
      expect(await page.getByTestId('generate-blocked').textContent()).toMatch(/needs a prompt/)
    }
    await promptBox().fill(prompt)
    const words = prompt.split(/[^a-z0-9]+/i).filter(Boolean).length
    expect(await page.getByTestId('prompt-count').textContent()).toBe(`${words} / ${maxWords} words`)
    // Known words only: nothing to say once the check has answered.
    await page.waitForTimeout(400)
    expect(await notes().count()).toBe(0)
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(false)
    // The box is described by its count and its notes.
    expect(await promptBox().getAttribute('aria-describedby')).toMatch(/prompt-count.*prompt-notes/)
  })

  it('names an unknown word with the nearest known one, which a click puts in its place', async () => {
    const [first, ...rest] = prompt.split(' ')
    // A known word with one letter too many, which the vocabulary does not have.
    const word = [...found.words].find((w) => w.length >= 4 && !found.words.has(`${w}q`)) as string
    const typo = `${word}q`
    await promptBox().fill([first, typo, ...rest].join(' '))
    const unknown = note('unknown')
    await unknown.waitFor()
    expect(await unknown.textContent()).toMatch(
      new RegExp(`^not in this model's vocabulary: ${typo}; nearest known: [a-z0-9]+$`),
    )
    const nearest = unknown.getByTestId('prompt-nearest')
    const suggestion = (await nearest.textContent()) as string
    expect(found.words.has(suggestion)).toBe(true)
    expect(await nearest.getAttribute('data-word')).toBe(typo)
    await nearest.click()
    expect(await promptBox().inputValue()).toBe([first, suggestion, ...rest].join(' '))
    await unknown.waitFor({ state: 'detached' })
  })

  it('says which characters it ignores (emoji) and which words a long prompt loses', async () => {
    await promptBox().fill(`${prompt} 😀 ★`)
    await note('ignored').getByText('ignored characters: 😀 ★').waitFor()
    // Emoji are not words.
    const words = prompt.split(/[^a-z0-9]+/i).filter(Boolean).length
    expect(await page.getByTestId('prompt-count').textContent()).toBe(
      `${words} / ${text.maxTokens - 1} words`,
    )

    const maxWords = text.maxTokens - 1
    const vocabulary = prompt.split(' ')
    const long = Array.from({ length: maxWords + 2 }, (_, i) => vocabulary[i % vocabulary.length])
    await promptBox().fill(long.join(' '))
    const cut = long.slice(maxWords).join(' ')
    await note('truncated')
      .getByText(`prompt too long: ${maxWords} words at most; cut off: ${cut}`, { exact: true })
      .waitFor()
    expect(await page.getByTestId('prompt-count').textContent()).toBe(`${maxWords + 2} / ${maxWords} words`)
    // Shown, not hidden: a cut-off prompt still runs, so the note must be seen.
    expect(await note('truncated').isVisible()).toBe(true)
    await promptBox().fill(prompt)
    await note('truncated').waitFor({ state: 'detached' })

    // Longer than a request may be: said under the box, and Generate waits.
    await promptBox().fill(`${prompt} `.repeat(Math.ceil(2001 / (prompt.length + 1))))
    await page.locator('#prompt-error').getByText('At most 2000 characters.').waitFor()
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
    expect(await promptBox().getAttribute('aria-invalid')).toBe('true')
    await promptBox().fill(prompt)
    expect(await page.getByTestId('generate-button').isDisabled()).toBe(false)
  })

  it('generates in every mode and in a compare job, with the prompt in the request and the result', async () => {
    const submitted: Record<string, unknown>[] = []
    page.on('request', (request) => {
      if (request.url().includes('/api/call/jobs.submit'))
        submitted.push(JSON.parse(request.postData() ?? '{}') as Record<string, unknown>)
    })
    await promptBox().fill(prompt)
    await page.getByTestId('seed-input').fill(String(SEED))
    await page.getByTestId('seed-lock').click()
    await page.getByTestId('count-input').fill('1')
    const modes = ['1step', '2step', 'hybrid', 'ar', 'exact'] as const
    for (const mode of modes) {
      await page.getByTestId(`mode-${mode}`).check()
      // Enter in the box generates, as the button does.
      await generate(mode === '1step' ? 'enter' : 'button')
      const image = page.locator(`[data-testid="result-image"][data-mode="${mode}"][data-seed="${SEED}"]`)
      await image.waitFor()
      expect(await page.getByTestId('result-subject').textContent()).toBe(`“${prompt}”`)
      expect(await image.getAttribute('alt')).toBe(
        `${prompt}, ${await page.locator(`#mode-${mode}-label`).textContent()}, seed ${SEED}`,
      )
    }
    expect(submitted).toHaveLength(modes.length)
    for (const [i, request] of submitted.entries()) {
      expect(request).toMatchObject({ packId: pack.id, mode: modes[i], prompt, seed: SEED, n: 1 })
      expect(request.class).toBeUndefined()
    }

    await page.getByTestId('mode-compare').check()
    await generate()
    const table = page.getByTestId('compare-table')
    await table.waitFor()
    const columns = await table
      .getByTestId('compare-column')
      .evaluateAll((cells) => cells.map((c) => c.getAttribute('data-mode')))
    expect(columns.length).toBeGreaterThan(1)
    expect(await table.getByTestId('result-image').count()).toBe(columns.length)
    expect(await table.locator('caption').textContent()).toContain(prompt)
    expect(submitted.at(-1)).toMatchObject({ mode: 'compare', prompt })
    await page.screenshot({ path: path.join(ARTIFACTS, 'text-prompt-compare.png') })

    // Every image went to the gallery, named by its prompt.
    await waitForGalleryCount(page, modes.length + columns.length)
    const items = (await list({ text: prompt.split(' ')[0] as string })).items as GalleryItem[]
    expect(items.length).toBe(modes.length + columns.length)
    for (const item of items) {
      expect(item.prompt).toBe(prompt)
      expect(item.className).toBeNull()
    }
    // The 1-step image of the single run and the compare job's: the same name, and the same noise.
    expect(await cellNamed(`${prompt}, 1 step, seed ${SEED}`).count()).toBe(2)
  })

  it('shows the prompt in the lightbox, and "Use these settings" remakes the very same image', async () => {
    // The 1-step image of the single-mode run: the oldest (the compare job made one too).
    const before = (await list({ mode: '1step', sort: 'oldest' })).items as GalleryItem[]
    const original = rgbOf(before[0] as GalleryItem)
    const { total } = await list()

    // Everything else changes.
    await page.getByTestId('seed-lock').click()
    await page.getByTestId('mode-2step').check()
    await page.getByTestId('seed-input').fill('7')
    await promptBox().fill(text.examplePrompts.find((p) => p !== prompt) ?? 'x')

    const cell = page.locator(`[data-testid="gallery-cell"][data-id="${before[0]?.id}"]`)
    expect(await cell.getAttribute('aria-label')).toBe(`${prompt}, 1 step, seed ${SEED}`)
    await cell.click()
    const lightbox = page.getByRole('dialog', { name: `${prompt}, seed ${SEED}` })
    await lightbox.waitFor()
    expect(await lightbox.getByTestId('meta-prompt').locator('dd').textContent()).toBe(prompt)
    expect(await lightbox.getByTestId('meta-class').count()).toBe(0)
    expect((await lightbox.getByTestId('parameters-text').textContent())?.split('\n')[0]).toBe(prompt)
    await lightbox.getByRole('button', { name: 'Use these settings' }).click()
    await lightbox.waitFor({ state: 'hidden' })
    await page.getByTestId('settings-loaded').getByText(`${prompt}, seed ${SEED}`).waitFor()
    expect(await promptBox().inputValue()).toBe(prompt)
    expect(await page.getByTestId('pack-select').inputValue()).toBe(pack.id)
    expect(await page.getByTestId('mode-1step').isChecked()).toBe(true)
    expect(await page.getByTestId('seed-input').inputValue()).toBe(String(SEED))

    await generate()
    const remade = page.locator(`[data-testid="result-image"][data-mode="1step"][data-seed="${SEED}"]`)
    await remade.waitFor()
    await waitForGalleryCount(page, total + 1)
    const after = (await list({ mode: '1step' })).items as GalleryItem[]
    expect(after).toHaveLength(before.length + 1)
    const remadeItem = after[0] as GalleryItem
    // The same pixels, saved...
    expect(Buffer.from(rgbOf(remadeItem).rgb).equals(Buffer.from(original.rgb))).toBe(true)
    // ...and shown.
    const shown = await pixelsOf(page, `[data-testid="result-image"][data-seed="${SEED}"]`)
    const rgba = [...original.rgb].flatMap((v, i) => (i % 3 === 2 ? [v, 255] : [v]))
    expect(shown).toEqual(rgba)
    expect(settingsFromMetadata(remadeItem.metadata)).toEqual(settingsFromMetadata(before[0]?.metadata))
  })

  it('reads a dropped PNG of a text pack, and brings back its prompt', async () => {
    const item = (await list({ mode: 'exact' })).items[0] as GalleryItem
    const png = fs.readFileSync(path.join(app.served.dataDir, 'gallery', item.id))
    await page.getByTestId('mode-1step').check()
    await promptBox().fill('')
    await dropFile(page, png, path.basename(item.id))
    const dialog = page.getByRole('dialog', { name: 'Settings in a dropped image' })
    const body = dialog.getByTestId('drop-dd-studio')
    await body.waitFor()
    expect(await body.getByTestId('meta-prompt').locator('dd').textContent()).toBe(prompt)
    await body.getByRole('button', { name: 'Use these settings' }).click()
    await dialog.waitFor({ state: 'hidden' })
    expect(await promptBox().inputValue()).toBe(prompt)
    expect(await page.getByTestId('mode-exact').isChecked()).toBe(true)
    expect(await page.getByTestId('seed-input').inputValue()).toBe(String(SEED))
  })

  it('keeps the prompts it ran: ↑ and ↓ in an empty box, the History list, removing and clearing', async () => {
    const other = text.examplePrompts.find((p) => p !== prompt) as string
    await page.getByTestId('mode-1step').check()
    await promptBox().fill(other)
    await generate()
    // Newest first, each prompt once however often it ran.
    await promptBox().fill('')
    await promptBox().press('ArrowUp')
    expect(await promptBox().inputValue()).toBe(other)
    await promptBox().press('ArrowUp')
    expect(await promptBox().inputValue()).toBe(prompt)
    await promptBox().press('ArrowUp')
    expect(await promptBox().inputValue()).toBe(prompt)
    await promptBox().press('ArrowDown')
    expect(await promptBox().inputValue()).toBe(other)
    await promptBox().press('ArrowDown')
    expect(await promptBox().inputValue()).toBe('')
    // A box with text of its own keeps the arrow keys for the caret.
    await promptBox().fill('my own words')
    await promptBox().press('ArrowUp')
    expect(await promptBox().inputValue()).toBe('my own words')

    const button = page.getByTestId('prompt-history-button')
    expect(await button.textContent()).toContain('History (2)')
    await button.click()
    const history = page.getByTestId('prompt-history')
    await history.waitFor()
    expect(await history.getByTestId('history-use').allTextContents()).toEqual([other, prompt])
    await page.screenshot({ path: path.join(ARTIFACTS, 'text-prompt-history.png') })
    // The list has the focus; Enter on an entry puts it in the box.
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await history.waitFor({ state: 'detached' })
    expect(await promptBox().inputValue()).toBe(prompt)

    await button.click()
    await history.getByRole('button', { name: `Remove “${other}” from the history` }).click()
    expect(await history.getByTestId('history-use').allTextContents()).toEqual([prompt])
    // Kept across a reload (localStorage, per pack).
    await page.keyboard.press('Escape')
    await history.waitFor({ state: 'detached' })
    expect(await button.evaluate((b) => b === document.activeElement)).toBe(true)
    await page.reload()
    await page.getByTestId('pack-select').selectOption(pack.id)
    await button.click()
    expect(await history.getByTestId('history-use').allTextContents()).toEqual([prompt])
    await history.getByTestId('history-clear').click()
    await history.waitFor({ state: 'detached' })
    expect((await button.textContent())?.trim()).toMatch(/^History\s*▾$/)
    await promptBox().fill('')
    await promptBox().press('ArrowUp')
    expect(await promptBox().inputValue()).toBe('')
  })

  it('Surprise me puts in one of the pack’s example prompts, never the one in the box', async () => {
    await promptBox().fill(prompt)
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const before = await promptBox().inputValue()
      await page.getByTestId('prompt-surprise').click()
      const after = await promptBox().inputValue()
      expect(text.examplePrompts).toContain(after)
      expect(after).not.toBe(before)
      seen.add(after)
    }
    expect(seen.size).toBeGreaterThan(1)
  })

  it('takes a negative prompt when the pack does, with its own notes, and keeps it in the image', async () => {
    const negative = page.getByRole('textbox', { name: 'Negative prompt' })
    if (!text.negativePrompt) {
      expect(await negative.count()).toBe(0)
      return
    }
    const other = text.examplePrompts.find((p) => p !== prompt) as string
    await promptBox().fill(prompt)
    await negative.fill(`${other} 😀`)
    await note('ignored', 'negative-notes').getByText('ignored characters: 😀').waitFor()
    expect(await negative.getAttribute('aria-describedby')).toContain('negative-notes')
    await page.getByTestId('mode-exact').check()
    await page.getByTestId('seed-input').fill(String(SEED + 1))
    await page.getByTestId('count-input').fill('1')
    await generate()
    expect(await page.getByTestId('result-negative').textContent()).toBe(`Negative prompt: ${other} 😀`)
    const item = (await list({ text: String(SEED + 1) })).items[0] as GalleryItem
    expect(parseMetadata(item.metadata).prompt).toMatchObject({ text: prompt, negative: `${other} 😀` })
    expect(item.parameters).toContain(`\nNegative prompt: ${other} 😀\n`)

    await negative.fill('')
    await page.getByTestId('mode-1step').check()
    await cellNamed(`${prompt}, Exact teacher, seed ${SEED + 1}`).click()
    const lightbox = page.getByRole('dialog', { name: `${prompt}, seed ${SEED + 1}` })
    expect(await lightbox.getByTestId('meta-negative').locator('dd').textContent()).toBe(`${other} 😀`)
    await lightbox.getByRole('button', { name: 'Use these settings' }).click()
    await lightbox.waitFor({ state: 'hidden' })
    expect(await negative.inputValue()).toBe(`${other} 😀`)
    expect(await page.getByTestId('mode-exact').isChecked()).toBe(true)
  })

  it('promotes a 1-step draft with its prompt, on the same noise', async () => {
    const submitted: Record<string, unknown>[] = []
    page.on('request', (request) => {
      if (request.url().includes('/api/call/jobs.submit'))
        submitted.push(JSON.parse(request.postData() ?? '{}') as Record<string, unknown>)
    })
    await promptBox().fill(prompt)
    if (text.negativePrompt) await page.getByRole('textbox', { name: 'Negative prompt' }).fill('')
    await page.getByTestId('mode-1step').check()
    await page.getByTestId('seed-input').fill(String(SEED))
    await page.getByTestId('count-input').fill('1')
    await generate()
    await page.getByTestId('promote-button').click()
    await page.getByTestId('promote-exact').click()
    await page.getByTestId('promoted').waitFor({ timeout: 120_000 })
    await waitForIdle(page, 120_000)
    expect(submitted.at(-1)).toEqual({ packId: pack.id, mode: 'exact', prompt, seed: SEED, n: 1 })
    expect(await page.getByTestId('result-subject').textContent()).toBe(`“${prompt}”`)
    expect(await page.getByTestId('draft-image').getAttribute('alt')).toBe(`${prompt}, 1 step, seed ${SEED}`)
  })

  it('an empty prompt asks for an unconditional image when the pack has that mode', async () => {
    await promptBox().fill('')
    if (!text.unconditional) {
      expect(await page.getByTestId('generate-button').isDisabled()).toBe(true)
      return
    }
    await page.getByTestId('mode-1step').check()
    await generate()
    expect(await page.getByTestId('result-subject').textContent()).toBe('No prompt (unconditional)')
    const item = (await list({ mode: '1step' })).items[0] as GalleryItem
    expect(item.prompt).toBe('')
    await cellNamed(`no prompt (unconditional), 1 step, seed ${item.seed}`).waitFor()
  })

  it('passes axe with the notes showing', async () => {
    await promptBox().fill(`${prompt} zzzzq 😀`)
    await note('unknown').waitFor()
    await page.screenshot({ path: path.join(ARTIFACTS, 'text-prompt-notes.png') })
    await page.getByTestId('prompt-history-button').click()
    const findings = await axeViolations(page, '#generate-title + form')
    console.log(describeFindings('Generate panel with a text pack', findings))
    expect(seriousOrCritical(findings)).toEqual([])
    await page.keyboard.press('Escape')
  })
})
