/**
 * Sandboxed preload (bundled whole as CommonJS): exposes `window.ddstudio`, one named method per contract entry.
 * The generic invoke/subscribe below stay private to this file; the page only ever sees the named methods.
 */
import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron'
import { buildClient } from '../common/client.ts'
import { channelOf } from '../common/contract.ts'

const client = buildClient({
  invoke: (name, input) => ipcRenderer.invoke(channelOf(name), input),
  subscribe: (name, listener) => {
    const handler = (_event: IpcRendererEvent, payload: unknown) => listener(payload)
    ipcRenderer.on(channelOf(name), handler)
    return () => {
      ipcRenderer.removeListener(channelOf(name), handler)
    }
  },
})

contextBridge.exposeInMainWorld('ddstudio', client)
