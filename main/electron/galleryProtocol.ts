/**
 * dd-gallery://image/<relative path> serves images from the gallery folder and nothing else
 * (see security/confinedPath.ts for what is refused).
 */
import { pathToFileURL } from 'node:url'
import { net, protocol } from 'electron'
import { IMAGE_EXTENSIONS, resolveConfined } from '../security/confinedPath.ts'

export const GALLERY_SCHEME = 'dd-gallery'

/** Must run before the app is ready. */
export function registerGalleryScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: GALLERY_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true },
    },
  ])
}

export function handleGalleryProtocol(galleryDir: () => string): void {
  protocol.handle(GALLERY_SCHEME, async (request) => {
    const url = new URL(request.url)
    if (url.host !== 'image') return new Response('not found', { status: 404 })
    const found = await resolveConfined(galleryDir(), url.pathname, IMAGE_EXTENSIONS)
    if (!found.ok) return new Response(found.reason, { status: found.status })
    return net.fetch(pathToFileURL(found.file).toString())
  })
}
