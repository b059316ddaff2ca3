/**
 * An in-memory transport pair for the contract: calls go through the same dispatcher the Electron adapter and
 * serve mode use, and every payload in both directions passes through structuredClone, as Electron IPC would
 * copy it. Lets the tests exercise main's handlers without Electron.
 */
import { buildClient, type Client } from '../../common/client.ts'
import type { Dispatch } from '../../main/ipc/dispatcher.ts'
import type { EventBus } from '../../main/ipc/eventBus.ts'

export interface MemoryTransport {
  client: Client
  /** The raw channel, for sending what a well-typed client cannot (fuzzing). */
  call(name: unknown, input: unknown): Promise<unknown>
}

export function memoryTransport(dispatch: Dispatch, events: EventBus): MemoryTransport {
  const call = async (name: unknown, input: unknown) =>
    structuredClone(await dispatch(name, structuredClone(input), { transport: 'memory' }))
  const client = buildClient({
    invoke: (name, input) => call(name, input) as ReturnType<typeof dispatch>,
    subscribe: (name, listener) =>
      events.subscribe((event, payload) => {
        if (event === name) listener(structuredClone(payload))
      }),
  })
  return { client, call }
}
