/** Typed fan-out of contract events from services to every connected transport (IPC, HTTP/SSE, tests). */
import type { EventName, PayloadOf } from '../../common/contract.ts'

export type EventListener = (name: EventName, payload: unknown) => void

export class EventBus {
  private readonly listeners = new Set<EventListener>()

  emit<K extends EventName>(name: K, payload: PayloadOf<K>): void {
    for (const listener of this.listeners) {
      try {
        listener(name, payload)
      } catch {
        // A broken transport (closed window, dropped socket) must not stop the others from hearing it.
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
