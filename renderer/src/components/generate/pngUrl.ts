/**
 * Generated images arrive as PNG bytes, a Uint8Array, over both transports: Electron IPC's structured clone
 * keeps it one, and serve mode's HTTP sends it as {"$bytes": base64}, which common/wire.ts turns back into one
 * on the client (renderer/src/transport/httpTransport.ts). So no other shape is handled here. The bytes become
 * an object URL, which the CSP allows (img-src blob:).
 */
import { useEffect, useState } from 'react'

/** An object URL for a PNG; the caller revokes it (URL.revokeObjectURL) when the image is replaced. */
export function pngUrl(png: Uint8Array): string {
  // A Blob takes views on a plain ArrayBuffer only, and as far as TypeScript knows a Uint8Array may sit on a
  // SharedArrayBuffer; the copy (a small PNG) is on a fresh ArrayBuffer and holds exactly the view's bytes.
  return URL.createObjectURL(new Blob([new Uint8Array(png)], { type: 'image/png' }))
}

/** The object URL of a PNG for as long as the component shows it; revoked when the PNG changes or on unmount. */
export function usePngUrl(png: Uint8Array): string | null {
  const [url, setUrl] = useState<string | null>(null)
  useEffect(() => {
    const next = pngUrl(png)
    setUrl(next)
    return () => URL.revokeObjectURL(next)
  }, [png])
  return url
}
