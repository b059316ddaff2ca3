/**
 * The contract over serve mode's HTTP API: POST /api/call/<method> with JSON, and Server-Sent Events on
 * /api/events. The token travels in the HttpOnly cookie the server set when the printed URL was opened.
 * Answers and events are decoded with common/wire.ts, so a Uint8Array (an image's png) arrives as a Uint8Array,
 * exactly as over Electron IPC.
 */
import type { Transport } from '../../../common/client.ts'
import type { EventName } from '../../../common/contract.ts'
import type { Result } from '../../../common/result.ts'
import { fromWireJson } from '../../../common/wire.ts'

export function httpTransport(base = ''): Transport {
  let source: EventSource | null = null
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>()

  function ensureSource(): EventSource {
    if (source) return source
    source = new EventSource(`${base}/api/events`)
    return source
  }

  return {
    async invoke(name, input): Promise<Result<unknown>> {
      try {
        const response = await fetch(`${base}/api/call/${encodeURIComponent(name)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(input ?? {}),
          credentials: 'same-origin',
        })
        // The wire format of common/wire.ts: bytes (a GeneratedImage's png) come back as Uint8Array.
        const body = fromWireJson(await response.text()) as Result<unknown>
        if (typeof body === 'object' && body !== null && 'ok' in body) return body
        return {
          ok: false,
          error: { code: 'internal', message: `unexpected answer (HTTP ${response.status})` },
        }
      } catch (err) {
        return {
          ok: false,
          error: { code: 'unavailable', message: `the DD Studio server did not answer: ${String(err)}` },
        }
      }
    },
    subscribe(name, listener) {
      let set = listeners.get(name)
      if (!set) {
        const fresh = new Set<(payload: unknown) => void>()
        listeners.set(name, fresh)
        set = fresh
        ensureSource().addEventListener(name, (event) => {
          const payload: unknown = fromWireJson((event as MessageEvent).data as string)
          for (const l of fresh) l(payload)
        })
      }
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },
  }
}
