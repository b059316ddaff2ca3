/**
 * "Import official checkpoint" in the served app, in real Chromium: opened straight from the pack field's button
 * (with the pack field's line on official checkpoints while only the built-in pack is there, axe on both) and
 * reached from the Import pack dialog; the Python check with the real converter (`python -m convert check`); paths stopped at the fields without asking
 * main; VAR-DD's depths and file names; main's refusal of a file that is not there; the real converter's error
 * for files that are not checkpoints, shown as it gave it, with nothing left in the models folder; axe. Then the
 * app served again twice with DDSTUDIO_PYTHON set: to a stand-in interpreter that reports progress and then
 * waits (the progress bar, and a cancel that leaves nothing behind), and to a Python that does not exist (what
 * to do, and no way to start).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../support/testApp.ts'
import { axeViolations, describeFindings, seriousOrCritical } from './axe.ts'
import { openServedPage, type ServedPage } from './pageHelpers.ts'

let app: ServedPage
let page: Page
/** The body of every convert.start call the page made. */
const startCalls: string[] = []
let downloads: string

/** Stands in for Python: answers `-m convert check`, then converts by writing a little and waiting. */
const STAND_IN = `#!/usr/bin/env python3
import json, os, sys, time
args = sys.argv[1:]
if args[2] == "check":
    print(json.dumps({"python": "3.12.0", "torch": "2.4.0", "onnx": "1.16.2", "ok": True, "problems": []}))
    sys.exit(0)
out = args[args.index("--out") + 1]
os.makedirs(out)
with open(os.path.join(out, "generator.onnx"), "wb") as f:
    f.write(b"half written")
for i in range(3):
    print(json.dumps({"event": "progress", "stage": "loading checkpoints", "done": i + 1, "total": 3}), flush=True)
print(json.dumps({"event": "progress", "stage": "exporting generator", "done": 1, "total": 4}), flush=True)
time.sleep(120)
`

beforeAll(async () => {
  downloads = tempDir('checkpoints')
  app = await openServedPage({
    // main's refusals answer with an HTTP error status, which Chromium logs by itself.
    allowFailedCalls: true,
    beforeLoad: (_served, p) => {
      p.on('request', (r) => {
        if (r.url().includes('/api/call/convert.start')) startCalls.push(r.postData() ?? '')
      })
    },
  })
  page = app.page
})

afterAll(async () => {
  delete process.env.DDSTUDIO_PYTHON
  await app?.close()
})

const dialog = () => page.getByRole('dialog', { name: 'Import official checkpoint' })
const check = () => dialog().getByTestId('convert-check')
const submit = () => dialog().getByTestId('convert-submit')

const packDialog = () => page.getByRole('dialog', { name: 'Import a model pack' })

/** Through the Import pack dialog's link, the longer way (the pack field's own button is tested first). */
async function openDialog(): Promise<void> {
  await page.getByTestId('import-pack-button').click()
  await packDialog().waitFor()
  await packDialog().getByRole('button', { name: 'Import official checkpoint…' }).click()
  await dialog().waitFor()
}

async function focused(): Promise<{ testId: string | null; value: string | null }> {
  return page.evaluate(() => ({
    testId: document.activeElement?.getAttribute('data-testid') ?? null,
    value: (document.activeElement as HTMLInputElement | null)?.value ?? null,
  }))
}

/** The check's verdict once it is in (not "Checking…"). */
async function checked(): Promise<string> {
  await page.waitForFunction(
    () => !document.querySelector('[data-testid="convert-check"]')?.textContent?.startsWith('Checking'),
    null,
    { timeout: 60_000 },
  )
  return (await check().textContent()) ?? ''
}

async function fillFiles(files: { student: string; teacher: string; tokenizer: string }): Promise<void> {
  for (const [role, file] of Object.entries(files)) await dialog().getByTestId(`convert-${role}`).fill(file)
}

function junkFiles(): { student: string; teacher: string; tokenizer: string } {
  const files = {
    student: path.join(downloads, 'llamagen-B.pt'),
    teacher: path.join(downloads, 'c2i_B_256.pt'),
    tokenizer: path.join(downloads, 'vq_ds16_c2i.pt'),
  }
  for (const file of Object.values(files)) fs.writeFileSync(file, 'a text file, not a checkpoint\n')
  return files
}

/** The models folder's entries (hidden staging folders included). */
function modelsFolder(): string[] {
  const dir = path.join(app.served.dataDir, 'models')
  return fs.existsSync(dir) ? fs.readdirSync(dir) : []
}

