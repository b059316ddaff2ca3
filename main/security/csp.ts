/**
 * The renderer's Content-Security-Policy, defined once: the build injects it as a meta tag (the desktop app
 * loads files, which carry no headers) and serve mode also sends it as a header. No remote origins, no eval.
 */

export interface CspOptions {
  /** The Vite dev server needs inline scripts/styles for hot reload and a websocket; never in a build. */
  dev: boolean
  /** frame-ancestors only works in a header; browsers ignore it (with a warning) in a meta tag. */
  delivery: 'meta' | 'header'
}

export function contentSecurityPolicy({ dev, delivery }: CspOptions): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'none'"],
    'script-src': dev ? ["'self'", "'unsafe-inline'"] : ["'self'"],
    'style-src': dev ? ["'self'", "'unsafe-inline'"] : ["'self'"],
    'img-src': ["'self'", 'data:', 'blob:', 'dd-gallery:'],
    'font-src': ["'self'"],
    'connect-src': dev ? ["'self'", 'ws://localhost:*', 'http://localhost:*'] : ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
  }
  if (delivery === 'header') directives['frame-ancestors'] = ["'none'"]
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ')
}
