/** Checks on what `electron-vite build` produced: the security properties live in the artefacts. */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, requireBuild } from '../support/testApp.ts'

const out = path.join(REPO_ROOT, 'out')

describe('the build', () => {
  it('bundles the sandboxed preload whole, as CommonJS that requires nothing but electron', () => {
    requireBuild()
    const preload = fs.readFileSync(path.join(out, 'preload', 'index.cjs'), 'utf8')
    const required = [...preload.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1])
    expect(new Set(required)).toEqual(new Set(['electron']))
    expect(preload).not.toMatch(/^\s*import\s/m)
    expect(preload).toContain('exposeInMainWorld')
  })

  it('puts a strict Content-Security-Policy into index.html', () => {
    const html = fs.readFileSync(path.join(out, 'renderer', 'index.html'), 'utf8')
    const csp = (/http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '').replaceAll(
      '&#39;',
      "'",
    )
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toMatch(/unsafe-eval|unsafe-inline|https?:|\*/)
    // No remote scripts or styles anywhere in the page.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
  })

  it('ships third-party notices inside the renderer bundle', () => {
    const assets = fs.readdirSync(path.join(out, 'renderer', 'assets')).filter((f) => f.endsWith('.js'))
    const bundle = assets
      .map((f) => fs.readFileSync(path.join(out, 'renderer', 'assets', f), 'utf8'))
      .join('\n')
    for (const name of ['onnxruntime-node', 'react', 'zod', 'electron']) {
      expect(bundle).toMatch(new RegExp(`"name":\\s*"${name}"`))
    }
    expect(bundle).toContain('Copyright (c) Microsoft Corporation')
  })
})
