/**
 * Serve mode: the contract over loopback HTTP (JSON for calls, Server-Sent Events for events; answers and events
 * in the wire format of common/wire.ts, where bytes travel as base64) plus the built renderer, the gallery
 * images and the packs' example sheets. Every request needs the per-launch token: as `Authorization: Bearer`,
 * as the cookie set when the printed URL is opened, or as `?token=` (which is swapped for the cookie at once).
 */
import { createReadStream } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ErrorCode, Result } from '../../common/result.ts'
import { toWireJson } from '../../common/wire.ts'
import { resolveGalleryImage } from '../gallery/galleryFiles.ts'
import type { Dispatch } from '../ipc/dispatcher.ts'
import type { EventBus } from '../ipc/eventBus.ts'
import { type Confined, contentTypeOf, IMAGE_EXTENSIONS, resolveConfined } from '../security/confinedPath.ts'
import { contentSecurityPolicy } from '../security/csp.ts'
import { tokenMatches } from '../security/token.ts'

export interface ServeOptions {
  dispatch: Dispatch
  events: EventBus
  token: string
  /** The built renderer (out/renderer). */
  staticDir: string
  /** Read per request: the user can move the gallery in settings. */
  galleryDir: () => string
  /**
   * The thumbnail of a gallery image (GalleryService.thumbnail), for /gallery-thumb/<id>: confined like the
   * images, made and cached on first request. Without it the route answers 404.
   */
  galleryThumb?: (urlPath: string) => Promise<Confined>
  /**
   * A pack's example sheet (PackService.examplesSheet), for /pack-examples/<pack id>: the one file that pack's
   * manifest names, inside its folder. Without it the route answers 404.
   */
  packExamples?: (urlPath: string) => Promise<Confined>
  /** Bound to loopback: then the Host header must name loopback too (guards against DNS rebinding). */
  loopbackOnly: boolean
  maxBodyBytes?: number
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
const HEARTBEAT_MS = 15_000

const STATUS_OF: Record<ErrorCode, number> = {
  invalid_input: 400,
  unknown_method: 404,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  not_found: 404,
  unavailable: 503,
  host_crashed: 503,
  cancelled: 409,
  internal: 500,
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

export function createServeServer(options: ServeOptions): http.Server {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const csp = contentSecurityPolicy({ dev: false, delivery: 'header' })

  const server = http.createServer((req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value)
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { ok: false, error: { code: 'internal', message: String(err) } })
      else res.destroy()
    })
  })

  const cookieName = () => `ddstudio_token_${(server.address() as AddressInfo | null)?.port ?? 0}`

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://placeholder')

    if (options.loopbackOnly && !isLoopbackHost(req.headers.host)) {
      return sendError(res, 'forbidden', `host '${req.headers.host ?? ''}' is not a loopback address`)
    }

    const queryToken = url.searchParams.get('token')
    if (queryToken !== null && req.method === 'GET' && !url.pathname.startsWith('/api/')) {
      if (!tokenMatches(options.token, queryToken)) return sendError(res, 'unauthorized', 'wrong token')
      // Swap the token in the address bar for an HttpOnly cookie, so it does not linger in history.
      url.searchParams.delete('token')
      res.setHeader('set-cookie', `${cookieName()}=${options.token}; HttpOnly; SameSite=Strict; Path=/`)
      res.writeHead(303, { location: `${url.pathname}${url.search}` })
      res.end()
      return
    }
    if (!tokenMatches(options.token, tokenOf(req, url, cookieName()))) {
      return sendError(
        res,
        'unauthorized',
        'missing or wrong token: open the URL that `npm run serve` printed',
      )
    }

    if (url.pathname.startsWith('/api/call/')) {
      if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST')
      return handleCall(req, res, url.pathname.slice('/api/call/'.length))
    }
    if (url.pathname === '/api/events') {
      if (req.method !== 'GET') return sendMethodNotAllowed(res, 'GET')
      return handleEvents(req, res)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendMethodNotAllowed(res, 'GET, HEAD')
    if (url.pathname.startsWith('/gallery-thumb/')) {
      if (!options.galleryThumb) return sendError(res, 'not_found', 'thumbnails are not served here')
      return sendResolved(
        res,
        await options.galleryThumb(url.pathname.slice('/gallery-thumb/'.length)),
        false,
      )
    }
    if (url.pathname.startsWith('/pack-examples/')) {
      if (!options.packExamples) return sendError(res, 'not_found', 'example images are not served here')
      return sendResolved(
        res,
        await options.packExamples(url.pathname.slice('/pack-examples/'.length)),
        false,
      )
    }
    if (url.pathname.startsWith('/gallery/')) {
      // Never the app's own data in the gallery folder (.dd-studio): only images, through resolveGalleryImage.
      const found = await resolveGalleryImage(
        options.galleryDir(),
        url.pathname.slice('/gallery/'.length),
        IMAGE_EXTENSIONS,
      )
      return sendResolved(res, found, false)
    }
    const staticPath = url.pathname === '/' ? 'index.html' : url.pathname.slice(1)
    return sendFile(res, options.staticDir, staticPath, null, staticPath === 'index.html')
  }

  async function handleCall(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rawName: string,
  ): Promise<void> {
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      return sendError(res, 'forbidden', `cross-origin call from ${origin} refused`)
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
    if (type !== 'application/json') {
      return sendError(res, 'invalid_input', 'body: content-type must be application/json')
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > maxBody) {
      return sendError(
        res,
        'payload_too_large',
        `body: ${declared} bytes is over the ${maxBody}-byte limit`,
        true,
      )
    }
    const body = await readBody(req, maxBody)
    if (body === null) {
      return sendError(res, 'payload_too_large', `body: over the ${maxBody}-byte limit`, true)
    }
    let input: unknown
    try {
      input = JSON.parse(body.toString('utf8'))
    } catch (err) {
      return sendError(res, 'invalid_input', `body: not valid JSON (${(err as Error).message.slice(0, 120)})`)
    }
    let name: string
    try {
      name = decodeURIComponent(rawName)
    } catch {
      return sendError(res, 'unknown_method', 'method name is not valid percent-encoding')
    }
    const result = await options.dispatch(name, input, { transport: 'http' })
    sendJson(res, result.ok ? 200 : STATUS_OF[result.error.code], result)
  }

  function handleEvents(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    })
    res.write(': connected\n\n')
    const unsubscribe = options.events.subscribe((name, payload) => {
      res.write(`event: ${name}\ndata: ${toWireJson(payload)}\n\n`)
    })
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS)
    req.on('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
    })
  }

  async function sendFile(
    res: http.ServerResponse,
    root: string,
    urlPath: string,
    extensions: readonly string[] | null,
    isDocument: boolean,
  ): Promise<void> {
    return sendResolved(res, await resolveConfined(root, urlPath, extensions), isDocument)
  }

  async function sendResolved(res: http.ServerResponse, found: Confined, isDocument: boolean): Promise<void> {
    if (!found.ok) {
      const code: ErrorCode =
        found.status === 403 ? 'forbidden' : found.status === 404 ? 'not_found' : 'invalid_input'
      return sendError(res, code, found.reason)
    }
    res.setHeader('content-type', contentTypeOf(found.file))
    res.setHeader('cache-control', isDocument ? 'no-store' : 'no-cache')
    if (isDocument) res.setHeader('content-security-policy', csp)
    res.writeHead(200)
    if (res.req.method === 'HEAD') {
      res.end()
      return
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(found.file)
      stream.on('error', reject)
      stream.on('end', resolve)
      stream.pipe(res)
    })
  }

  return server
}

