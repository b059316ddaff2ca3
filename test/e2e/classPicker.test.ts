/**
 * The class picker in the served app, in real Chromium, with the default pack's example sheet: the chosen
 * class's training images, the list of classes with theirs (rendered and loaded as rows come into view), the
 * sheet as main serves it, the keyboard (arrow keys from the search box and in the list, Home and End, Enter to
 * the select), and the prompt box picking a class from text. The 1000-class case: classExplorer.test.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prepareClasses, searchClasses } from '../../common/classMatch.ts'
import type { PackSummary } from '../../common/generation.ts'
import { decodePngRgb } from '../../main/engine/output/png.ts'
import { COMMITTED_PACKS_DIR } from '../support/packs.ts'
import { callFromPage } from '../support/servedApp.ts'
import { axeViolations, describeFindings, seriousOrCritical } from './axe.ts'
import { openServedPage, type ServedPage } from './pageHelpers.ts'

const SHEET_FILE = path.join(COMMITTED_PACKS_DIR, 'emoji32', 'examples.png')

let app: ServedPage
let page: Page
let pack: PackSummary

beforeAll(async () => {
  app = await openServedPage({ ready: (p) => p.getByTestId('class-list').waitFor({ timeout: 30_000 }) })
  page = app.page
  const listed = await callFromPage(page, 'packs.list', {})
  pack = (listed.value as unknown as PackSummary[]).find((p) => p.id === 'emoji32') as PackSummary
})

afterAll(async () => {
  await app?.close()
})

/** The class the select says will be used. */
async function chosenClass(): Promise<{ index: number; name: string }> {
  const select = page.getByTestId('class-select')
  return {
    index: Number(await select.inputValue()),
    name: ((await select.locator('option:checked').textContent()) ?? '').trim(),
  }
}

/** The computed style of each cell of a strip that matters for the sprite. */
function cellStyles(testIdOrSelector: string) {
  return page.locator(testIdOrSelector).evaluate((strip) =>
    [...strip.querySelectorAll<HTMLElement>('[data-example-cell]')].map((cell) => {
      const style = getComputedStyle(cell)
      return {
        image: style.backgroundImage,
        position: style.backgroundPosition,
        size: style.backgroundSize,
        rendering: style.imageRendering,
        width: cell.getBoundingClientRect().width,
      }
    }),
  )
}

