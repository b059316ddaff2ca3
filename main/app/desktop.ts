/**
 * What only the desktop shell can do, handed to the electron-free app core as plain functions: main/index.ts
 * builds them from Electron's shell and webContents (main/electron/desktop.ts); serve mode and the CLI leave
 * them out, and the contract methods that need them answer 'unavailable' there. Tests pass fakes.
 */
import type { SenderHandle } from '../ipc/dispatcher.ts'

export interface DesktopShell {
  /** Shows the file selected in the system's file manager (Electron: shell.showItemInFolder). */
  revealFile(file: string): void | Promise<void>
  /**
   * Starts dragging `file` out of the window that made the call (`sender`), with the image file `icon` under
   * the pointer (Electron: webContents.startDrag).
   */
  startDrag(sender: SenderHandle, file: string, icon: string): void | Promise<void>
  /** Moves a file to the system's trash (Electron: shell.trashItem); rejects when it cannot. */
  trashItem(file: string): Promise<void>
  /**
   * Asks the user for one existing file in the system's file dialog, attached to the window that made the call
   * (Electron: dialog.showOpenDialog); resolves to its absolute path, or null when the user cancels.
   */
  pickFile(sender: SenderHandle, options: PickFileOptions): Promise<string | null>
}

export interface PickFileOptions {
  title: string
  /** Offered file types; extensions without the dot, '*' for any. */
  filters: { name: string; extensions: string[] }[]
}
