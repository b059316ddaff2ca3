import fs from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { IMAGE_EXTENSIONS, resolveConfined } from '../../main/security/confinedPath.ts'
import { tempDir } from '../support/testApp.ts'

let root: string
let outside: string

beforeAll(() => {
  const base = tempDir('confined')
  root = path.join(base, 'gallery')
  outside = path.join(base, 'private')
  fs.mkdirSync(path.join(root, '2026', 'nov'), { recursive: true })
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(root, '2026', 'nov', 'a.png'), 'png')
  fs.writeFileSync(path.join(outside, 'secret.png'), 'secret')
  fs.symlinkSync(path.join(outside, 'secret.png'), path.join(root, 'link.png'))
  fs.symlinkSync(outside, path.join(root, 'linkdir'))
})

describe('files confined to one folder (the gallery protocol and serve routes)', () => {
  it('serves a file inside the folder', async () => {
    const found = await resolveConfined(root, '2026/nov/a.png', IMAGE_EXTENSIONS)
    expect(found).toEqual({ ok: true, file: fs.realpathSync(path.join(root, '2026', 'nov', 'a.png')) })
    expect((await resolveConfined(root, '/2026/nov/a.png', IMAGE_EXTENSIONS)).ok).toBe(true)
  })

  it.each([
    ['../private/secret.png', 403],
    ['2026/../../private/secret.png', 403],
    ['%2e%2e/private/secret.png', 403],
    ['..%2Fprivate%2Fsecret.png', 403],
    ['..\\private\\secret.png', 403],
    ['..%5Cprivate%5Csecret.png', 403],
    ['C:/Windows/win.ini.png', 403],
    ['link.png', 403],
    ['linkdir/secret.png', 403],
    ['2026/nov/a.png%00.png', 400],
    ['%E0%A4%A', 400],
    ['2026/nov/missing.png', 404],
    ['2026/nov', 403],
    ['', 404],
  ])('refuses %s with %i', async (attempt, status) => {
    const found = await resolveConfined(root, attempt, IMAGE_EXTENSIONS)
    expect(found.ok).toBe(false)
    if (!found.ok) expect(found.status).toBe(status)
  })

  it('refuses file types outside the allow-list', async () => {
    fs.writeFileSync(path.join(root, 'page.html'), '<script>')
    expect(await resolveConfined(root, 'page.html', IMAGE_EXTENSIONS)).toMatchObject({
      ok: false,
      status: 403,
    })
  })
})
