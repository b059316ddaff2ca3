/**
 * Copies an image to the system clipboard as PNG. Browsers allow it only in a secure context (the desktop app,
 * or serve mode on localhost) and only where ClipboardItem exists; elsewhere the answer says so.
 */

export interface CopyOutcome {
  ok: boolean
  message: string
}

export async function copyImage(url: string): Promise<CopyOutcome> {
  if (typeof ClipboardItem === 'undefined' || typeof navigator.clipboard?.write !== 'function') {
    return {
      ok: false,
      message:
        'Copying images is not available here: this browser offers no image clipboard on this page (it needs a secure address such as localhost). Use Save as instead.',
    }
  }
  // The blob is handed over as a promise, so the copy still counts as part of the click while it downloads.
  const png = fetch(url).then(async (response) => {
    if (!response.ok) throw new Error(`the image could not be loaded (HTTP ${response.status})`)
    return new Blob([await response.arrayBuffer()], { type: 'image/png' })
  })
  try {
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': png })])
    return { ok: true, message: 'Copied the image to the clipboard.' }
  } catch (error) {
    return { ok: false, message: `Could not copy the image: ${(error as Error).message}` }
  }
}
