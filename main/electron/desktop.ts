/**
 * The desktop shell (see app/desktop.ts): show a file in the system's file manager, drag a file out to other
 * apps from the window that asked, and the system trash, for the gallery (the paths come from the app core
 * already confined to the gallery folder); and the file dialog in which the user picks checkpoint files.
 */
import { BrowserWindow, dialog, nativeImage, shell } from 'electron'
import { AppError } from '../../common/result.ts'
import type { DesktopShell } from '../app/desktop.ts'
import { THUMB_SIZE } from '../gallery/thumbnails.ts'
import type { SenderHandle } from '../ipc/dispatcher.ts'
import { webContentsOf } from './sender.ts'

export function electronDesktop(): DesktopShell {
  return {
    revealFile: (file) => shell.showItemInFolder(file),
    startDrag: (sender: SenderHandle, file: string, icon: string) => {
      const contents = webContentsOf(sender)
      if (!contents) throw new AppError('unavailable', 'gallery.startDrag: the window that asked is gone')
      contents.startDrag({ file, icon: dragIcon(icon) })
    },
    trashItem: (file) => shell.trashItem(file),
    pickFile: async (sender, options) => {
      const contents = webContentsOf(sender)
      const window = contents ? BrowserWindow.fromWebContents(contents) : null
      if (!window) throw new AppError('unavailable', 'convert.pickFile: the window that asked is gone')
      const picked = await dialog.showOpenDialog(window, {
        title: options.title,
        properties: ['openFile'],
        filters: options.filters,
      })
      return picked.canceled ? null : (picked.filePaths[0] ?? null)
    },
  }
}

/**
 * The picture under the pointer: the thumbnail, or the image scaled down when no thumbnail could be made.
 * macOS refuses an empty icon, so an unreadable file gets a plain grey square.
 */
function dragIcon(file: string): Electron.NativeImage {
  const image = nativeImage.createFromPath(file)
  if (image.isEmpty()) {
    const side = 32
    return nativeImage.createFromBitmap(Buffer.alloc(side * side * 4, 0x80), { width: side, height: side })
  }
  const { width, height } = image.getSize()
  const longest = Math.max(width, height)
  if (longest <= THUMB_SIZE) return image
  const scale = THUMB_SIZE / longest
  return image.resize({
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  })
}
