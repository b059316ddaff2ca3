/**
 * Helpers for the end-to-end tests: the served app open in Chromium (with its console watched), reading what
 * the page shows and dropping files on it.
 */
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core'
import { launchChromium, type ServedApp, startServedApp } from '../support/servedApp.ts'

export interface ServedPageOptions {
  /** Passed to startServedApp: `dataDir` to serve an existing data folder. */
  serve?: Parameters<typeof startServedApp>[0]
  /** The page's context: viewport (1280x800 unless given), downloads, permissions. */
  context?: BrowserContextOptions
  /**
   * Leave out the "Failed to load resource" errors that Chromium logs by itself for a contract call answered
   * with an HTTP error status (a refused or cancelled call), for tests that make such calls on purpose.
   */
  allowFailedCalls?: boolean
  /** Runs after the page is made and before it loads the app: files in the data folder, more listeners. */
  beforeLoad?: (served: ServedApp, page: Page) => void | Promise<void>
  /** What to wait for once the app has loaded; by default the status bar's "Inference host ready". */
  ready?: (page: Page) => Promise<unknown>
}

export interface ServedPage {
  /** The running server; replaced by restart(). */
  served: ServedApp
  browser: Browser
  context: BrowserContext
  /** The page showing the app; replaced by restart(). */
  page: Page
  /** Console errors and warnings (CSP violations among them) and uncaught page errors, in order. */
  consoleProblems: string[]
  /** Closes the page and stops the server, then serves the same data folder again and opens it in a new page. */
  restart(): Promise<void>
  /** Closes Chromium and stops the server. */
  close(): Promise<void>
}

/** Waits for the status bar to say that the inference host is ready. */
export async function hostReady(page: Page): Promise<void> {
  await page.getByText('Inference host ready').waitFor({ timeout: 30_000 })
}

/**
 * Starts the served app, launches Chromium and opens the app in a page whose console errors and warnings and
 * page errors are collected in `consoleProblems`, then waits until the app is ready. Call close() in afterAll.
 */
export async function openServedPage(options: ServedPageOptions = {}): Promise<ServedPage> {
  const { allowFailedCalls = false, beforeLoad, ready = hostReady } = options
  const consoleProblems: string[] = []
  let served: ServedApp | undefined
  let browser: Browser | undefined
  const close = async (): Promise<void> => {
    await browser?.close()
    await served?.stop()
  }

  async function openPage(app: ServedApp, context: BrowserContext): Promise<Page> {
    const page = await context.newPage()
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return
      if (
        allowFailedCalls &&
        m.text().startsWith('Failed to load resource') &&
        m.location().url.includes('/api/call/')
      )
        return
      consoleProblems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (err) => consoleProblems.push(`pageerror: ${err.message}`))
    await beforeLoad?.(app, page)
    await page.goto(app.url)
    await ready(page)
    return page
  }

  try {
    served = await startServedApp(options.serve)
    browser = await launchChromium()
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options.context })
    const result: ServedPage = {
      served,
      browser,
      context,
      page: await openPage(served, context),
      consoleProblems,
      async restart() {
        await result.page.close()
        await result.served.stop()
        served = await startServedApp({ ...options.serve, dataDir: result.served.dataDir })
        result.served = served
        result.page = await openPage(served, context)
      },
      close,
    }
    return result
  } catch (error) {
    await close()
    throw error
  }
}

/** The gallery's image count as the pane shows it ("4 images"), once it says `count`. */
export async function waitForGalleryCount(page: Page, count: number, timeout = 30_000): Promise<void> {
  const text = `${count.toLocaleString('en-US')} ${count === 1 ? 'image' : 'images'}`
  await page.waitForFunction(
    (wanted) => document.querySelector('[data-testid="gallery-count"]')?.textContent === wanted,
    text,
    { timeout },
  )
}

/** Waits until no job runs (the progress bar is gone) and Generate can be pressed again. */
export async function waitForIdle(page: Page, timeout = 60_000): Promise<void> {
  await page.getByTestId('progress').waitFor({ state: 'detached', timeout })
  await page.waitForFunction(
    () => !(document.querySelector('[data-testid="generate-button"]') as HTMLButtonElement).disabled,
    null,
    { timeout },
  )
}

/** Drops a file on the page the way a file manager does: dragenter, dragover and drop with a real File. */
export async function dropFile(
  page: Page,
  bytes: Uint8Array,
  name: string,
  type = 'image/png',
): Promise<void> {
  await page.evaluate(
    ([data, fileName, mime]) => {
      const transfer = new DataTransfer()
      transfer.items.add(new File([new Uint8Array(data)], fileName, { type: mime }))
      for (const kind of ['dragenter', 'dragover', 'drop']) {
        document.body.dispatchEvent(
          new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }),
        )
      }
    },
    [Array.from(bytes), name, type] as const,
  )
}

/** The RGBA pixels of an image at its natural size, as the page decoded it. */
export async function pixelsOf(page: Page, selector: string): Promise<number[]> {
  await page.waitForFunction((s) => {
    const img = document.querySelector(s) as HTMLImageElement | null
    return img?.complete === true && img.naturalWidth > 0
  }, selector)
  return page.locator(selector).evaluate((img: HTMLImageElement) => {
    const canvas = document.createElement('canvas')
    canvas.width = img.naturalWidth
    canvas.height = img.naturalHeight
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D
    ctx.drawImage(img, 0, 0)
    return Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data)
  })
}

/** The focused element's data-index (a gallery cell), or null. */
export async function focusedCellIndex(page: Page): Promise<number | null> {
  return page.evaluate(() => {
    const index = document.activeElement?.getAttribute('data-index')
    return index === null || index === undefined ? null : Number(index)
  })
}
