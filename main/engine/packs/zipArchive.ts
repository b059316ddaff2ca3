/**
 * Reads a zip archive held in memory and inflates its entries, refusing anything that could write outside the
 * target folder or inflate without bound. The central directory is read here because fflate's unzip does not
 * expose the entries' attributes (needed to refuse symlinks) nor their encryption flag; fflate does the
 * inflating, in chunks, so an entry that inflates to more than its declared size is stopped early instead of
 * after the whole bomb went through.
 */
import { Inflate } from 'fflate'
import type { AppError } from '../../../common/result.ts'

/** Compressed bytes pushed into the inflater at a time: bounds the work done before the size check runs. */
const INFLATE_CHUNK = 64 * 1024

export interface ZipEntry {
  name: string
  method: number
  compressedSize: number
  size: number
  localOffset: number
  encrypted: boolean
  isSymlink: boolean
}

/** Builds the error for a refused archive; the caller's version names the file the archive came from. */
export type Refuse = (why: string) => AppError

export class ZipArchive {
  /** Every entry, folders included, in central directory order. */
  readonly entries: ZipEntry[]
  /** The uncompressed size the central directory declares for all entries; inflate enforces it per entry. */
  readonly totalSize: number
  private readonly byName = new Map<string, ZipEntry>()

  /**
   * Reads the central directory and refuses the whole archive for one bad entry: an unsafe name (zip slip), a
   * symbolic link, encryption, or a name used twice. Nothing is inflated yet.
   */
  constructor(
    private readonly data: Uint8Array,
    maxEntries: number,
    private readonly refuse: Refuse,
  ) {
    this.entries = readZipDirectory(data, maxEntries, refuse)
    let total = 0
    for (const entry of this.entries) {
      const bad = unsafeEntryName(entry.name)
      if (bad) throw refuse(`entry '${entry.name}' ${bad}; the archive is refused`)
      if (entry.isSymlink) throw refuse(`entry '${entry.name}' is a symbolic link; the archive is refused`)
      if (entry.encrypted) throw refuse(`entry '${entry.name}' is encrypted`)
      // Two entries with one name: tools disagree on which one wins, so the content is ambiguous.
      if (this.byName.has(entry.name)) throw refuse(`entry '${entry.name}' appears twice`)
      this.byName.set(entry.name, entry)
      total += entry.size
    }
    this.totalSize = total
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name)
  }

  /** The entry's bytes, chunk by chunk; stops as soon as they exceed the size the central directory declared. */
  *inflate(entry: ZipEntry): Generator<Uint8Array> {
    const raw = entryData(this.data, entry, this.refuse)
    const wrongSize = () =>
      this.refuse(`entry '${entry.name}' does not have the ${entry.size} bytes the zip declares`)
    if (entry.method === 0) {
      if (raw.length !== entry.size) throw wrongSize()
      yield raw
      return
    }
    if (entry.method !== 8) throw this.refuse(`entry '${entry.name}' uses compression method ${entry.method}`)
    let produced = 0
    let pending: Uint8Array[] = []
    const inflater = new Inflate((chunk) => {
      produced += chunk.length
      pending.push(chunk)
    })
    for (let at = 0; at < raw.length || at === 0; at += INFLATE_CHUNK) {
      try {
        inflater.push(raw.subarray(at, at + INFLATE_CHUNK), at + INFLATE_CHUNK >= raw.length)
      } catch (err) {
        throw this.refuse(`entry '${entry.name}' cannot be inflated (${(err as Error).message})`)
      }
      if (produced > entry.size) throw wrongSize()
      yield* pending
      pending = []
    }
    if (produced !== entry.size) throw wrongSize()
  }
}

