/**
 * Remembers what loadPack said about each pack folder, so a scan re-hashes only the packs whose files changed.
 * Hashing a pack reads every byte of its models; a folder's fingerprint (names, sizes, times, inodes) is cheap.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { type LoadedPack, loadPack } from './loadPack.ts'
import type { RegistryLog } from './registryTypes.ts'

export interface CachedLoad {
  fingerprint: string
  loaded: LoadedPack
  manifestSha256: string | null
}

export class PackLoadCache {
  /** loadPack results per folder, valid while the folder's files keep their size, times and inode. */
  private readonly loads = new Map<string, CachedLoad>()

  constructor(private readonly log: RegistryLog) {}

  /** loadPack's verdict on the folder: from the cache while its fingerprint holds, else freshly checked. */
  async load(dir: string): Promise<CachedLoad> {
    let fingerprint: string
    try {
      fingerprint = await fingerprintFolder(dir)
    } catch (err) {
      const problems = [`cannot read the folder: ${(err as Error).message}`]
      return { fingerprint: '', loaded: { ok: false, dir, problems }, manifestSha256: null }
    }
    const hit = this.loads.get(dir)
    if (hit && hit.fingerprint === fingerprint) return hit
    const started = Date.now()
    let loaded: LoadedPack
    try {
      loaded = await loadPack(dir)
    } catch (err) {
      loaded = { ok: false, dir, problems: [`cannot be read: ${(err as Error).message}`] }
    }
    const result = {
      fingerprint,
      loaded,
      manifestSha256: await sha256OrNull(path.join(dir, 'manifest.json')),
    }
    this.loads.set(dir, result)
    this.log(
      'info',
      `checked the pack in ${dir} (${Date.now() - started} ms): ${loaded.ok ? 'ready' : 'broken'}`,
    )
    // Said once per change of the folder, like the check itself: later scans take the verdict from the cache.
    if (loaded.ok) for (const warning of loaded.warnings) this.log('warn', `the pack in ${dir}: ${warning}`)
    return result
  }

  /**
   * Records a verdict reached elsewhere: an import checked the pack in its staging folder, and renaming the
   * folder into `dir` left its files as they were, so the next scan need not hash them again.
   */
  async remember(dir: string, fingerprint: string, loaded: LoadedPack): Promise<void> {
    this.loads.set(dir, {
      fingerprint,
      loaded: { ...loaded, dir },
      manifestSha256: await sha256OrNull(path.join(dir, 'manifest.json')),
    })
  }

  /** Forgets the folders a scan no longer found, so removed packs do not pile up. */
  retainOnly(dirs: ReadonlySet<string>): void {
    for (const dir of this.loads.keys()) if (!dirs.has(dir)) this.loads.delete(dir)
  }
}

/**
 * Identifies the contents of a pack folder without reading them: name, size, modification and change time
 * and inode of every file. The change time cannot be set back by tools that restore modification times.
 */
export async function fingerprintFolder(dir: string): Promise<string> {
  const names = (await fs.readdir(dir)).sort()
  const parts: string[] = []
  for (const name of names) {
    const stat = await fs.stat(path.join(dir, name), { bigint: true }).catch(() => null)
    if (!stat?.isFile()) continue
    parts.push(`${name}\0${stat.size}\0${stat.mtimeNs}\0${stat.ctimeNs}\0${stat.ino}`)
  }
  return parts.join('\n')
}

async function sha256OrNull(file: string): Promise<string | null> {
  try {
    return createHash('sha256')
      .update(await fs.readFile(file))
      .digest('hex')
  } catch {
    return null
  }
}