describe('the class picker with example images', () => {
  it('maps a prompt to one of the pack’s classes, saying which and why', async () => {
    const prompt = page.getByRole('textbox', { name: 'Prompt' })
    await expect(prompt.isDisabled()).resolves.toBe(false)
    expect(pack.conditioning).toBe('class')
    const animals = pack.classes.find((c) => c.name === 'noto / Animals & Nature') as { index: number }
    await prompt.fill('noto animals')
    expect((await chosenClass()).index).toBe(animals.index)
    expect(await page.getByTestId('prompt-status').textContent()).toBe(
      `Class ${animals.index} · noto / Animals & Nature (matched 'noto / Animals & Nature', whole words)`,
    )
    await prompt.fill('')
    expect(await page.getByTestId('prompt-status').textContent()).toContain(`${pack.classes.length} classes`)
    // The class can still be chosen directly; the tests below start from the first one.
    await page.getByTestId('class-select').selectOption('0')
    expect((await chosenClass()).index).toBe(0)
  })

  it('the default pack lists its sheet: four 32x32 images for each class', () => {
    expect(pack.examples).toMatchObject({ perClass: 4, cell: [32, 32], rows: pack.classes.length })
  })

  it('shows the chosen class’s training images, drawn square from the pack’s sheet', async () => {
    const { index, name } = await chosenClass()
    const strip = page.getByRole('img', { name: `Training examples of ${name}` })
    await strip.waitFor()
    const cells = await cellStyles('[data-testid="class-examples-selected"]')
    expect(cells).toHaveLength(4)
    cells.forEach((cell, column) => {
      expect(cell.image).toMatch(/url\(".*\/pack-examples\/emoji32\?v=[0-9a-f]{16}"\)/)
      // Shown at twice the size: each sheet pixel is a 2x2 block, never smoothed.
      expect(cell.rendering).toBe('pixelated')
      expect(cell.width).toBe(64)
      expect(cell.size).toBe(`256px ${pack.classes.length * 64}px`)
      expect(cell.position).toBe(
        `${column === 0 ? '0px' : `-${column * 64}px`} ${index === 0 ? '0px' : `-${index * 64}px`}`,
      )
    })
  })

  it('the sheet the page loads is the pack’s own file, pixel for pixel', async () => {
    const url = (await cellStyles('[data-testid="class-examples-selected"]'))[0]?.image.match(
      /url\("(.*)"\)/,
    )?.[1]
    expect(url).toBeTruthy()
    const served = await page.evaluate(async (sheetUrl) => {
      const response = await fetch(sheetUrl)
      const bitmap = await createImageBitmap(await response.blob())
      const canvas = document.createElement('canvas')
      canvas.width = bitmap.width
      canvas.height = bitmap.height
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D
      ctx.drawImage(bitmap, 0, 0)
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        width: bitmap.width,
        height: bitmap.height,
        rgba: Array.from(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data),
      }
    }, url as string)
    expect([served.status, served.type]).toEqual([200, 'image/png'])
    const file = decodePngRgb(fs.readFileSync(SHEET_FILE))
    expect([served.width, served.height]).toEqual([file.width, file.height])
    let differing = 0
    for (let p = 0; p < file.width * file.height; p++) {
      for (let c = 0; c < 3; c++) if (served.rgba[p * 4 + c] !== file.rgb[p * 3 + c]) differing++
    }
    expect(differing).toBe(0)
  })

  it('lists every class with its examples, rendering and loading rows as they come into view', async () => {
    const list = page.getByRole('listbox', { name: 'Classes with example images' })
    const options = list.getByRole('option')
    // Only the rows in view (and a few around them) are in the page; each says its place in the whole list.
    expect(await options.first().getAttribute('aria-setsize')).toBe(String(pack.classes.length))
    expect(await options.first().textContent()).toBe(`0${pack.classes[0]?.name}`)
    const last = pack.classes.at(-1) as { index: number; name: string }
    expect(await page.locator(`#class-option-${last.index}`).count()).toBe(0)
    await list.evaluate((el) => {
      el.scrollTop = el.scrollHeight
    })
    await page.waitForFunction(
      (id) => document.querySelector(`#${id} [data-loaded]`)?.getAttribute('data-loaded') === 'true',
      `class-option-${last.index}`,
    )
    expect(await page.locator(`#class-option-${last.index}`).getAttribute('aria-posinset')).toBe(
      String(pack.classes.length),
    )
    const cells = await cellStyles(`#class-option-${last.index} [data-loaded]`)
    expect(cells.map((c) => [c.width, c.rendering])).toEqual(Array(4).fill([32, 'pixelated']))
    expect(cells[3]?.position).toBe(`-96px -${last.index * 32}px`)
  })

  it('is searchable and keyboard navigable: arrows from the search box, Enter to the select', async () => {
    const search = page.getByLabel('Search classes')
    await search.fill('noto')
    // Best matches first, as common/classMatch.ts ranks them.
    const noto = searchClasses(prepareClasses(pack.classes), 'noto')
    expect(noto.map((h) => h.index).sort()).toEqual(
      pack.classes
        .filter((c) => c.name.toLowerCase().includes('noto'))
        .map((c) => c.index)
        .sort(),
    )
    const options = page.getByRole('listbox').getByRole('option')
    expect(await options.count()).toBe(noto.length)
    expect((await chosenClass()).index).toBe(noto[0]?.index)

    await search.press('ArrowDown')
    expect((await chosenClass()).index).toBe(noto[1]?.index)
    await search.press('ArrowDown')
    expect((await chosenClass()).index).toBe(noto[2]?.index)
    expect(await search.getAttribute('aria-activedescendant')).toBe(`class-option-${noto[2]?.index}`)
    expect(await page.locator(`#class-option-${noto[2]?.index}`).getAttribute('aria-selected')).toBe('true')
    await search.press('ArrowUp')
    expect((await chosenClass()).index).toBe(noto[1]?.index)
    // The strip for the chosen class follows.
    await page.getByRole('img', { name: `Training examples of ${noto[1]?.name}` }).waitFor()

    await search.press('Enter')
    expect(await page.getByTestId('class-select').evaluate((el) => el === document.activeElement)).toBe(true)
  })

  it('the list takes the focus and moves with the arrow keys, Home and End; a click keeps the keys there', async () => {
    const noto = searchClasses(prepareClasses(pack.classes), 'noto')
    const list = page.getByRole('listbox')
    await list.focus()
    await page.keyboard.press('End')
    expect((await chosenClass()).index).toBe(noto.at(-1)?.index)
    expect(await list.getAttribute('aria-activedescendant')).toBe(`class-option-${noto.at(-1)?.index}`)
    await page.keyboard.press('Home')
    expect((await chosenClass()).index).toBe(noto[0]?.index)
    await page.keyboard.press('ArrowDown')
    expect((await chosenClass()).index).toBe(noto[1]?.index)

    await list.getByRole('option', { name: noto[4]?.name }).click()
    expect((await chosenClass()).index).toBe(noto[4]?.index)
    expect(await list.evaluate((el) => el === document.activeElement)).toBe(true)
    await page.keyboard.press('ArrowUp')
    expect((await chosenClass()).index).toBe(noto[3]?.index)

    // The select still works as before, and the list follows it.
    const other = pack.classes.find((c) => c.name.startsWith('twemoji')) as { index: number; name: string }
    await page.getByLabel('Search classes').fill('')
    await page.getByTestId('class-select').selectOption(String(other.index))
    expect(await page.locator(`#class-option-${other.index}`).getAttribute('aria-selected')).toBe('true')
  })

  it('has no serious accessibility problems in either theme, and the page logged none', async () => {
    for (const theme of ['light', 'dark']) {
      await page.getByRole('button', { name: `Switch to ${theme} theme` }).click()
      const findings = await axeViolations(page, '#generate-title + form')
      console.log(describeFindings(`class picker, ${theme} theme`, findings))
      expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
    }
    expect(app.consoleProblems).toEqual([])
  })
})