describe('importing official checkpoints in the served app', () => {
  it('opens straight on the official view from the pack field, which says what the checkpoints give', async () => {
    const button = page.getByTestId('import-checkpoint-button')
    // Only the built-in pack is here: a line under the buttons says what official checkpoints become.
    const note = page.getByTestId('official-hint')
    expect(await note.textContent()).toBe(
      'Official LlamaGen-DD and VAR-DD checkpoints become packs of the 1000 ImageNet classes.',
    )
    expect(await button.getAttribute('aria-describedby')).toBe('official-hint')
    const area = await axeViolations(page, '#generate-title + form')
    console.log(describeFindings('Generate form with the import buttons', area))
    expect(seriousOrCritical(area).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])

    await page.getByRole('button', { name: 'Import official checkpoint…' }).click()
    await dialog().waitFor()
    expect(await dialog().evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    expect(await packDialog().count()).toBe(0)
    expect((await focused()).value).toBe('llamagen')
    const findings = await axeViolations(page, '[data-testid="import-pack-dialog"]')
    console.log(describeFindings('import official checkpoint dialog, opened from the pack field', findings))
    expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])

    // Back leads to the pack form of the same modal, with the focus on its path field.
    await dialog().getByRole('button', { name: 'Back' }).click()
    await packDialog().waitFor()
    expect((await focused()).testId).toBe('import-pack-path')
    // Closed, the focus goes back to the button that opened it; the next opening starts on the official view again.
    await page.keyboard.press('Escape')
    await packDialog().waitFor({ state: 'hidden' })
    expect((await focused()).testId).toBe('import-checkpoint-button')
    await page.keyboard.press('Enter')
    await dialog().waitFor()
    await dialog().getByRole('button', { name: 'Close' }).last().click()
    await dialog().waitFor({ state: 'hidden' })
    expect((await focused()).testId).toBe('import-checkpoint-button')
    expect(startCalls).toEqual([])
  })

  it('opens from the Import pack dialog, in the same modal, with the focus on its first field', async () => {
    await openDialog()
    expect(await dialog().evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true)
    expect((await focused()).value).toBe('llamagen')
    await dialog()
      .getByText(/Type or paste each file’s whole path on the machine that runs DD Studio/)
      .waitFor()
  })

  it('checks for Python with torch and onnx, naming the interpreter', async () => {
    const text = await checked()
    console.log(`check: ${text}`)
    expect(text).toMatch(/^Ready to convert with Python \d+\.\d+\.\d+, torch \S+ and onnx \S+ \(/)
    expect(await submit().getAttribute('aria-disabled')).toBe('false')
  })

  it('stops empty and relative paths at the fields, without asking main', async () => {
    await submit().click()
    for (const role of ['student', 'teacher', 'tokenizer']) {
      expect(await dialog().getByTestId(`convert-${role}`).getAttribute('aria-invalid')).toBe('true')
    }
    await dialog().getByText('Give the path of the LlamaGen-DD student file.').waitFor()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('convert-student')
    await dialog().getByTestId('convert-teacher').fill('Downloads/c2i_B_256.pt')
    await dialog()
      .getByText(/The whole path is needed, from the root/)
      .waitFor()
    await dialog().getByLabel('Pack id (optional)').fill('Not An Id')
    await dialog()
      .getByText(/A pack id has lower-case letters, digits and dashes/)
      .waitFor()
    await dialog().getByLabel('Pack id (optional)').fill('')
    expect(startCalls).toEqual([])
  })

  it('shows VAR-DD’s depths and published file names', async () => {
    await dialog().getByLabel('VAR-DD').check()
    const depths = dialog().getByRole('group', { name: 'Depth' }).getByRole('radio')
    expect(await depths.evaluateAll((r) => r.map((e) => (e as HTMLInputElement).value))).toEqual([
      '16',
      '20',
      '24',
    ])
    await dialog().getByLabel('d20').check()
    await dialog().getByText('var-d20.pth').waitFor()
    await dialog().getByText('vae_ch160v4096z32.pth').waitFor()
    await dialog().getByLabel('LlamaGen-DD').check()
    expect(await dialog().getByLabel('B', { exact: true }).isChecked()).toBe(true)
  })

  it('shows main’s refusal of a file that is not there, in its words', async () => {
    const files = junkFiles()
    const missing = path.join(downloads, 'not-downloaded.pt')
    await fillFiles({ ...files, student: missing })
    await submit().click()
    const refused = dialog().getByTestId('convert-refused')
    await refused.waitFor()
    expect(await refused.textContent()).toBe(
      `The conversion could not start: student (LlamaGen-DD student): there is no file at ${missing}`,
    )
    expect(startCalls).toHaveLength(1)
  })

  it('shows the converter’s error for files that are not checkpoints as it gave it; nothing is left', async () => {
    await fillFiles(junkFiles())
    await submit().click()
    const error = dialog().getByTestId('convert-error')
    await error.waitFor({ timeout: 60_000 })
    const text = (await error.textContent()) ?? ''
    console.log(`shown: ${text}`)
    expect(text).toMatch(/^Converting LlamaGen-DD B failed; nothing was added to the models folder\./)
    expect(text).toContain(path.join(downloads, 'llamagen-B.pt'))
    expect(await dialog().getByTestId('convert-refused').count()).toBe(0)
    expect(modelsFolder()).toEqual([])
    expect(await submit().textContent()).toBe('Convert')
  })

  it('has no serious or critical axe findings in the dialog', async () => {
    const findings = await axeViolations(page, '[data-testid="import-pack-dialog"]')
    console.log(describeFindings('import official checkpoint dialog', findings))
    expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
    await page.keyboard.press('Escape')
    await dialog().waitFor({ state: 'hidden' })
  })
})

