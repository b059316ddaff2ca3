/**
 * The composition root shared by the Electron shell and serve mode: one host supervisor, the services, the
 * handlers for every contract method and the event bus. Electron-free, so tests build the same app.
 */
import path from 'node:path'
import { FAMILIES } from '../../common/convert.ts'
import { AppError } from '../../common/result.ts'
import type { Settings, ShellCapabilities, SystemInfo } from '../../common/types.ts'
import { urlPathOfId } from '../gallery/galleryFiles.ts'
import { SystemTrash, type TrashStrategy } from '../gallery/trash.ts'
import type { HostLauncher } from '../host/protocol.ts'
import { HostSupervisor, type SupervisorOptions } from '../host/supervisor.ts'
import { createDispatcher, type Dispatch, type Handlers } from '../ipc/dispatcher.ts'
import { EventBus } from '../ipc/eventBus.ts'
import { ConvertService } from '../services/convertService.ts'
import { GalleryService } from '../services/galleryService.ts'
import { JobService } from '../services/jobService.ts'
import { PackService } from '../services/packService.ts'
import { SettingsService } from '../services/settingsService.ts'
import { SpeedService } from '../services/speedService.ts'
import { APP_NAME, APP_VERSION, appRoot, BUILT_IN_PACKS_DIR } from './appMeta.ts'
import type { DesktopShell } from './desktop.ts'

export interface AppOptions {
  shell: 'electron' | 'serve' | 'cli'
  launcher: HostLauncher
  /** Where settings live (Electron: userData; serve mode: --data-dir). */
  dataDir: string
  /** Defaults for folders, which differ between the desktop app and serve mode. */
  defaults?: Partial<Settings>
  supervisor?: Partial<SupervisorOptions>
  /** Folders of built-in packs (default: models/packs of the app). */
  builtInPackDirs?: string[]
  /** Re-scan the models folder when it changes (the desktop app and serve mode; not the CLI). */
  watchPacks?: boolean
  /** Save finished jobs' images to the gallery (default: yes, except the CLI, which writes them to --out). */
  saveToGallery?: boolean
  /**
   * What only the desktop shell can do (reveal a file, drag it out, the system trash); absent in serve mode
   * and the CLI, where the methods that need it answer 'unavailable'.
   */
  desktop?: DesktopShell
  /** The converter of official checkpoints: the app root it runs in and its environment (tests). */
  convert?: { appRoot?: string; pythonPath?: string; env?: NodeJS.ProcessEnv }
  gallery?: {
    /**
     * Where deleted images go (default: the trash folder inside the gallery; with `desktop`, that folder
     * while the undo lasts and the system's trash after).
     */
    trash?: TrashStrategy
    /** How often listing also looks for files added or removed outside the app (ms; 0: every listing). */
    rescanIntervalMs?: number
  }
}

export interface App {
  dispatch: Dispatch
  events: EventBus
  host: HostSupervisor
  settings: SettingsService
  packs: PackService
  jobs: JobService
  gallery: GalleryService
  speeds: SpeedService
  convert: ConvertService
  close(): Promise<void>
}

