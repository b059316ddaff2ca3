import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { parseServeArgs } from '../../main/serve/serveArgs.ts'
import { BUILT_SERVE, createTestApp, REPO_ROOT, tempDir } from '../support/testApp.ts'

type TestApp = Awaited<ReturnType<typeof createTestApp>>
const token = 'serve-test-token'
let app: TestApp
let server: http.Server
let port: number
let base: string
let galleryDir: string

beforeAll(async () => {
  app = await createTestApp()
  galleryDir = tempDir('gallery')
  fs.writeFileSync(path.join(galleryDir, 'cat.png'), Buffer.from('89504e470d0a1a0a', 'hex'))
  fs.writeFileSync(path.join(galleryDir, 'notes.txt'), 'not an image')
  server = createServeServer({
    dispatch: app.dispatch,
    events: app.events,
    token,
    staticDir: path.join(REPO_ROOT, 'out/renderer'),
    galleryDir: () => galleryDir,
    loopbackOnly: true,
    maxBodyBytes: 64 * 1024,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
  base = `http://127.0.0.1:${port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await app.close()
})

const auth = { authorization: `Bearer ${token}` }

/** Raw request, for what fetch will not send (a forged Host header, a lying path). */
function raw(
  pathname: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('serve mode: the token', () => {
  it('refuses every kind of request without it, or with a wrong one: 401', async () => {
    for (const url of ['/', '/index.html', '/api/events', '/gallery/cat.png']) {
      expect((await fetch(base + url)).status, url).toBe(401)
    }
    const call = await fetch(`${base}/api/call/system.info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: '{}',
    })
    expect(call.status).toBe(401)
    expect(await call.json()).toMatchObject({ ok: false, error: { code: 'unauthorized' } })
    expect((await fetch(`${base}/?token=wrong`, { redirect: 'manual' })).status).toBe(401)
  })

  it('swaps a valid ?token= for an HttpOnly SameSite cookie and a clean address', async () => {
    const first = await fetch(`${base}/?token=${token}`, { redirect: 'manual' })
    expect(first.status).toBe(303)
    expect(first.headers.get('location')).toBe('/')
    const cookie = first.headers.get('set-cookie') ?? ''
    expect(cookie).toContain(`ddstudio_token_${port}=${token}`)
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    const page = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0] ?? '' } })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<div id="root">')
  })

  it('serves the renderer with a strict CSP and hardening headers', async () => {
    const page = await fetch(`${base}/`, { headers: auth })
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toMatch(/unsafe-eval|unsafe-inline|https?:/)
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

describe('serve mode: bad requests', () => {
  it('answers an oversized body with 413 (declared length)', async () => {
    const response = await fetch(`${base}/api/call/settings.update`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ theme: 'x'.repeat(100 * 1024) }),
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ ok: false, error: { code: 'payload_too_large' } })
  })

  it('answers an oversized chunked body with 413 too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/api/call/settings.update',
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      for (let i = 0; i < 80; i++) req.write('x'.repeat(1024))
      req.end()
    })
    expect(status).toBe(413)
  })

  it('refuses a non-loopback Host header (DNS rebinding) and cross-origin calls', async () => {
    expect((await raw('/', { ...auth, host: 'evil.example:80' })).status).toBe(403)
    const cross = await fetch(`${base}/api/call/host.status`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', origin: 'https://evil.example' },
      body: '{}',
    })
    expect(cross.status).toBe(403)
  })

  it('requires JSON and POST for calls', async () => {
    const form = await fetch(`${base}/api/call/host.status`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    })
    expect(form.status).toBe(400)
    expect((await fetch(`${base}/api/call/host.status`, { headers: auth })).status).toBe(405)
    const broken = await fetch(`${base}/api/call/host.status`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"unterminated": ',
    })
    expect(broken.status).toBe(400)
    expect(((await broken.json()) as { error: { message: string } }).error.message).toMatch(
      /^body: not valid JSON/,
    )
  })

  it('serves gallery images but refuses traversal, other file types and missing files', async () => {
    const ok = await raw('/gallery/cat.png', auth)
    expect(ok.status).toBe(200)
    expect(ok.headers['content-type']).toBe('image/png')
    // Plain and %2e dot segments are resolved by URL parsing before routing: they land outside /gallery/.
    for (const attempt of ['/gallery/../../../../etc/passwd', '/gallery/%2e%2e/%2e%2e/etc/passwd']) {
      const answer = await raw(attempt, auth)
      expect(answer.status, attempt).toBe(404)
      expect(answer.body).not.toContain('root:')
    }
    // Encoded separators survive URL parsing and must be caught by the confinement check.
    for (const attempt of [
      '/gallery/..%2f..%2fsettings.json',
      '/gallery/..%5c..%5csecret.png',
      '/gallery/notes.txt',
    ]) {
      expect((await raw(attempt, auth)).status, attempt).toBe(403)
    }
    expect((await raw('/gallery/%00.png', auth)).status).toBe(400)
    expect((await raw('/gallery/missing.png', auth)).status).toBe(404)
    expect((await raw('/..%2fpackage.json', auth)).status).toBe(403)
  })
})

describe('serve mode: events', () => {
  it('streams contract events as Server-Sent Events', async () => {
    const controller = new AbortController()
    const response = await fetch(`${base}/api/events`, { headers: auth, signal: controller.signal })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    const restarted = fetch(`${base}/api/call/host.restart`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    })
    while (!text.includes('"state":"ready"')) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
    controller.abort()
    expect(text).toContain('event: host.onState')
    expect(text).toContain('"state":"starting"')
    expect((await restarted).status).toBe(200)
  })
})

describe('serve mode: the command line', () => {
  it('refuses a non-loopback --host unless --allow-remote is given', () => {
    expect(() => parseServeArgs(['--host', '0.0.0.0'])).toThrow(/--allow-remote/)
    expect(parseServeArgs(['--host', '0.0.0.0', '--allow-remote']).host).toBe('0.0.0.0')
    expect(parseServeArgs([]).host).toBe('127.0.0.1')
    expect(() => parseServeArgs(['--port', '70000'])).toThrow(/--port/)
    expect(() => parseServeArgs(['--bogus'])).toThrow()
  })

  it('`serve.js` prints its URL with a token, and exits 2 with a reason on a bad --host', async () => {
    const refused = spawn(process.execPath, [BUILT_SERVE, '--host', '0.0.0.0'], { stdio: 'pipe' })
    let stderr = ''
    refused.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const code = await new Promise((resolve) => refused.on('exit', resolve))
    expect(code).toBe(2)
    expect(stderr).toContain('refusing to listen on non-loopback address')

    const dataDir = tempDir('serve-cli')
    const child = spawn(process.execPath, [BUILT_SERVE, '--data-dir', dataDir], { stdio: 'pipe' })
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(out)
        if (match) resolve(match[0])
      })
      child.on('exit', () => reject(new Error(`serve exited early: ${out}`)))
    })
    const page = await fetch(url, { redirect: 'manual' })
    expect(page.status).toBe(303)
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    expect((await fetch(new URL('/', url), { headers: { cookie } })).status).toBe(200)
    child.kill('SIGTERM')
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0)
  })
})
