/**
 * The converter's test packs: random weights saved in the official checkpoint structure, converted by
 * `python -m convert test-pack` (models/convert). `npm test` writes them first (`npm run models:testpacks`); a test
 * run on its own builds a missing or outdated one here.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from './testApp.ts'

export type TestPackFamily = 'llamagen' | 'var'

export const CONVERTED_PACKS_DIR = path.join(REPO_ROOT, 'models', '.cache', 'packs')
export const CONVERTER_DIR = path.join(REPO_ROOT, 'models', 'convert')

export function testPackDir(family: TestPackFamily, fp16 = false): string {
  return path.join(CONVERTED_PACKS_DIR, `${family}-test${fp16 ? '-fp16' : ''}`)
}

/** Python sources a test pack is made from: a pack older than any of them is rebuilt. */
function converterSources(): string[] {
  const convert = fs
    .readdirSync(CONVERTER_DIR)
    .filter((f) => f.endsWith('.py'))
    .map((f) => path.join(CONVERTER_DIR, f))
  return [...convert, path.join(REPO_ROOT, 'models', 'ddpipe', 'export.py')]
}

function isCurrent(dir: string): boolean {
  const manifest = path.join(dir, 'manifest.json')
  if (!fs.existsSync(manifest)) return false
  const built = fs.statSync(manifest).mtimeMs
  return converterSources().every((f) => fs.statSync(f).mtimeMs <= built)
}

/**
 * The folder of the family's test pack (with float16 weights when `fp16`), built (or rebuilt, when a converter
 * source is newer) with the command `npm run models:testpacks` runs. Test files run in parallel and may ask for
 * the same pack at once: each builds into a folder of its own and renames it into place, so none sees half a
 * pack. Throws with the command's output when the build fails.
 */
export function ensureTestPack(
  family: TestPackFamily,
  fp16 = false,
): { dir: string; built: boolean; seconds: number } {
  const dir = testPackDir(family, fp16)
  if (isCurrent(dir)) return { dir, built: false, seconds: 0 }
  const started = performance.now()
  const building = `${dir}.building-${process.pid}`
  fs.rmSync(building, { recursive: true, force: true })
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  const args = ['scripts/run-python.ts', '-m', 'convert', 'test-pack', family, '--out', building]
  const run = spawnSync(process.execPath, fp16 ? [...args, '--fp16'] : args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  })
  if (run.status !== 0) {
    fs.rmSync(building, { recursive: true, force: true })
    throw new Error(
      `python -m convert test-pack ${family}${fp16 ? ' --fp16' : ''} failed (exit ${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`,
    )
  }
  // Another test file may have put a current pack in place meanwhile: keep that one.
  if (!isCurrent(dir)) {
    fs.rmSync(dir, { recursive: true, force: true })
    try {
      fs.renameSync(building, dir)
    } catch (err) {
      if (!isCurrent(dir)) throw err
    }
  }
  fs.rmSync(building, { recursive: true, force: true })
  return { dir, built: true, seconds: (performance.now() - started) / 1000 }
}