function tokenOf(req: http.IncomingMessage, url: URL, cookieName: string): string | null {
  const auth = req.headers.authorization
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim()
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === cookieName) return rest.join('=')
  }
  // EventSource cannot set headers; it sends the cookie, and scripts may also pass ?token=.
  return url.searchParams.get('token')
}

function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false
  const host = hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : hostHeader.split(':')[0]
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host ?? '')
}

/** Resolves to null as soon as the body passes `limit`, without buffering the rest. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > limit) {
        done = true
        resolve(null)
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks))
    })
    req.on('error', (err) => {
      if (!done) reject(err)
    })
  })
}

/** Answers in the wire format of common/wire.ts: bytes (a GeneratedImage's png) travel as base64. */
function sendJson(res: http.ServerResponse, status: number, body: Result<unknown>, closeAfter = false): void {
  const text = toWireJson(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(closeAfter ? { connection: 'close' } : {}),
  })
  res.end(text)
}

function sendError(res: http.ServerResponse, code: ErrorCode, message: string, closeAfter = false): void {
  sendJson(res, STATUS_OF[code], { ok: false, error: { code, message } }, closeAfter)
}

function sendMethodNotAllowed(res: http.ServerResponse, allow: string): void {
  res.setHeader('allow', allow)
  sendJson(res, 405, {
    ok: false,
    error: { code: 'invalid_input', message: `method not allowed; use ${allow}` },
  })
}
