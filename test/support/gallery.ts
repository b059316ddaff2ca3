/** Helpers for the gallery tests: PNGs like the engine's (or like anyone else's), and the files in a folder. */
import fs from 'node:fs'
import path from 'node:path'
import type { SingleMode } from '../../common/generation.ts'
import { encodePng } from '../../main/engine/output/png.ts'

export interface TestImage {
  packId?: string
  mode?: SingleMode
  classIndex?: number
  className?: string
  seed?: number
  width?: number
  height?: number
  /** Extra text chunks (e.g. an A1111 `parameters`). */
  text?: Record<string, string>
  /** No `dd-studio` metadata: a PNG that DD Studio did not make. */
  foreign?: boolean
}

/** A PNG with a distinct pixel pattern and, unless `foreign`, the engine's `dd-studio` metadata. */
export function makePng(image: TestImage = {}): Buffer {
  const width = image.width ?? 32
  const height = image.height ?? 32
  const rgb = new Uint8Array(width * height * 3)
  const seed = image.seed ?? 1
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 31 + seed * 17 + (i >> 5) * 7) & 0xff
  const text: Record<string, string> = { ...image.text }
  if (!image.foreign) {
    text['dd-studio'] = JSON.stringify({
      app: 'DD Studio',
      appVersion: '0.1.0',
      pack: { id: image.packId ?? 'emoji32', version: '1.0.0', manifestSha256: '0'.repeat(64) },
      mode: image.mode ?? '1step',
      class: { index: image.classIndex ?? 0, name: image.className ?? 'noto / Animals' },
      seed,
      timingsMs: { tokenMs: 1, decodeMs: 2, otherMs: 0.5, totalMs: 3.5 },
    })
  }
  return encodePng(rgb, width, height, text)
}

/** Every file under `dir` (relative, '/'-separated), except the app's .dd-studio folder. */
export function filesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((rel) => !rel.startsWith('.dd-studio/'))
    .sort()
}
