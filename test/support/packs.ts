/** Where the tests find model packs: the committed ones, and the smoke pack the test command builds first. */
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from './testApp.ts'

export const COMMITTED_PACKS_DIR = path.join(REPO_ROOT, 'models', 'packs')
export const SMOKE_PACK_DIR = path.join(REPO_ROOT, 'models', '.cache', 'packs', 'smoke')

export function packDirsUnderTest(): string[] {
  const committed = fs.existsSync(COMMITTED_PACKS_DIR)
    ? fs
        .readdirSync(COMMITTED_PACKS_DIR, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(COMMITTED_PACKS_DIR, e.name))
    : []
  return [...committed, SMOKE_PACK_DIR]
}