function readZipDirectory(data: Uint8Array, maxEntries: number, refuse: Refuse): ZipEntry[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const u16 = (at: number) => view.getUint16(at, true)
  const u32 = (at: number) => view.getUint32(at, true)
  const u64 = (at: number) => {
    const value = view.getBigUint64(at, true)
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw refuse('not a valid zip (a 64-bit field is out of range)')
    return Number(value)
  }
  try {
    // The end record is the last 22 bytes, or further back when the archive has a comment (at most 65,535).
    let end = -1
    for (let at = data.length - 22; at >= 0 && at >= data.length - 22 - 0xffff; at--) {
      if (u32(at) === 0x06054b50) {
        end = at
        break
      }
    }
    if (end < 0) throw refuse('not a zip archive (no end of central directory)')
    let count = u16(end + 10)
    let offset = u32(end + 16)
    if (end >= 20 && u32(end - 20) === 0x07064b50) {
      const end64 = u64(end - 12)
      if (u32(end64) !== 0x06064b50) throw refuse('not a valid zip (damaged zip64 end record)')
      count = u64(end64 + 32)
      offset = u64(end64 + 48)
    } else if (u16(end + 4) !== 0 || u16(end + 6) !== 0) {
      throw refuse('multi-part zip archives are not supported')
    }
    if (count > maxEntries) throw refuse(`${count} entries, more than the limit of ${maxEntries}`)

    const entries: ZipEntry[] = []
    for (let i = 0; i < count; i++) {
      if (u32(offset) !== 0x02014b50)
        throw refuse(`not a valid zip (central directory entry ${i} is damaged)`)
      const flags = u16(offset + 8)
      let compressedSize = u32(offset + 20)
      let size = u32(offset + 24)
      const nameLength = u16(offset + 28)
      const extraLength = u16(offset + 30)
      const commentLength = u16(offset + 32)
      const external = u32(offset + 38)
      let localOffset = u32(offset + 42)
      const nameStart = offset + 46
      if (nameStart + nameLength + extraLength > data.length) throw refuse('not a valid zip (truncated)')
      // Bit 11: UTF-8 names; otherwise CP437, whose ASCII half (all a pack needs) latin1 decodes the same.
      const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(
        data.subarray(nameStart, nameStart + nameLength),
      )
      // Zip64: the 32-bit fields that are all ones are in the 0x0001 extra field, in this order.
      for (let at = nameStart + nameLength; at + 4 <= nameStart + nameLength + extraLength; ) {
        const id = u16(at)
        const length = u16(at + 2)
        if (id === 0x0001) {
          let field = at + 4
          if (size === 0xffffffff) {
            size = u64(field)
            field += 8
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = u64(field)
            field += 8
          }
          if (localOffset === 0xffffffff) localOffset = u64(field)
        }
        at += 4 + length
      }
      entries.push({
        name,
        method: u16(offset + 10),
        compressedSize,
        size,
        localOffset,
        encrypted: (flags & 1) === 1,
        // Unix mode in the high 16 bits (archives made on Unix or macOS): S_IFLNK.
        isSymlink: ((external >>> 16) & 0o170000) === 0o120000,
      })
      offset = nameStart + nameLength + extraLength + commentLength
    }
    return entries
  } catch (err) {
    if (err instanceof RangeError) throw refuse('not a valid zip (truncated)')
    throw err
  }
}

/** Why an entry name is refused (zip slip and friends), or null when it is a plain relative path. */
function unsafeEntryName(name: string): string | null {
  if (name.length === 0) return 'has an empty name'
  if (name.includes('\0')) return 'has a NUL byte in its name'
  if (name.includes('\\')) return 'has a backslash in its name'
  if (name.startsWith('/')) return 'is an absolute path'
  // A colon is a drive letter (C:) or an NTFS alternate stream (file:stream) on Windows.
  if (name.includes(':')) return 'has a drive letter or colon in its name'
  const parts = name.replace(/\/$/, '').split('/')
  if (parts.some((p) => p === '..')) return 'leaves the folder (..)'
  if (parts.some((p) => p === '.' || p === '')) return 'has an empty or . path segment'
  return null
}

/** The entry's compressed bytes, found through its local header (whose name and extra lengths may differ). */
function entryData(data: Uint8Array, entry: ZipEntry, refuse: Refuse): Uint8Array {
  const at = entry.localOffset
  if (
    at + 30 > data.length ||
    data[at] !== 0x50 ||
    data[at + 1] !== 0x4b ||
    data[at + 2] !== 3 ||
    data[at + 3] !== 4
  ) {
    throw refuse(`entry '${entry.name}': damaged local header`)
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true)
  if (start + entry.compressedSize > data.length) throw refuse(`entry '${entry.name}' is truncated`)
  return data.subarray(start, start + entry.compressedSize)
}
