/** Electron entry: wires the electron-free app (createApp) to windows, IPC, the gallery protocol and a utility process. */
import path from 'node:path'
import { app, BrowserWindow, ipcMain, session } from 'electron'
import { type App, createApp } from './app/createApp.ts'
import { electronDesktop } from './electron/desktop.ts'
import { handleGalleryProtocol, registerGalleryScheme } from './electron/galleryProtocol.ts'
import { forwardEvents, registerContract } from './electron/ipcAdapter.ts'
import { utilityProcessLauncher } from './electron/utilityLauncher.ts'
import { createMainWindow, hardenContents, hardenSession, isAppFrame } from './electron/window.ts'

let mainWindow: BrowserWindow | null = null
let theApp: App | null = null
/** 'closing' while the app core shuts down before quitting; 'closed' once it has (or gave up). */
let shutdown: 'running' | 'closing' | 'closed' = 'running'
/** Closing waits for the job being saved and hands this session's deletes to the system trash. */
const CLOSE_LIMIT_MS = 15_000

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
    desktop: electronDesktop(),
  })
  const settings = theApp.settings
  const gallery = theApp.gallery
  const packs = theApp.packs
  handleGalleryProtocol(
    () => settings.get().galleryDir,
    (urlPath) => gallery.thumbnail(urlPath),
    (urlPath) => packs.examplesSheet(urlPath),
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
  // Quitting waits for the app core to close (it saves the running job's images and hands this session's
  // deletes to the system trash), then quits again for real.
  app.on('before-quit', (event) => {
    if (!theApp || shutdown === 'closed') return
    event.preventDefault()
    if (shutdown === 'closing') return
    shutdown = 'closing'
    const limit = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_LIMIT_MS))
    void Promise.race([theApp.close(), limit])
      .catch((err: unknown) => console.error('DD Studio did not close cleanly:', err))
      .finally(() => {
        shutdown = 'closed'
        app.quit()
      })
  })
  start().catch((err: unknown) => {
    console.error('DD Studio failed to start:', err)
    app.exit(1)
  })
}
