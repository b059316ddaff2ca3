import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { parseGenerateArgs } from '../../main/cli/generateArgs.ts'
import { BUILT_CLI, requireBuild, tempDir } from '../support/testApp.ts'

describe('npm run generate', () => {
  it('validates its arguments and names the bad one', () => {
    expect(() => parseGenerateArgs(['--mode', 'turbo'])).toThrow(/--mode/)
    expect(() => parseGenerateArgs(['--seed', '-1'])).toThrow(/--seed/)
    expect(() => parseGenerateArgs(['--seed', '4.5'])).toThrow(/--seed/)
    expect(() => parseGenerateArgs(['--n', '0'])).toThrow(/--n/)
    expect(() => parseGenerateArgs(['--n', '1000'])).toThrow(/--n/)
    expect(() => parseGenerateArgs(['--what'])).toThrow(/what/)
    expect(parseGenerateArgs(['--mode', 'compare', '--seed', '42', '--n', '4'])).toMatchObject({
      mode: 'compare',
      seed: 42,
      n: 4,
    })
  })

  it('starts the inference host and reports its execution provider and why it cannot sample yet', () => {
    requireBuild()
    const bad = spawnSync(process.execPath, [BUILT_CLI, '--mode', 'turbo'], { encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('--mode')

    const run = spawnSync(process.execPath, [BUILT_CLI, '--data-dir', tempDir('cli'), '--seed', '42'], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(run.stdout).toContain('execution provider cpu')
    expect(run.stderr).toContain('this build cannot sample yet')
    expect(run.status).toBe(3)
  })
})
