/**
 * The opaque sender handle of a contract call (see CallContext in ipc/dispatcher.ts), as only this edge can
 * read it: the webContents of the window that made the call. A handle is a fresh empty object mapped here, so
 * nothing outside main/electron can reach the webContents through it, and a handle made anywhere else (or
 * for a window since closed) leads nowhere.
 */
import type { WebContents } from 'electron'
import type { SenderHandle } from '../ipc/dispatcher.ts'

const senders = new WeakMap<SenderHandle, WebContents>()

export function senderHandle(contents: WebContents): SenderHandle {
  const handle = Object.freeze({}) as SenderHandle
  senders.set(handle, contents)
  return handle
}

/** The live webContents behind a handle; null when it was not made here or its window is gone. */
export function webContentsOf(handle: SenderHandle): WebContents | null {
  const contents = senders.get(handle)
  return contents && !contents.isDestroyed() ? contents : null
}
