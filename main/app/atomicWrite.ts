/**
 * Write a file so that a crash at any moment leaves either the old content or the new, never half of it:
 * write a temporary file in the same folder, fsync it, rename it over the target, fsync the folder.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(target)
  const tmp = await writeSyncedTemp(target, data)
  try {
    await fs.rename(tmp, target)
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
  await syncDir(dir)
}

/**
 * Writes `data` to a new temporary file next to `target` (creating the folder) and syncs it to disk; returns
 * its path. The caller moves it into place (rename, or link for create-if-absent) and removes it on failure.
 */
export async function writeSyncedTemp(target: string, data: string | Uint8Array): Promise<string> {
  const dir = path.dirname(target)
  await fs.mkdir(dir, { recursive: true })
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await fs.open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return tmp
}

/** Makes a folder's entries (a file created in it, a rename into it) durable. */
export async function syncDir(dir: string): Promise<void> {
  // Directories cannot be opened for fsync on Windows; the rename is already durable enough there.
  if (process.platform === 'win32') return
  const handle = await fs.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
