/**
 * The file operations an import is built from. Each one refuses symbolic links or syncs to disk, because an
 * import copies files from places the user picked into the app's data folder, and a pack that is renamed into
 * place must be complete even if the machine goes down right after.
 */
import fsSync from 'node:fs'
import fs, { type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../../common/result.ts'

/** Writes a file that must not exist yet and syncs it, so the rename that publishes it follows durable data. */
export async function writeNewFile(
  file: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const handle = await fs.open(file, 'wx', 0o644)
  try {
    for await (const chunk of chunks) {
      let offset = 0
      while (offset < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset)
        offset += bytesWritten
      }
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Copies one file, refusing a symlink even if one is swapped in after the check (O_NOFOLLOW where it exists). */
export async function copyRegularFile(src: string, dst: string, name: string): Promise<void> {
  let input: FileHandle
  try {
    input = await fs.open(src, fsSync.constants.O_RDONLY | (fsSync.constants.O_NOFOLLOW ?? 0))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new AppError('invalid_input', `${path.dirname(src)}: ${name} is a symbolic link`)
    }
    throw err
  }
  try {
    if (!(await input.stat()).isFile())
      throw new AppError('invalid_input', `${path.dirname(src)}: ${name} is not a file`)
    // autoClose off: the handle is closed below, once, whatever happens.
    await writeNewFile(dst, input.createReadStream({ autoClose: false }))
  } finally {
    await input.close()
  }
}

export async function assertNotLink(file: string, name: string): Promise<void> {
  const stat = await fs.lstat(file).catch(() => null)
  if (stat?.isSymbolicLink())
    throw new AppError('invalid_input', `${path.dirname(file)}: ${name} is a symbolic link`)
}

/** The file's bytes, or null when it is missing or not a file; one larger than `limit` is refused unread. */
export async function readSmallFile(file: string, limit: number): Promise<Uint8Array | null> {
  const stat = await fs.stat(file).catch(() => null)
  if (!stat?.isFile()) return null
  if (stat.size > limit) throw new AppError('invalid_input', `${file} is too large for a manifest`)
  return fs.readFile(file)
}
