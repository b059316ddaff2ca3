/**
 * Staging folders that carry their process id in the name (`<prefix><pid>-<random>`): pack imports and
 * checkpoint conversions write into one inside the models folder and rename it into place when complete. At
 * start-up or on a scan, a folder left by a crashed or killed process is removed; one that another running app
 * process (a CLI run, a second window) may still be writing into is left alone.
 */
import fs from 'node:fs/promises'
import path from 'node:path'

/** Another live process's staging folder is left alone for this long, then taken to be an unrelated reused pid's. */
const FOREIGN_STAGING_GRACE_MS = 24 * 60 * 60 * 1000

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether `dir` (named `<prefix><pid>-…`) was left behind: its process is gone, the name has no pid, the pid is
 * this process's (a folder from an earlier process that had the same pid; callers skip their own live folders),
 * or the folder is older than the grace period.
 */
export async function isAbandonedStaging(dir: string, prefix: string): Promise<boolean> {
  const name = path.basename(dir)
  if (!name.startsWith(prefix)) return false
  const pid = Number(name.slice(prefix.length).split('-')[0])
  if (!pid || pid === process.pid || !processAlive(pid)) return true
  const stat = await fs.stat(dir).catch(() => null)
  return !stat || Date.now() - stat.mtimeMs >= FOREIGN_STAGING_GRACE_MS
}
