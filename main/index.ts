/** Electron entry: wires the electron-free app (createApp) to windows, IPC, the gallery protocol and a utility process. */
import path from 'node:path'
import { app, BrowserWindow, ipcMain, session } from 'electron'
import { type App, createApp } from './app/createApp.ts'
import { handleGalleryProtocol, registerGalleryScheme } from './electron/galleryProtocol.ts'
import { forwardEvents, registerContract } from './electron/ipcAdapter.ts'
import { utilityProcessLauncher } from './electron/utilityLauncher.ts'
import { createMainWindow, hardenContents, hardenSession, isAppFrame } from './electron/window.ts'

let mainWindow: BrowserWindow | null = null
let theApp: App | null = null

function focusMainWindow(): void {
  if (!mainWindow || mainWindow.isDestroyed()) return
  if (mainWindow.isMinimized()) mainWindow.restore()
  mainWindow.focus()
}

async function start(): Promise<void> {
  await app.whenReady()
  hardenSession(session.defaultSession)
  const userData = app.getPath('userData')
  theApp = await createApp({
    shell: 'electron',
    dataDir: userData,
    defaults: {
      galleryDir: path.join(app.getPath('pictures'), 'DD Studio'),
      modelsDir: path.join(userData, 'models'),
    },
    launcher: utilityProcessLauncher(path.join(import.meta.dirname, 'host.js')),
  })
  const settings = theApp.settings
  const gallery = theApp.gallery
  handleGalleryProtocol(
    () => settings.get().galleryDir,
    (urlPath) => gallery.thumbnail(urlPath),
  )
  registerContract(ipcMain, theApp.dispatch, (frame) => isAppFrame(mainWindow, frame))
  forwardEvents(theApp.events, () => BrowserWindow.getAllWindows())
  mainWindow = createMainWindow()
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  registerGalleryScheme()
  app.on('second-instance', focusMainWindow)
  app.on('web-contents-created', (_event, contents) => hardenContents(contents))
  app.on('window-all-closed', () => app.quit())
  app.on('before-quit', () => {
    void theApp?.close()
  })
  start().catch((err: unknown) => {
    console.error('DD Studio failed to start:', err)
    app.exit(1)
  })
}
