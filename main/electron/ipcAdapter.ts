/**
 * The only place that touches ipcMain. Every contract method is registered here through one path:
 * sender check -> dispatch (schema validation, plain service, result envelope). Each call carries an opaque
 * handle of the window that made it, which only the desktop shell reads back (to start a drag from that
 * window). Events go out the same way.
 */
import type { BrowserWindow, IpcMain, IpcMainInvokeEvent, WebFrameMain } from 'electron'
import { channelOf, invokeNames } from '../../common/contract.ts'
import { fail } from '../../common/result.ts'
import type { Dispatch } from '../ipc/dispatcher.ts'
import type { EventBus } from '../ipc/eventBus.ts'
import { senderHandle } from './sender.ts'

export function registerContract(
  ipcMain: IpcMain,
  dispatch: Dispatch,
  isTrustedFrame: (frame: WebFrameMain | null) => boolean,
): void {
  for (const name of invokeNames) {
    ipcMain.handle(channelOf(name), (event: IpcMainInvokeEvent, input: unknown) => {
      if (!isTrustedFrame(event.senderFrame)) {
        return fail('forbidden', `${name}: refused a call from a frame that is not the app's own page`)
      }
      return dispatch(name, input, { transport: 'electron', sender: senderHandle(event.sender) })
    })
  }
}

export function forwardEvents(events: EventBus, windows: () => BrowserWindow[]): () => void {
  return events.subscribe((name, payload) => {
    for (const win of windows()) {
      if (!win.isDestroyed()) win.webContents.send(channelOf(name), payload)
    }
  })
}
