/** The main window and the rules every web contents follows: no navigation, no popups, no permissions. */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { app, BrowserWindow, type Session, shell, type WebFrameMain } from 'electron'

/** The renderer's address: the Vite dev server in `npm run dev`, the built file otherwise. */
export function rendererUrl(): string {
  const dev = process.env.ELECTRON_RENDERER_URL
  if (!app.isPackaged && dev) return dev
  return pathToFileURL(path.join(import.meta.dirname, '..', 'renderer', 'index.html')).toString()
}

/** Links the user clicks may open in the OS browser, but only https. */
export function isSafeExternalUrl(raw: string): boolean {
  try {
    return new URL(raw).protocol === 'https:'
  } catch {
    return false
  }
}

export function isAppFrame(win: BrowserWindow | null, frame: WebFrameMain | null): boolean {
  if (!win || win.isDestroyed() || !frame) return false
  if (frame !== win.webContents.mainFrame) return false
  const app = new URL(rendererUrl())
  const from = new URL(frame.url)
  return app.protocol === 'file:'
    ? from.protocol === 'file:' && from.pathname === app.pathname
    : from.origin === app.origin
}

export function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, permission, callback) =>
    callback(permission === 'clipboard-sanitized-write'),
  )
  ses.setPermissionCheckHandler((_contents, permission) => permission === 'clipboard-sanitized-write')
}

/** Applied to every web contents the app ever creates. */
export function hardenContents(contents: Electron.WebContents): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalUrl(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
  contents.on('will-navigate', (event, url) => {
    if (url !== rendererUrl()) event.preventDefault()
  })
  contents.on('will-redirect', (event) => event.preventDefault())
  contents.on('will-attach-webview', (event) => event.preventDefault())
}

export function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'DD Studio',
    backgroundColor: '#0b0d12',
    webPreferences: {
      preload: path.join(import.meta.dirname, '..', 'preload', 'index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  })
  win.once('ready-to-show', () => win.show())
  void win.loadURL(rendererUrl())
  return win
}
