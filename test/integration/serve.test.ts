import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildClient } from '../../common/client.ts'
import type { GenerationResult, JobSummary } from '../../common/generation.ts'
import type { Result } from '../../common/result.ts'
import { BYTES_TAG, fromWireJson } from '../../common/wire.ts'
import { METADATA_KEY } from '../../main/engine/generate.ts'
import { decodePngRgb, readPngText } from '../../main/engine/output/png.ts'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { parseServeArgs } from '../../main/serve/serveArgs.ts'
import { httpTransport } from '../../renderer/src/transport/httpTransport.ts'
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

/** A contract call over HTTP: the status and the raw answer text. */
async function callText(name: string, input: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${base}/api/call/${name}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  })
  return { status: response.status, text: await response.text() }
}

describe('serve mode: generation jobs', () => {
  it('jobs.submit + jobs.wait over HTTP answer with the images, their PNG bytes in base64', async () => {
    const submitted = await callText('jobs.submit', { mode: '1step', class: 0, seed: 42, n: 2 })
    expect(submitted.status, submitted.text).toBe(200)
    const job = (JSON.parse(submitted.text) as { value: JobSummary }).value
    expect(job).toMatchObject({ packId: 'emoji32', mode: '1step', n: 2, seed: 42 })

    const waited = await callText('jobs.wait', { jobId: job.jobId })
    expect(waited.status, waited.text).toBe(200)
    // On the wire: {"$bytes": "<base64>"}, not a Uint8Array flattened into {"0": 137, "1": 80, …}.
    const plain = JSON.parse(waited.text) as { value: { images: { png: unknown }[] } }
    const wirePng = plain.value.images[0]?.png as Record<string, unknown>
    expect(Object.keys(wirePng)).toEqual([BYTES_TAG])
    expect(wirePng[BYTES_TAG]).toMatch(/^iVBORw0KGgo[A-Za-z0-9+/]*={0,2}$/)

    // What the renderer's transport decodes: the same GenerationResult as over Electron IPC.
    const result = (fromWireJson(waited.text) as { ok: true; value: GenerationResult }).value
    expect(result.images.map((i) => i.seed)).toEqual([42, 43])
    for (const image of result.images) {
      expect(image.png).toBeInstanceOf(Uint8Array)
      expect(decodePngRgb(image.png)).toMatchObject({ width: 32, height: 32 })
      expect(JSON.parse(readPngText(image.png)[METADATA_KEY] ?? '{}')).toMatchObject({ seed: image.seed })
    }
    expect(Buffer.from(result.images[0]?.png ?? []).toString('base64')).toBe(wirePng[BYTES_TAG])
  })

  it("the renderer's HTTP transport hands the client Uint8Array PNGs", async () => {
    // In the browser the token travels in the cookie; here it is added to every call.
    const realFetch = globalThis.fetch
    vi.stubGlobal('fetch', (url: string, init: RequestInit) =>
      realFetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...auth } }),
    )
    try {
      const client = buildClient(httpTransport(base))
      const submitted = await client.jobs.submit({
        mode: 'compare',
        class: 3,
        seed: 5,
        compareModes: ['exact', '2step'],
      })
      if (!submitted.ok) throw new Error(submitted.error.message)
      const waited = await client.jobs.wait({ jobId: submitted.value.jobId })
      if (!waited.ok) throw new Error(waited.error.message)
      expect(waited.value.images.map((i) => i.mode)).toEqual(['exact', '2step'])
      for (const image of waited.value.images) {
        expect(image.png).toBeInstanceOf(Uint8Array)
        expect(decodePngRgb(image.png)).toMatchObject({ width: 32, height: 32 })
      }
      expect(waited.value.agreement['2step']?.disagreement).toHaveLength(64)
      const refused = await client.jobs.submit({ mode: '1step', class: 'unicorn' })
      expect(refused).toMatchObject({ ok: false, error: { code: 'invalid_input' } })
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('refusals and cancellations arrive with their codes and HTTP statuses', async () => {
    const badClass = await callText('jobs.submit', { mode: '1step', class: 'unicorn' })
    expect(badClass.status).toBe(400)
    expect(JSON.parse(badClass.text)).toMatchObject({ ok: false, error: { code: 'invalid_input' } })
    expect(badClass.text).toContain('class')
    const badPack = await callText('jobs.submit', { packId: 'no-such-pack', mode: '1step', class: 0 })
    expect(badPack.status).toBe(404)
    expect(badPack.text).toContain('no-such-pack')

    const running = JSON.parse(
      (await callText('jobs.submit', { mode: 'ar', class: 0, n: 64 })).text,
    ) as Result<JobSummary>
    const queued = JSON.parse(
      (await callText('jobs.submit', { mode: '1step', class: 0 })).text,
    ) as Result<JobSummary>
    if (!running.ok || !queued.ok) throw new Error('submit failed')
    const cancelled = await callText('jobs.cancel', { jobId: queued.value.jobId })
    expect(JSON.parse(cancelled.text)).toMatchObject({ ok: true, value: [{ state: 'cancelled' }] })
    const waited = await callText('jobs.wait', { jobId: queued.value.jobId })
    expect(waited.status).toBe(409)
    expect(JSON.parse(waited.text)).toMatchObject({ ok: false, error: { code: 'cancelled' } })
    await callText('jobs.cancel', { all: true })
    expect((await callText('jobs.wait', { jobId: running.value.jobId })).status).toBe(409)
  })

  it('streams job progress and changes as Server-Sent Events', async () => {
    const controller = new AbortController()
    const response = await fetch(`${base}/api/events`, { headers: auth, signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    const submitted = JSON.parse(
      (await callText('jobs.submit', { mode: 'ar', class: 1, seed: 3 })).text,
    ) as Result<JobSummary>
    if (!submitted.ok) throw new Error(submitted.error.message)
    const { jobId } = submitted.value
    let text = ''
    const finished = () =>
      text
        .split('\n\n')
        .some((e) => e.includes('event: jobs.onChange') && e.includes(`"jobId":"${jobId}","state":"done"`))
    while (!finished()) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
    controller.abort()
    const progress = text
      .split('\n\n')
      .filter((e) => e.startsWith('event: jobs.onProgress\n'))
      .map(
        (e) =>
          fromWireJson(e.slice(e.indexOf('data: ') + 6)) as { jobId: string; step: number; total: number },
      )
      .filter((p) => p.jobId === jobId)
    expect(progress.map((p) => p.step)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1))
    expect(progress.every((p) => p.total === 64)).toBe(true)
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
