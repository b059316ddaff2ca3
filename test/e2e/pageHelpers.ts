/** Helpers for the gallery's end-to-end tests: reading what the page shows and dropping files on it. */
import type { Page } from 'playwright-core'

/** The gallery's image count as the pane shows it ("4 images"), once it says `count`. */
export async function waitForGalleryCount(page: Page, count: number, timeout = 30_000): Promise<void> {
  const text = `${count.toLocaleString('en-US')} ${count === 1 ? 'image' : 'images'}`
  await page.waitForFunction(
    (wanted) => document.querySelector('[data-testid="gallery-count"]')?.textContent === wanted,
    text,
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
