/** Which pid-stamped staging folders count as left behind (main/app/stagingFolder.ts), on real folders and processes. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isAbandonedStaging } from '../../main/app/stagingFolder.ts'
import { tempDir } from '../support/testApp.ts'

function folder(name: string, ageMs = 0): string {
  const dir = path.join(tempDir('staging'), name)
  fs.mkdirSync(dir)
  if (ageMs) {
    const then = new Date(Date.now() - ageMs)
    fs.utimesSync(dir, then, then)
  }
  return dir
}

describe('isAbandonedStaging', () => {
  it('keeps a recent folder of another live process, until it is older than a day', async () => {
    const parent = process.ppid
    expect(await isAbandonedStaging(folder(`.import-${parent}-abc`), '.import-')).toBe(false)
    expect(await isAbandonedStaging(folder(`.import-${parent}-old`, 25 * 3600_000), '.import-')).toBe(true)
  })

  it('takes a folder of an ended process, of this pid (an earlier process), or without a pid as left behind', async () => {
    const ended = spawnSync(process.execPath, ['-e', '']).pid as number
    expect(await isAbandonedStaging(folder(`.convert-${ended}-x`), '.convert-')).toBe(true)
    expect(await isAbandonedStaging(folder(`.convert-${process.pid}-x`), '.convert-')).toBe(true)
    expect(await isAbandonedStaging(folder('.convert-x'), '.convert-')).toBe(true)
  })

  it('never claims a folder without the prefix', async () => {
    expect(await isAbandonedStaging(folder('pack-1'), '.convert-')).toBe(false)
  })
})
