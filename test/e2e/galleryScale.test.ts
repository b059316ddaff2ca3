/**
 * A 10,000-image gallery in the served app, in real Chromium: the grid keeps only the rows in view in the DOM,
 * fetches pages as it scrolls, and stays smooth while it is scrolled from top to bottom (frame times measured
 * in the page with requestAnimationFrame; only a generous bound is asserted, the machine is shared).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makePng } from '../support/gallery.ts'
import { REPO_ROOT, tempDir } from '../support/testApp.ts'
import { focusedCellIndex, openServedPage, type ServedPage, waitForGalleryCount } from './pageHelpers.ts'

const IMAGES = 10_000
const DAYS = 10
const CLASSES = ['noto / Animals', 'twemoji / Food', 'fluent-flat / Travel', 'noto / Objects'] as const

let app: ServedPage
let page: Page

/** Image i is seed i, made i seconds after the first: newest first, index 0 is seed 9999. */
function fillGallery(galleryDir: string): number {
  const started = performance.now()
  const base = Date.UTC(2026, 0, 1, 12) / 1000
  for (let i = 0; i < IMAGES; i++) {
    const day = `2026-01-${String(1 + Math.floor((i * DAYS) / IMAGES)).padStart(2, '0')}`
    const folder = path.join(galleryDir, day)
    if (i % (IMAGES / DAYS) === 0) fs.mkdirSync(folder, { recursive: true })
    const mode = i % 3 === 0 ? '2step' : '1step'
    const classIndex = i % CLASSES.length
    const file = path.join(folder, `${String(i).padStart(6, '0')}-emoji32-${mode}-${i}.png`)
    fs.writeFileSync(file, makePng({ seed: i, mode, classIndex, className: CLASSES[classIndex] }))
    fs.utimesSync(file, base + i, base + i)
  }
  return performance.now() - started
}

beforeAll(async () => {
  const dataDir = tempDir('gallery10k')
  const fillMs = fillGallery(path.join(dataDir, 'gallery'))
  const started = performance.now()
  app = await openServedPage({
    serve: { dataDir },
    // The first listing waits for the index of the 10k files, which the server builds when it starts.
    ready: (p) => waitForGalleryCount(p, IMAGES, 120_000),
  })
  page = app.page
  console.log(
    `10k gallery: ${IMAGES} PNGs written in ${fillMs.toFixed(0)} ms; indexed and listed ${(performance.now() - started).toFixed(0)} ms after the server started`,
  )
})

afterAll(async () => {
  await app?.close()
})

function cells() {
  return page.getByTestId('gallery-cell')
}

interface ScrollRun {
  frameMs: number[]
  /** Main-thread tasks over 50 ms during the run (the browser's Long Tasks API). */
  longTaskMs: number[]
  maxCells: number
  /** Of the cells in the DOM, the share whose image data had arrived, averaged over the frames. */
  loadedShare: number
  scrollHeight: number
}

/** Scrolls the grid by `step` px every animation frame, from where it is to the end, timing the frames. */
function scrollThrough(step: number): Promise<ScrollRun> {
  return page.evaluate(async (px) => {
    const scroller = document.querySelector('[data-testid="gallery-scroll"]') as HTMLElement
    const frameMs: number[] = []
    const longTaskMs: number[] = []
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) longTaskMs.push(entry.duration)
    })
    observer.observe({ type: 'longtask' })
    let maxCells = 0
    let loaded = 0
    await new Promise<void>((resolve) => {
      let last = performance.now()
      const frame = (now: number) => {
        frameMs.push(now - last)
        last = now
        const inDom = document.querySelectorAll('[data-testid="gallery-cell"]')
        maxCells = Math.max(maxCells, inDom.length)
        loaded += [...inDom].filter((cell) => cell.hasAttribute('data-id')).length / Math.max(1, inDom.length)
        if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) {
          resolve()
          return
        }
        scroller.scrollTop += px
        requestAnimationFrame(frame)
      }
      requestAnimationFrame((now) => {
        last = now
        requestAnimationFrame(frame)
      })
    })
    observer.disconnect()
    return {
      frameMs,
      longTaskMs,
      maxCells,
      loadedShare: loaded / Math.max(1, frameMs.length),
      scrollHeight: scroller.scrollHeight,
    }
  }, step)
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] as number
}

