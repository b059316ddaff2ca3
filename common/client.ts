/**
 * Turns the contract into a typed client with one named method per entry:
 * `client.system.info({})`, `client.host.onState(listener)`.
 * The preload (Electron IPC), the renderer's HTTP transport and the tests all build their client here,
 * so every transport exposes exactly the same surface.
 */
import {
  type Contract,
  contract,
  type EventName,
  type InputOf,
  type InvokeName,
  type MethodName,
  type PayloadOf,
  type ResultOf,
} from './contract.ts'
import type { Result } from './result.ts'

/** What a transport must provide; it stays private to the code that builds the client. */
export interface Transport {
  invoke(name: InvokeName, input: unknown): Promise<Result<unknown>>
  subscribe(name: EventName, listener: (payload: unknown) => void): () => void
}

type Namespace<K> = K extends `${infer NS}.${string}` ? NS : never
type Member<K, NS extends string> = K extends `${NS}.${infer M}` ? M : never

type Callable<K extends MethodName> = K extends InvokeName
  ? (input: InputOf<K>) => Promise<Result<ResultOf<K>>>
  : K extends EventName
    ? (listener: (payload: PayloadOf<K>) => void) => () => void
    : never

export type Client = {
  [NS in Namespace<MethodName>]: {
    [M in Member<MethodName, NS>]: Callable<`${NS}.${M}` & MethodName>
  }
}

export function buildClient(transport: Transport): Client {
  const client: Record<string, Record<string, unknown>> = {}
  for (const name of Object.keys(contract) as MethodName[]) {
    const [ns, member] = splitName(name)
    const group = client[ns] ?? {}
    client[ns] = group
    const entry: Contract[MethodName] = contract[name]
    group[member] =
      entry.kind === 'invoke'
        ? (input: unknown) => transport.invoke(name as InvokeName, input)
        : (listener: (payload: unknown) => void) => transport.subscribe(name as EventName, listener)
  }
  return client as Client
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf('.')
  if (dot <= 0 || dot === name.length - 1)
    throw new Error(`contract entry '${name}' must be 'namespace.member'`)
  return [name.slice(0, dot), name.slice(dot + 1)]
}
