/**
 * What the gallery does differently in the desktop app and in a browser (serve mode): where images and
 * thumbnails are fetched from, and the two things only a desktop shell can do (show the file in the system's
 * file manager, drag the file itself out to other apps).
 */
import { shellKind } from '../../transport/client.ts'

/** An id is a relative path with '/' separators: each segment is encoded, the separators are kept. */
function encodeId(id: string): string {
  return id.split('/').map(encodeURIComponent).join('/')
}

/** The full image: dd-gallery://image/<id> in the desktop app, /gallery/<id> in serve mode. */
export function imageUrl(id: string): string {
  return shellKind === 'electron' ? `dd-gallery://image/${encodeId(id)}` : `/gallery/${encodeId(id)}`
}

/** The cached thumbnail (128 px, crisp for small images): made by main on first request. */
export function thumbUrl(id: string): string {
  return shellKind === 'electron' ? `dd-gallery://thumb/${encodeId(id)}` : `/gallery-thumb/${encodeId(id)}`
}

/** The image's file name, for "Save as". */
export function fileNameOf(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1)
}

export interface DesktopActions {
  /**
   * Shows the image's file selected in the system file manager; null where the shell cannot (a browser has no
   * way to open a local folder).
   */
  revealInFolder: ((id: string) => Promise<string | null>) | null
  /**
   * Starts dragging the image's file out to other apps (Electron's webContents.startDrag); answers whether it
   * did, so the caller can leave the browser's own drag (of the image's URL) alone when it did not.
   */
  startDrag(id: string): boolean
}

/**
 * Neither action has a contract method yet, so both shells answer "not here" for now; the desktop app gets them
 * by filling this in, without touching the components that use it.
 */
export const desktopActions: DesktopActions = {
  revealInFolder: null,
  startDrag: () => false,
}

/** Why "Reveal in folder" is missing, for the lightbox to say so. */
export const REVEAL_UNAVAILABLE =
  shellKind === 'electron'
    ? 'Showing the file in its folder is not available in this version.'
    : 'Showing the file in its folder works in the desktop app only; in a browser, use Save as.'