describe('a 10,000-image gallery', () => {
  it('renders only the rows in view, newest first', async () => {
    await cells().first().waitFor()
    expect(await cells().first().getAttribute('aria-label')).toBe(`${CLASSES[9999 % 4]}, 2 steps, seed 9999`)
    const grid = page.getByRole('grid', { name: 'Images' })
    const columns = Number(await grid.getAttribute('aria-colcount'))
    expect(Number(await grid.getAttribute('aria-rowcount'))).toBe(Math.ceil(IMAGES / columns))
    const inDom = await cells().count()
    expect(inDom).toBeLessThan(150)
    expect(inDom).toBeGreaterThan(columns * 3)
  })

  it('stays smooth while scrolled from top to bottom, fetching pages as it goes', async () => {
    const run = await scrollThrough(400)
    const sorted = [...run.frameMs].sort((a, b) => a - b)
    const median = percentile(sorted, 0.5)
    const p95 = percentile(sorted, 0.95)
    console.log(
      `10k gallery scroll: ${run.frameMs.length} frames over ${run.scrollHeight} px, frame time median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms; ${run.longTaskMs.length} long tasks (longest ${Math.max(0, ...run.longTaskMs).toFixed(0)} ms); at most ${run.maxCells} cells in the DOM, ${(run.loadedShare * 100).toFixed(0)}% of them with their data on an average frame`,
    )
    expect(run.frameMs.length).toBeGreaterThan(100)
    expect(median).toBeLessThan(50)
    expect(run.maxCells).toBeLessThan(150)

    // At the bottom: the oldest image, once its page has come.
    const last = page.locator(`[data-testid="gallery-cell"][data-index="${IMAGES - 1}"]`)
    await page.waitForFunction(
      (i) =>
        document.querySelector(`[data-testid="gallery-cell"][data-index="${i}"]`)?.hasAttribute('data-id'),
      IMAGES - 1,
    )
    expect(await last.getAttribute('aria-label')).toBe(`${CLASSES[0]}, 2 steps, seed 0`)
    // Its thumbnail is asked for once the view settles.
    await page.waitForFunction((i) => {
      const img = document.querySelector(
        `[data-testid="gallery-cell"][data-index="${i}"] img`,
      ) as HTMLImageElement | null
      return img?.complete === true && img.naturalWidth > 0
    }, IMAGES - 1)
    await page
      .getByRole('region', { name: 'Gallery' })
      .screenshot({ path: path.join(REPO_ROOT, 'test-results', 'gallery-10k-bottom.png') })
  })

  it('jumps with Home and End, and searches all 10,000', async () => {
    await page.locator('[data-testid="gallery-cell"][tabindex="0"]').focus()
    await page.keyboard.press('Home')
    expect(await focusedCellIndex(page)).toBe(0)
    await page.keyboard.press('End')
    expect(await focusedCellIndex(page)).toBe(IMAGES - 1)
    await page.keyboard.press('Home')
    expect(await focusedCellIndex(page)).toBe(0)
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="gallery-cell"][data-index="0"]')?.hasAttribute('data-id'),
    )

    await page.getByRole('region', { name: 'Gallery' }).getByLabel('Search', { exact: true }).fill('4242')
    await waitForGalleryCount(page, 1)
    expect(await cells().first().getAttribute('aria-label')).toBe(`${CLASSES[4242 % 4]}, 2 steps, seed 4242`)
    await page.getByRole('region', { name: 'Gallery' }).getByLabel('Search', { exact: true }).fill('')
    await waitForGalleryCount(page, IMAGES)
  })

  it('logged no console errors', () => {
    expect(app.consoleProblems).toEqual([])
  })
})
