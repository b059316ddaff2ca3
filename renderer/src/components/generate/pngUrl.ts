/**
 * Generated images arrive as PNG bytes. Over Electron IPC they are a Uint8Array; over serve mode's HTTP they may
 * arrive in another shape (base64, a data: URL, a plain array, or the object JSON makes of a typed array), so
 * every shape becomes the same bytes here, and the bytes an object URL the CSP allows (img-src blob:).
 */
import { useEffect, useState } from 'react'

const BASE64 = /^[A-Za-z0-9+/=\s_-]+$/

function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(clean)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** The PNG's bytes, whatever shape the transport gave them. */
export function pngBytes(png: unknown): Uint8Array {
  if (png instanceof Uint8Array) return png
  if (png instanceof ArrayBuffer) return new Uint8Array(png)
  if (ArrayBuffer.isView(png)) return new Uint8Array(png.buffer, png.byteOffset, png.byteLength)
  if (typeof png === 'string') {
    const comma = png.startsWith('data:') ? png.indexOf(',') : -1
    const body = comma >= 0 ? png.slice(comma + 1) : png
    if (!BASE64.test(body)) throw new Error('the image is neither bytes nor base64')
    return fromBase64(body)
  }
  if (Array.isArray(png)) return Uint8Array.from(png as number[])
  if (png && typeof png === 'object') {
    const record = png as Record<string, unknown>
    // Node's Buffer.toJSON(), or a tagged base64 wrapper.
    if ('data' in record) return pngBytes(record.data)
    for (const key of ['base64', '$base64', '$bytes', 'bytes']) {
      if (key in record) return pngBytes(record[key])
    }
    // JSON.stringify of a Uint8Array: {"0": 137, "1": 80, ...}
    const keys = Object.keys(record)
    if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
      const bytes = new Uint8Array(keys.length)
      for (const k of keys) bytes[Number(k)] = Number(record[k])
      return bytes
    }
  }
  throw new Error('the image is neither bytes nor base64')
}

/** An object URL for a PNG; the caller revokes it (URL.revokeObjectURL) when the image is replaced. */
export function pngUrl(png: Uint8Array | string | unknown): string {
  const bytes = pngBytes(png)
  // Copy into a plain ArrayBuffer: a view on a shared or larger buffer would put extra bytes in the Blob.
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return URL.createObjectURL(new Blob([copy.buffer], { type: 'image/png' }))
}

/** The object URL of a PNG for as long as the component shows it; revoked when the PNG changes or on unmount. */
export function usePngUrl(png: unknown): { url: string | null; error: string | null } {
  const [state, setState] = useState<{ url: string | null; error: string | null }>({
    url: null,
    error: null,
  })
  useEffect(() => {
    let url: string
    try {
      url = pngUrl(png)
    } catch (err) {
      setState({ url: null, error: err instanceof Error ? err.message : String(err) })
      return
    }
    setState({ url, error: null })
    return () => URL.revokeObjectURL(url)
  }, [png])
  return state
}
