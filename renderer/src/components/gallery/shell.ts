/**
 * What the gallery does differently in the desktop app and in a browser (serve mode): where images and
 * thumbnails are fetched from, and the two things only a desktop shell can do (show the file in the system's
 * file manager, drag the file itself out to other apps). Main says which of those work (system.capabilities),
 * so the UI offers an action only where it works.
 */
import { useSyncExternalStore } from 'react'
import type { ShellCapabilities } from '../../../../common/types.ts'
import { client, shellKind } from '../../transport/client.ts'

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
   * Shows the image's file selected in the system file manager and answers why it could not, or null; absent
   * where the shell cannot (a browser has no way to open a local folder).
   */
  revealInFolder: ((id: string) => Promise<string | null>) | null
  /**
   * Starts dragging the image's file out to other apps (main calls webContents.startDrag for this window);
   * answers whether it did, so the caller cancels the browser's own drag (of the image's URL) only then.
   */
  startDrag(id: string): boolean
}

const NONE: DesktopActions = { revealInFolder: null, startDrag: () => false }

/** The actions this shell supports, from system.capabilities: nothing until main has answered. */
function actionsOf(capabilities: ShellCapabilities): DesktopActions {
  return {
    revealInFolder: capabilities.revealInFolder
      ? async (id) => {
          const answer = await client.gallery.reveal({ id })
          return answer.ok ? null : `Could not show the file in its folder: ${answer.error.message}`
        }
      : null,
    startDrag: capabilities.dragOut
      ? (id) => {
          // Main starts the drag while the mouse button is still down; a refusal (the file went away
          // meanwhile) only means that nothing is dragged.
          void client.gallery.startDrag({ id }).then((answer) => {
            if (!answer.ok) console.warn(`Could not drag ${id} out: ${answer.error.message}`)
          })
          return true
        }
      : () => false,
  }
}

let current = NONE
let asked = false
const listeners = new Set<() => void>()

/** Asks main once, on first use; a failed answer is asked again by the next component that mounts. */
function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  if (!asked) {
    asked = true
    void client.system.capabilities({}).then((answer) => {
      if (!answer.ok) {
        asked = false
        return
      }
      current = actionsOf(answer.value)
      for (const notify of listeners) notify()
    })
  }
  return () => listeners.delete(listener)
}

/** The desktop actions this shell really offers; components re-render once main has said which. */
export function useDesktopActions(): DesktopActions {
  return useSyncExternalStore(subscribe, () => current)
}

/** Why "Reveal in folder" is missing, for the lightbox to say so. */
export const REVEAL_UNAVAILABLE =
  shellKind === 'electron'
    ? 'Showing the file in its folder is not available here.'
    : 'Showing the file in its folder works in the desktop app only; in a browser, use Save as.'
