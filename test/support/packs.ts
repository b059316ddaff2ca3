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