describe('converting, and cancelling', () => {
  it('shows the converter’s stages on a progress bar, and a cancel leaves nothing behind', async () => {
    const standIn = path.join(downloads, 'python-stand-in')
    fs.writeFileSync(standIn, STAND_IN, { mode: 0o755 })
    process.env.DDSTUDIO_PYTHON = standIn
    try {
      await app.restart()
    } finally {
      delete process.env.DDSTUDIO_PYTHON
    }
    page = app.page
    await openDialog()
    expect(await checked()).toBe(
      `Ready to convert with Python 3.12.0, torch 2.4.0 and onnx 1.16.2 (${standIn}, set by DDSTUDIO_PYTHON).`,
    )
    await fillFiles(junkFiles())
    await dialog().getByLabel('Pack id (optional)').fill('never-there')
    await submit().click()
    const progress = dialog().getByTestId('convert-progress')
    await progress.waitFor()
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="convert-progress"]')?.getAttribute('aria-valuetext') ===
        'Exporting generator (1 of 4)',
    )
    expect(await progress.getAttribute('aria-valuenow')).toBe('1')
    expect(await progress.getAttribute('aria-valuemax')).toBe('4')
    expect(await submit().getAttribute('aria-disabled')).toBe('true')
    expect(modelsFolder().filter((n) => n.startsWith('.convert-'))).toHaveLength(1)

    await dialog().getByRole('button', { name: 'Cancel conversion' }).click()
    const cancelled = dialog().getByTestId('convert-cancelled')
    await cancelled.waitFor({ timeout: 15_000 })
    expect(await cancelled.textContent()).toBe(
      'Converting LlamaGen-DD B was cancelled; nothing was added to the models folder.',
    )
    expect(modelsFolder()).toEqual([])
    await page.keyboard.press('Escape')
    await dialog().waitFor({ state: 'hidden' })
  })
})

describe('without Python', () => {
  it('says which Python it tried and what to do, and offers no way to start', async () => {
    const nowhere = path.join(downloads, 'no-python-here', 'python3')
    process.env.DDSTUDIO_PYTHON = nowhere
    try {
      await app.restart()
    } finally {
      delete process.env.DDSTUDIO_PYTHON
    }
    page = app.page
    startCalls.length = 0
    await openDialog()
    const text = await checked()
    expect(text).toMatch(/^Converting needs Python with torch and onnx, and .* cannot do it yet:/)
    const problems = await dialog()
      .getByTestId('convert-check-problems')
      .getByRole('listitem')
      .allTextContents()
    expect(problems[0]).toMatch(new RegExp(`^could not run ${nowhere}: .*ENOENT`))
    const steps = await dialog()
      .getByTestId('convert-check-instructions')
      .getByRole('listitem')
      .allTextContents()
    expect(steps[0]).toBe(`DD Studio ran ${nowhere}, named by the DDSTUDIO_PYTHON environment variable.`)
    expect(steps[1]).toMatch(/^Install Python 3\.10 or newer .*set DDSTUDIO_PYTHON/)
    expect(await check().getAttribute('role')).toBe('alert')

    expect(await submit().getAttribute('aria-disabled')).toBe('true')
    await fillFiles(junkFiles())
    // Enter in a field submits the form, whatever the button says.
    await dialog().getByTestId('convert-tokenizer').press('Enter')
    await submit().click({ force: true })
    await dialog().getByRole('button', { name: 'Check again' }).click()
    await checked()
    expect(startCalls).toEqual([])

    const findings = await axeViolations(page, '[data-testid="import-pack-dialog"]')
    console.log(describeFindings('import official checkpoint dialog, no Python', findings))
    expect(seriousOrCritical(findings).map((f) => `${f.id}: ${f.nodes.join('; ')}`)).toEqual([])
    expect(app.consoleProblems).toEqual([])
  })
})
