import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_COMPARE_MODES } from '../../common/generation.ts'
import { inFlagTerms, parseGenerateArgs } from '../../main/cli/generateArgs.ts'
import { METADATA_KEY } from '../../main/engine/generate.ts'
import { decodePngRgb, readPngText } from '../../main/engine/output/png.ts'
import { textPackDir } from '../support/packs.ts'
import { BUILT_CLI, requireBuild, tempDir } from '../support/testApp.ts'

function generate(args: string[]) {
  requireBuild()
  const run = spawnSync(process.execPath, [BUILT_CLI, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { ...run, all: `${run.stdout}\n${run.stderr}` }
}

function pngsIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
}

const TIMINGS = /tokens \d+\.\d\d ms, decode \d+\.\d\d ms, other \d+\.\d\d ms, total \d+\.\d\d ms/

describe('npm run generate: its arguments', () => {
  it('validates them and names the bad one', () => {
    expect(() => parseGenerateArgs(['--mode', 'turbo'])).toThrow(/--mode/)
    expect(() => parseGenerateArgs(['--seed', '-1'])).toThrow(/--seed/)
    expect(() => parseGenerateArgs(['--seed', '4.5'])).toThrow(/--seed/)
    expect(() => parseGenerateArgs(['--seed', String(2 ** 32)])).toThrow(/--seed/)
    expect(() => parseGenerateArgs(['--n', '0'])).toThrow(/--n/)
    expect(() => parseGenerateArgs(['--n', '1000'])).toThrow(/--n/)
    expect(() => parseGenerateArgs(['--what'])).toThrow(/what/)
    expect(parseGenerateArgs(['--mode', 'compare', '--seed', '42', '--n', '4'])).toMatchObject({
      mode: 'compare',
      seed: 42,
      n: 4,
    })
  })

  it('takes the sampling flags', () => {
    expect(
      parseGenerateArgs([
        '--mode',
        'custom',
        '--t-list',
        '0,16,40',
        '--hybrid',
        '4,20',
        '--temperature',
        '0.7',
        '--top-k',
        '10',
        '--top-p',
        '0.9',
        '--cfg',
        '1.5',
        '--class',
        'noto / Flags',
      ]),
    ).toMatchObject({
      mode: 'custom',
      tList: [0, 16, 40],
      hybrid: [4, 20],
      temperature: 0.7,
      topK: 10,
      topP: 0.9,
      cfg: 1.5,
      class: 'noto / Flags',
    })
    expect(parseGenerateArgs([])).toMatchObject({
      class: 0,
      mode: '1step',
      tList: null,
      hybrid: null,
      temperature: null,
      topK: null,
      topP: null,
      cfg: null,
    })
    expect(parseGenerateArgs(['--class', '12']).class).toBe(12)
    // A published schedule's own split_t as a third number.
    expect(parseGenerateArgs(['--hybrid', '4,5,8']).hybrid).toEqual([4, 5, 8])
  })

  it('refuses bad sampling flags, naming the flag', () => {
    const bad: [string[], RegExp][] = [
      [['--t-list', '0,a'], /--t-list/],
      [['--t-list', ''], /--t-list/],
      [['--t-list', '0,-3'], /--t-list/],
      [['--hybrid', '5'], /--hybrid/],
      [['--hybrid', '4,20,30,40'], /--hybrid/],
      [['--hybrid', '4,20,-1'], /--hybrid/],
      [['--hybrid', 'a,b'], /--hybrid/],
      [['--temperature', '0'], /--temperature/],
      [['--temperature', 'hot'], /--temperature/],
      [['--temperature', '11'], /--temperature/],
      [['--top-k', '0'], /--top-k/],
      [['--top-k', '1.5'], /--top-k/],
      [['--top-p', '1.5'], /--top-p/],
      [['--top-p', '0'], /--top-p/],
      [['--cfg=-1'], /--cfg/],
      [['--cfg', '51'], /--cfg/],
      [['--cfg', 'x'], /--cfg/],
    ]
    for (const [argv, flag] of bad) expect(() => parseGenerateArgs(argv), argv.join(' ')).toThrow(flag)
  })

  it("speaks of the request's fields as flags", () => {
    expect(inFlagTerms("class: 'unicorn' is not a class of pack 'emoji32'")).toBe(
      "--class: 'unicorn' is not a class of pack 'emoji32'",
    )
    expect(inFlagTerms('teacher.topK: must be in 1..512')).toBe('--top-k: must be in 1..512')
    expect(inFlagTerms('hybrid.end: must be greater than start (8) and below 64')).toMatch(/^--hybrid: /)
    expect(inFlagTerms('jobs.submit: input.teacher.cfgScale: must be <= 50; input.seed: x')).toBe(
      '--cfg: must be <= 50; --seed: x',
    )
    expect(inFlagTerms("no model pack 'x'; available: emoji32")).toBe("no model pack 'x'; available: emoji32")
  })
})

describe('npm run generate: images', () => {
  it('writes one PNG per image and prints the timings of each', () => {
    const dir = tempDir('cli')
    const out = path.join(dir, 'out')
    const run = generate(['--data-dir', dir, '--seed', '42', '--n', '2', '--mode', '1step', '--out', out])
    expect(run.status, run.all).toBe(0)
    expect(run.stdout).toContain('execution provider cpu')
    expect(run.stdout).toMatch(
      /job [0-9a-f-]{36}: pack emoji32, class '.+', mode 1step, seed 42, 2 image\(s\)/,
    )
    const files = pngsIn(out)
    expect(files).toEqual(['emoji32-c0-1step-seed42.png', 'emoji32-c0-1step-seed43.png'])
    for (const [i, file] of files.entries()) {
      const png = fs.readFileSync(path.join(out, file))
      expect(decodePngRgb(png)).toMatchObject({ width: 32, height: 32 })
      const meta = JSON.parse(readPngText(png)[METADATA_KEY] ?? '{}') as Record<string, unknown>
      expect(meta).toMatchObject({ mode: '1step', seed: 42 + i, class: { index: 0 } })
      const line = run.stdout.split('\n').find((l) => l.includes(file))
      expect(line, `a line for ${file}`).toMatch(TIMINGS)
      expect(line).toContain(`1step seed ${42 + i}:`)
    }
  })

  it('--mode compare writes one PNG per mode per image, with token agreement', () => {
    const dir = tempDir('cli-compare')
    const out = path.join(dir, 'out')
    const run = generate([
      '--data-dir',
      dir,
      '--seed',
      '7',
      '--n',
      '2',
      '--mode',
      'compare',
      '--class',
      'twemoji / Food',
      '--out',
      out,
    ])
    expect(run.status, run.all).toBe(0)
    const expected = DEFAULT_COMPARE_MODES.flatMap((mode) =>
      [7, 8].map((seed) => `emoji32-c30-${mode}-seed${seed}.png`),
    ).sort()
    expect(pngsIn(out)).toEqual(expected)
    for (const file of expected) {
      const line = run.stdout.split('\n').find((l) => l.includes(file))
      expect(line, `a line for ${file}`).toMatch(TIMINGS)
      if (!file.includes('-exact-')) expect(line).toMatch(/tokens = exact teacher \d+\.\d%/)
    }
  })

  it('exits 2 naming the flag for a bad class or sampling value, and writes nothing', () => {
    const dir = tempDir('cli-bad')
    const out = path.join(dir, 'out')
    const badClass = generate(['--data-dir', dir, '--class', 'unicorn', '--out', out])
    expect(badClass.status, badClass.all).toBe(2)
    expect(badClass.stderr).toMatch(/--class: 'unicorn' is not a class/)
    const badTopK = generate(['--data-dir', dir, '--mode', 'ar', '--top-k', '600', '--out', out])
    expect(badTopK.status, badTopK.all).toBe(2)
    expect(badTopK.stderr).toContain('--top-k: must be in 1..512')
    const badTList = generate(['--data-dir', dir, '--mode', 'custom', '--t-list', '3,10', '--out', out])
    expect(badTList.status, badTList.all).toBe(2)
    expect(badTList.stderr).toContain('--t-list: must start at 0')
    expect(fs.existsSync(out)).toBe(false)

    const badMode = generate(['--mode', 'turbo'])
    expect(badMode.status).toBe(2)
    expect(badMode.stderr).toContain('--mode')
  })
})

describe('npm run generate: a text pack', () => {
  /** A data folder whose models folder holds the text pack (a symlinked folder is accepted). */
  function withTextPack(prefix: string): { dir: string; id: string } {
    const dir = tempDir(prefix)
    const textDir = textPackDir()
    const { id } = JSON.parse(fs.readFileSync(path.join(textDir, 'manifest.json'), 'utf8')) as { id: string }
    fs.mkdirSync(path.join(dir, 'models'))
    fs.symlinkSync(textDir, path.join(dir, 'models', id))
    return { dir, id }
  }

  it('takes --prompt and --negative-prompt, names the files after the prompt and prints the notes', () => {
    expect(parseGenerateArgs(['--prompt', 'red heart'])).toMatchObject({ prompt: 'red heart', class: null })
    expect(parseGenerateArgs(['--negative-prompt', 'blue'])).toMatchObject({
      negativePrompt: 'blue',
      class: 0,
    })
    const { dir, id } = withTextPack('cli-text')
    const out = path.join(dir, 'out')
    const run = generate([
      ...[
        '--data-dir',
        dir,
        '--pack',
        id,
        '--prompt',
        'Noto red heart hearrt',
        '--negative-prompt',
        'twemoji',
      ],
      ...['--mode', 'hybrid', '--seed', '5', '--out', out],
    ])
    expect(run.status, run.all).toBe(0)
    expect(run.stdout).toMatch(
      new RegExp(`job [0-9a-f-]{36}: pack ${id}, prompt "Noto red heart hearrt", mode hybrid`),
    )
    expect(run.stdout).toContain("note: not in this model's vocabulary: hearrt; nearest known: heart")
    expect(pngsIn(out)).toEqual([`${id}-noto-red-heart-hearrt-hybrid-seed5.png`])
    const meta = JSON.parse(
      readPngText(fs.readFileSync(path.join(out, pngsIn(out)[0] ?? '')))[METADATA_KEY] ?? '{}',
    )
    expect(meta).toMatchObject({
      class: null,
      prompt: { text: 'Noto red heart hearrt', negative: 'twemoji' },
    })
  })

  it('exits 2 naming --prompt when a text pack gets none, and --class when it gets one', () => {
    const { dir, id } = withTextPack('cli-text-bad')
    const out = path.join(dir, 'out')
    const none = generate(['--data-dir', dir, '--pack', id, '--out', out])
    expect(none.status, none.all).toBe(2)
    expect(none.stderr).toMatch(/--prompt: is required: pack '.+' draws from a text prompt/)
    const cls = generate(['--data-dir', dir, '--pack', id, '--class', '3', '--prompt', 'heart', '--out', out])
    expect(cls.status, cls.all).toBe(2)
    expect(cls.stderr).toMatch(/--class: pack '.+' draws from a text prompt, not classes/)
    expect(fs.existsSync(out)).toBe(false)
  })
})
