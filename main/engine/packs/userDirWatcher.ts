/**
 * Notices packs appearing, disappearing or changing in the user folder, so the app's list follows what the
 * user does in a file manager without a restart.
 */
import fsSync, { type FSWatcher } from 'node:fs'
import { IMPORT_PREFIX } from './packImport.ts'
import type { PackEntry, RegistryLog } from './registryTypes.ts'

const WATCH_DEBOUNCE_MS = 300
/** How often a watcher whose user folder is missing looks for it again. */
const WATCH_RETRY_MS = 1000

/** What listeners see of a scan: two scans with one signature are the same list to them. */
export function signatureOf(entries: PackEntry[]): string {
  return JSON.stringify(
    entries.map((e) => [e.id, e.dir, e.source, e.status, e.problems, e.warnings, e.manifestSha256]),
  )
}

/**
 * Watches the user folder and each pack folder in it (one level is enough: packs are flat), because a pack
 * copied in by a file manager first appears as an empty folder whose files arrive later. Survives the folder
 * not existing yet, or being deleted and created again, by looking for it every second while it is missing.
 */
export class UserDirWatcher {
  readonly listeners = new Set<(entries: PackEntry[]) => void>()
  private root: FSWatcher | null = null
  private rootIno: number | null = null
  private readonly packWatchers = new Map<string, FSWatcher>()
  private debounce: NodeJS.Timeout | null = null
  private retry: NodeJS.Timeout | null = null
  private running = false
  private again = false
  private closed = false

  constructor(
    private readonly dir: string,
    private lastSignature: string,
    private readonly rescan: () => Promise<{ entries: PackEntry[]; packDirs: string[] }>,
    private readonly log: RegistryLog,
  ) {
    this.arm()
  }

  close(): void {
    this.closed = true
    if (this.debounce) clearTimeout(this.debounce)
    if (this.retry) clearTimeout(this.retry)
    this.root?.close()
    for (const w of this.packWatchers.values()) w.close()
    this.packWatchers.clear()
    this.listeners.clear()
  }

  private arm(): void {
    if (this.closed) return
    try {
      this.rootIno = fsSync.statSync(this.dir).ino
      this.root = fsSync.watch(this.dir, (_event, name) => {
        // Staging folders of imports change a lot; only their final rename (to the pack's id) matters.
        if (typeof name === 'string' && name.startsWith(IMPORT_PREFIX)) return
        this.schedule()
      })
      this.root.on('error', () => this.disarm())
      this.root.unref()
      // Whatever happened while nobody watched: the folder may have appeared with packs in it.
      this.schedule()
    } catch {
      this.root = null
      this.retry = setTimeout(() => {
        this.retry = null
        this.arm()
      }, WATCH_RETRY_MS)
      this.retry.unref()
    }
  }

  /** The user folder went away (or was replaced): drop every watcher and wait for it to come back. */
  private disarm(): void {
    this.root?.close()
    this.root = null
    for (const w of this.packWatchers.values()) w.close()
    this.packWatchers.clear()
    this.schedule()
    if (!this.retry) this.arm()
  }

  private schedule(): void {
    if (this.closed) return
    if (this.debounce) clearTimeout(this.debounce)
    this.debounce = setTimeout(() => {
      this.debounce = null
      void this.run()
    }, WATCH_DEBOUNCE_MS)
    this.debounce.unref()
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    try {
      const ino = fsSync.existsSync(this.dir) ? fsSync.statSync(this.dir).ino : null
      if (this.root && ino !== this.rootIno) this.disarm()
      const { entries, packDirs } = await this.rescan()
      if (this.closed) return
      if (this.root) this.syncPackWatchers(packDirs)
      const signature = signatureOf(entries)
      if (signature !== this.lastSignature) {
        this.lastSignature = signature
        for (const listener of this.listeners) {
          try {
            listener(entries)
          } catch (err) {
            this.log('error', `a pack list listener failed: ${(err as Error).message}`)
          }
        }
      }
    } catch (err) {
      this.log('error', `re-scanning the model packs failed: ${(err as Error).message}`)
    } finally {
      this.running = false
      if (this.again) {
        this.again = false
        this.schedule()
      }
    }
  }

  private syncPackWatchers(dirs: string[]): void {
    const wanted = new Set(dirs)
    for (const [dir, watcher] of this.packWatchers) {
      if (!wanted.has(dir)) {
        watcher.close()
        this.packWatchers.delete(dir)
      }
    }
    for (const dir of wanted) {
      if (this.packWatchers.has(dir)) continue
      try {
        const watcher = fsSync.watch(dir, () => this.schedule())
        watcher.on('error', () => {
          watcher.close()
          this.packWatchers.delete(dir)
          this.schedule()
        })
        watcher.unref()
        this.packWatchers.set(dir, watcher)
      } catch {
        // Gone between the scan and now: the root watcher reports that as well.
      }
    }
  }
}
