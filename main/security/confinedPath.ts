/**
 * Maps a URL path from the renderer or a browser to a file inside one root folder, and refuses everything
 * else: encoded or plain `..`, absolute paths, NUL bytes, backslash tricks, symlinks that lead out of the
 * root, and file types that are not allowed. Used by the gallery protocol (Electron), the gallery route and
 * the static files of serve mode.
 */
import fs from 'node:fs/promises'
import path from 'node:path'

export type Confined = { ok: true; file: string } | { ok: false; status: 400 | 403 | 404; reason: string }

export const IMAGE_EXTENSIONS = ['.png', '.webp', '.jpg', '.jpeg'] as const

export async function resolveConfined(
  root: string,
  urlPath: string,
  allowedExtensions: readonly string[] | null,
): Promise<Confined> {
  let relative: string
  try {
    relative = decodeURIComponent(urlPath)
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' }
  }
  if (relative.includes('\0')) return { ok: false, status: 400, reason: 'NUL byte in path' }
  // Backslashes are separators on Windows: treat them as such everywhere so `..\\` cannot slip through.
  const parts = relative
    .replaceAll('\\', '/')
    .split('/')
    .filter((p) => p.length > 0)
  if (parts.some((p) => p === '..')) return { ok: false, status: 403, reason: 'path leaves the folder' }
  if (parts.some((p) => /^[A-Za-z]:$/.test(p)))
    return { ok: false, status: 403, reason: 'drive letters are not allowed' }
  if (parts.length === 0) return { ok: false, status: 404, reason: 'no file named' }

  const rootAbs = path.resolve(root)
  const candidate = path.resolve(rootAbs, ...parts)
  if (!isInside(rootAbs, candidate)) return { ok: false, status: 403, reason: 'path leaves the folder' }
  if (allowedExtensions && !allowedExtensions.includes(path.extname(candidate).toLowerCase())) {
    return { ok: false, status: 403, reason: `file type not served: ${path.extname(candidate) || '(none)'}` }
  }

  let real: string
  let realRoot: string
  try {
    ;[real, realRoot] = await Promise.all([fs.realpath(candidate), fs.realpath(rootAbs)])
  } catch {
    return { ok: false, status: 404, reason: 'no such file' }
  }
  if (!isInside(realRoot, real)) return { ok: false, status: 403, reason: 'link leads out of the folder' }
  const stat = await fs.stat(real)
  if (!stat.isFile()) return { ok: false, status: 404, reason: 'not a file' }
  return { ok: true, file: real }
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

export function contentTypeOf(file: string): string {
  const types: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.webp': 'image/webp',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.ico': 'image/x-icon',
    '.woff2': 'font/woff2',
    '.txt': 'text/plain; charset=utf-8',
  }
  return types[path.extname(file).toLowerCase()] ?? 'application/octet-stream'
}
