/** Where the tests find model packs: the committed ones, and the smoke pack the test command builds first. */
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from './testApp.ts'

export const COMMITTED_PACKS_DIR = path.join(REPO_ROOT, 'models', 'packs')
export const SMOKE_PACK_DIR = path.join(REPO_ROOT, 'models', '.cache', 'packs', 'smoke')

/**
 * The committed packs, the smoke pack, and any folders named in DDSTUDIO_TEST_PACKS (separated by the
 * platform's path delimiter): how a pack built elsewhere, such as the GPU variant, gets the same checks.
 */
export function packDirsUnderTest(): string[] {
  const extra = (process.env.DDSTUDIO_TEST_PACKS ?? '')
    .split(path.delimiter)
    .filter((p) => p !== '')
    .map((p) => path.resolve(p))
  const committed = fs.existsSync(COMMITTED_PACKS_DIR)
    ? fs
        .readdirSync(COMMITTED_PACKS_DIR, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(COMMITTED_PACKS_DIR, e.name))
    : []
  return [...committed, SMOKE_PACK_DIR, ...extra]
}

/** The shipped text pack (format revision 1.3), once it is committed. */
export const SHIPPED_TEXT_PACK_DIR = path.join(COMMITTED_PACKS_DIR, 'emoji32-text')
/** The development text pack the pipeline writes before the shipped one exists. */
export const DEV_TEXT_PACK_DIR = path.join(REPO_ROOT, 'models', '.cache', 'packs', 'emoji32-text-dev')

/**
 * The text pack the text tests run on: the shipped one, else the development one. Throws (failing the tests that
 * need it, with this message) when there is neither: text packs are part of every test run.
 */
export function textPackDir(): string {
  for (const dir of [SHIPPED_TEXT_PACK_DIR, DEV_TEXT_PACK_DIR])
    if (fs.existsSync(path.join(dir, 'manifest.json'))) return dir
  throw new Error(
    `no text pack to test: neither ${SHIPPED_TEXT_PACK_DIR} nor ${DEV_TEXT_PACK_DIR} has a manifest.json ` +
      '(build one with `npm run models:build -- emoji32-text`)',
  )
}