export async function createApp(options: AppOptions): Promise<App> {
  const events = new EventBus()
  const desktop = options.desktop
  const log = (level: 'debug' | 'info' | 'warn' | 'error', source: 'main' | 'host', message: string) =>
    events.emit('app.onLog', { level, source, message, at: new Date().toISOString() })

  const defaults: Settings = {
    theme: 'dark',
    galleryDir: path.join(options.dataDir, 'gallery'),
    modelsDir: path.join(options.dataDir, 'models'),
    executionProvider: 'auto',
    defaultMode: '1step',
    ...options.defaults,
  }
  const settings = await SettingsService.open(path.join(options.dataDir, 'settings.json'), defaults, (m) =>
    log('warn', 'main', m),
  )

  const host = new HostSupervisor(
    options.launcher,
    {
      onState: (status) => events.emit('host.onState', status),
      onLog: (level, message) => log(level, 'host', message),
    },
    options.supervisor,
  )

  const packs = await PackService.open({
    builtInDirs: options.builtInPackDirs ?? [BUILT_IN_PACKS_DIR],
    userDir: settings.get().modelsDir,
    log: (level, message) => log(level, 'main', message),
    onChange: (list) => events.emit('packs.onChange', list),
    watch: options.watchPacks ?? options.shell !== 'cli',
  })

  const convert = await ConvertService.open({
    userDir: settings.get().modelsDir,
    packs,
    appRoot: options.convert?.appRoot ?? appRoot(),
    pythonPath: options.convert?.pythonPath,
    env: options.convert?.env,
    onProgress: (job) => events.emit('convert.onProgress', job),
    onPacksChange: (list) => events.emit('packs.onChange', list),
    log: (level, message) => log(level, 'main', message),
  })

  const speeds = await SpeedService.open({ dataDir: options.dataDir, warn: (m) => log('warn', 'main', m) })

  const gallery = new GalleryService({
    galleryDir: () => settings.get().galleryDir,
    log: (level, message) => log(level, 'main', message),
    onChange: (change) => events.emit('gallery.onChange', change),
    trash:
      options.gallery?.trash ??
      (desktop
        ? new SystemTrash({
            trashItem: (file) => desktop.trashItem(file),
            warn: (m) => log('warn', 'main', m),
          })
        : undefined),
    rescanIntervalMs: options.gallery?.rescanIntervalMs,
  })
  const saveToGallery = options.saveToGallery ?? options.shell !== 'cli'

  const jobs = new JobService(host, packs, {
    appVersion: APP_VERSION,
    preference: () => settings.get().executionProvider,
    onProgress: (progress) => events.emit('jobs.onProgress', progress),
    onChange: (list) => events.emit('jobs.onChange', list),
    keep: saveToGallery ? (result) => gallery.saveJob(result) : undefined,
    onResult: (result) =>
      void speeds
        .record(result)
        .catch((err: unknown) => log('warn', 'main', `could not save the measured speeds: ${String(err)}`)),
  })

  /** The desktop shell, or an 'unavailable' error that says what the action is and where it works. */
  const desktopFor = (method: string, action: string): DesktopShell => {
    if (desktop) return desktop
    const here = { serve: 'in a browser (serve mode)', cli: 'from the command line', electron: 'here' }[
      options.shell
    ]
    throw new AppError(
      'unavailable',
      `${method}: ${action} is a desktop-app action; it is not available ${here}`,
    )
  }
  const capabilities: ShellCapabilities = {
    revealInFolder: desktop !== undefined,
    dragOut: desktop !== undefined,
  }

  const handlers: Handlers = {
    'system.info': async ({ refresh }): Promise<SystemInfo> => {
      const probe = await host.request('systemInfo', {
        refresh: refresh ?? false,
        preference: settings.get().executionProvider,
      })
      return {
        appName: APP_NAME,
        appVersion: APP_VERSION,
        shell: options.shell,
        electronVersion: process.versions.electron ?? null,
        chromeVersion: process.versions.chrome ?? null,
        platform: process.platform,
        arch: process.arch,
        ...probe,
      }
    },
    'system.capabilities': () => capabilities,
    'host.status': () => host.status(),
    'host.restart': () => host.restart(),
    'settings.get': () => settings.get(),
    'settings.update': (patch) => settings.update(patch),
    'packs.list': async ({ rescan }) => (rescan ? packs.rescan() : packs.list()),
    'packs.import': ({ path: source }) => packs.import(source),
    'packs.speeds': ({ packId }) => {
      const id = packId ?? packs.list().find((p) => p.isDefault)?.id
      return id ? speeds.speeds(id) : []
    },
    'convert.check': () => convert.check(),
    'convert.start': (request) => convert.start(request),
    'convert.cancel': ({ jobId }) => convert.cancel(jobId),
    'convert.list': () => convert.list(),
    'convert.pickFile': async ({ family, role }, ctx) => {
      const shell = desktopFor('convert.pickFile', 'choosing a file in a file dialog')
      if (!ctx.sender)
        throw new AppError(
          'unavailable',
          'convert.pickFile: only a call from an app window can open a file dialog',
        )
      const info = FAMILIES[family]
      return shell.pickFile(ctx.sender, {
        title: `Choose the ${info.files[role]} file`,
        filters: [
          { name: 'Checkpoints', extensions: ['pt', 'pth', 'bin', 'ckpt', 'safetensors'] },
          { name: 'All files', extensions: ['*'] },
        ],
      })
    },
    'prompts.check': ({ packId, prompt }) => packs.checkPrompt(packId, prompt),
    'jobs.submit': (request) => jobs.submit(request),
    'jobs.wait': ({ jobId }) => jobs.wait(jobId),
    'jobs.cancel': ({ jobId }) => (jobId !== undefined ? [jobs.cancel(jobId)] : jobs.cancelAll()),
    'jobs.list': () => jobs.list(),
    'gallery.list': (query) => gallery.list(query),
    'gallery.get': ({ id }) => gallery.get(id),
    'gallery.mark': (input) => gallery.mark(input),
    'gallery.delete': ({ ids }) => gallery.delete(ids),
    'gallery.undoDelete': ({ undoToken }) => gallery.undoDelete(undoToken),
    'gallery.rebuild': () => gallery.rebuild(),
    'gallery.reveal': async ({ id }) => {
      const shell = desktopFor('gallery.reveal', 'showing an image in its folder')
      await shell.revealFile(await gallery.file(id))
      return null
    },
    'gallery.startDrag': async ({ id }, ctx) => {
      const shell = desktopFor('gallery.startDrag', 'dragging an image out to other apps')
      if (!ctx.sender) {
        throw new AppError(
          'unavailable',
          'gallery.startDrag: only a call from an app window can start a drag',
        )
      }
      const file = await gallery.file(id)
      // The cached thumbnail goes under the pointer; the image itself where none can be made.
      const thumb = await gallery.thumbnail(urlPathOfId(id))
      await shell.startDrag(ctx.sender, file, thumb.ok ? thumb.file : file)
      return null
    },
  }

  const dispatch = createDispatcher(handlers, (name, err) =>
    log(
      'error',
      'main',
      `${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    ),
  )

  // Start the host now, but let the UI come up while it loads; failures are reported through host.onState.
  host.start().catch(() => undefined)
  // Open and scan the gallery in the background too: files added or removed while the app was closed show up.
  if (saveToGallery)
    gallery.open().catch((err: unknown) => log('warn', 'main', String((err as Error).message)))

  return {
    dispatch,
    events,
    host,
    settings,
    packs,
    jobs,
    gallery,
    speeds,
    convert,
    close: async () => {
      jobs.cancelAll()
      // Stopped first: its staging folder goes before the app does.
      await convert.close()
      packs.close()
      // After the running job's images are saved: close waits for the save in progress.
      await gallery.close()
      await Promise.all([host.stop(), speeds.flush()])
    },
  }
}
