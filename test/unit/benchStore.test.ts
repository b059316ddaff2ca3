/**
 * Benchmark result files: round trips, first-run.json written once and never replaced, and damaged files
 * answered with a message naming the file (and the field), never an exception.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  firstRunFile,
  latestFile,
  readBenchFile,
  readFirstRun,
  readLatest,
  recordFirstRun,
  writeBenchFile,
  writeLatest,
} from '../../main/bench/benchStore.ts'
import { fakeBenchResult as fakeResult } from '../support/benchFixture.ts'

let dataDir: string
beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dd-bench-store-'))
})
afterEach(async () => {
  await fs.rm(dataDir, { recursive: true, force: true })
})

describe('bench result files', () => {
  it('are missing before the first run, and round-trip after it', async () => {
    expect(await readLatest(dataDir)).toEqual({ status: 'missing', file: latestFile(dataDir) })
    const result = fakeResult()
    expect(await writeLatest(dataDir, result)).toBe(path.join(dataDir, 'bench', 'latest.json'))
    expect(await readLatest(dataDir)).toEqual({ status: 'ok', file: latestFile(dataDir), result })
  })

  it('keep the first run and never replace it', async () => {
    const first = await recordFirstRun(dataDir, fakeResult('2025-01-01T00:00:00.000Z'))
    expect(first).toEqual({ status: 'written', file: firstRunFile(dataDir) })
    const second = await recordFirstRun(dataDir, fakeResult('2025-02-02T00:00:00.000Z'))
    expect(second.status).toBe('kept')
    const read = await readFirstRun(dataDir)
    expect(read.status === 'ok' && read.result.createdAt).toBe('2025-01-01T00:00:00.000Z')
    // No temporary files are left next to it.
    expect(await fs.readdir(path.join(dataDir, 'bench'))).toEqual(['first-run.json'])
  })

  it('refuse to write a result the reader would reject', async () => {
    const bad = fakeResult()
    bad.durationMs = Number.NaN
    await expect(writeBenchFile(latestFile(dataDir), bad)).rejects.toThrow()
    expect((await readLatest(dataDir)).status).toBe('missing')
  })
})

describe('a damaged first-run.json', () => {
  const cases: [string, string, RegExp][] = [
    ['truncated JSON', '{"format": "dd-studio-bench", "formatVe', /first-run\.json is not valid JSON/],
    ['empty', '', /first-run\.json is not valid JSON/],
    ['another format', '{"format": "something-else"}', /first-run\.json is not a DD Studio benchmark result/],
    ['JSON null', 'null', /is not a DD Studio benchmark result/],
    ['a newer version', '{"format": "dd-studio-bench", "formatVersion": 9}', /format version 9, newer/],
  ]
  it.each(cases)('%s: a clear error, no exception', async (_name, content, message) => {
    await fs.mkdir(path.join(dataDir, 'bench'), { recursive: true })
    await fs.writeFile(firstRunFile(dataDir), content)
    const read = await readFirstRun(dataDir)
    expect(read.status).toBe('invalid')
    expect(read.status === 'invalid' && read.error).toMatch(message)
  })

  it('a wrong field: the error names it', async () => {
    const result = fakeResult() as unknown as { modes: { latency: { totalMs: { p50: unknown } } }[] }
    ;(result.modes[0] as (typeof result.modes)[0]).latency.totalMs.p50 = 'fast'
    await fs.mkdir(path.join(dataDir, 'bench'), { recursive: true })
    await fs.writeFile(firstRunFile(dataDir), JSON.stringify(result))
    const read = await readFirstRun(dataDir)
    expect(read.status === 'invalid' && read.error).toMatch(
      /first-run\.json: modes\.0\.latency\.totalMs\.p50: /,
    )
  })

  it('a folder where the file should be: an error, not an exception', async () => {
    await fs.mkdir(firstRunFile(dataDir), { recursive: true })
    const read = await readFirstRun(dataDir)
    expect(read.status === 'invalid' && read.error).toMatch(/is not a file/)
  })

  it('is left as it is by the next run, which says why', async () => {
    await fs.mkdir(path.join(dataDir, 'bench'), { recursive: true })
    await fs.writeFile(firstRunFile(dataDir), 'garbage')
    const record = await recordFirstRun(dataDir, fakeResult())
    expect(record.status).toBe('damaged')
    expect(record.status === 'damaged' && record.error).toMatch(/not valid JSON/)
    expect(await fs.readFile(firstRunFile(dataDir), 'utf8')).toBe('garbage')
  })

  it('a file far too large is not read', async () => {
    await fs.mkdir(path.join(dataDir, 'bench'), { recursive: true })
    await fs.writeFile(firstRunFile(dataDir), Buffer.alloc(5 * 1024 * 1024, 32))
    const read = await readBenchFile(firstRunFile(dataDir))
    expect(read.status === 'invalid' && read.error).toMatch(/too large/)
  })
})
