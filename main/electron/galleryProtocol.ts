/**
 * dd-gallery://image/<relative path> serves images from the gallery folder and nothing else, and
 * dd-gallery://thumb/<id> their cached thumbnails (see gallery/thumbnails.ts). Both refuse what
 * security/confinedPath.ts refuses, and anything under the app's own .dd-studio folder.
 * dd-gallery://pack-examples/<pack id> serves that pack's example sheet (PackService.examplesSheet); it shares
 * this scheme because Electron registers privileged schemes once, before the app is ready.
 */
import { pathToFileURL } from 'node:url'
import { net, protocol } from 'electron'
import { resolveGalleryImage } from '../gallery/galleryFiles.ts'
import { type Confined, IMAGE_EXTENSIONS } from '../security/confinedPath.ts'

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

export function handleGalleryProtocol(
  galleryDir: () => string,
  thumbnail: (urlPath: string) => Promise<Confined>,
  packExamples?: (urlPath: string) => Promise<Confined>,
): void {
  protocol.handle(GALLERY_SCHEME, async (request) => {
    const url = new URL(request.url)
    let found: Confined
    if (url.host === 'image') found = await resolveGalleryImage(galleryDir(), url.pathname, IMAGE_EXTENSIONS)
    else if (url.host === 'thumb') found = await thumbnail(url.pathname)
    else if (url.host === 'pack-examples' && packExamples) found = await packExamples(url.pathname)
    else return new Response('not found', { status: 404 })
    if (!found.ok) return new Response(found.reason, { status: found.status })
    return net.fetch(pathToFileURL(found.file).toString())
  })
}
