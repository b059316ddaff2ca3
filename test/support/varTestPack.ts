/**
 * The VAR test pack: the converter's random-weight pack in the official VAR-DD structure (`python -m convert
 * test-pack var`), built into models/.cache/packs/var-test when missing. Built in a folder of its own and renamed
 * into place, so tests that ask for it at the same time never see half a pack.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from './testApp.ts'

export const VAR_PACK_DIR = path.join(REPO_ROOT, 'models', '.cache', 'packs', 'var-test')
const CONVERTER = path.join(REPO_ROOT, 'models', 'convert', 'var_pack.py')

/**
 * Makes sure the pack is there. Answers why it cannot be (no VAR converter in this copy), or null when it is;
 * throws with the converter's output when building fails.
 */
export function ensureVarTestPack(): string | null {
  if (fs.existsSync(path.join(VAR_PACK_DIR, 'manifest.json'))) return null
  if (!fs.existsSync(CONVERTER)) return `${path.relative(REPO_ROOT, CONVERTER)} does not exist yet`
  const building = `${VAR_PACK_DIR}.building-${process.pid}`
  fs.rmSync(building, { recursive: true, force: true })
  fs.mkdirSync(path.dirname(VAR_PACK_DIR), { recursive: true })
  const started = performance.now()
  const run = spawnSync(
    process.execPath,
    ['scripts/run-python.ts', '-m', 'convert', 'test-pack', 'var', '--out', building],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  )
  if (run.status !== 0) {
    fs.rmSync(building, { recursive: true, force: true })
    throw new Error(`building the VAR test pack failed (${run.status}):\n${run.stdout}\n${run.stderr}`)
  }
  // A folder left without a manifest (an interrupted run) is cleared; a complete one built meanwhile stays.
  if (!fs.existsSync(path.join(VAR_PACK_DIR, 'manifest.json'))) {
    fs.rmSync(VAR_PACK_DIR, { recursive: true, force: true })
    try {
      fs.renameSync(building, VAR_PACK_DIR)
    } catch (err) {
      if (!fs.existsSync(path.join(VAR_PACK_DIR, 'manifest.json'))) throw err
    }
  }
  fs.rmSync(building, { recursive: true, force: true })
  console.log(`built ${VAR_PACK_DIR} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return null
}
