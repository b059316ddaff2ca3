/**
 * The composition root shared by the Electron shell and serve mode: one host supervisor, the services, the
 * handlers for every contract method and the event bus. Electron-free, so tests build the same app.
 */
import path from 'node:path'
import type { Settings, SystemInfo } from '../../common/types.ts'
import type { TrashStrategy } from '../gallery/trash.ts'
import type { HostLauncher } from '../host/protocol.ts'
import { HostSupervisor, type SupervisorOptions } from '../host/supervisor.ts'
import { createDispatcher, type Dispatch, type Handlers } from '../ipc/dispatcher.ts'
import { EventBus } from '../ipc/eventBus.ts'
import { GalleryService } from '../services/galleryService.ts'
import { JobService } from '../services/jobService.ts'
import { PackService } from '../services/packService.ts'
import { SettingsService } from '../services/settingsService.ts'
import { SpeedService } from '../services/speedService.ts'
import { APP_NAME, APP_VERSION, BUILT_IN_PACKS_DIR } from './appMeta.ts'

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
  gallery?: {
    /** Where deleted images go (default: the trash folder inside the gallery). */
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
  close(): Promise<void>
}

export async function createApp(options: AppOptions): Promise<App> {
  const events = new EventBus()
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

  const speeds = await SpeedService.open({ dataDir: options.dataDir, warn: (m) => log('warn', 'main', m) })

  const gallery = new GalleryService({
    galleryDir: () => settings.get().galleryDir,
    log: (level, message) => log(level, 'main', message),
    onChange: (change) => events.emit('gallery.onChange', change),
    trash: options.gallery?.trash,
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
    close: async () => {
      jobs.cancelAll()
      packs.close()
      // After the running job's images are saved: close waits for the save in progress.
      await gallery.close()
      await Promise.all([host.stop(), speeds.flush()])
    },
  }
}
