/**
 * The electron-free heart of the IPC adapter: method lookup, input validation against the contract's schema,
 * the call to a plain service, and the {ok, value} | {ok:false, error} envelope. Electron IPC, serve mode's
 * HTTP and the tests all go through `dispatch`, so they validate and answer identically.
 */
import type { z } from 'zod'
import {
  contract,
  type InvokeName,
  isInvokeName,
  type ParsedInputOf,
  type ResultOf,
} from '../../common/contract.ts'
import { AppError, fail, ok, type Result } from '../../common/result.ts'

declare const senderBrand: unique symbol

/**
 * The window a call came from, as only the shell that made the handle can use it (Electron: the sender's
 * webContents, for webContents.startDrag). Opaque to everything else, which can only pass it back to the shell.
 */
export type SenderHandle = { readonly [senderBrand]: 'SenderHandle' }

export interface CallContext {
  transport: 'electron' | 'http' | 'cli' | 'memory'
  /** Set by the Electron adapter only: HTTP and the CLI have no window to act on. */
  sender?: SenderHandle
}

export type Handlers = {
  [K in InvokeName]: (input: ParsedInputOf<K>, ctx: CallContext) => Promise<ResultOf<K>> | ResultOf<K>
}

export type Dispatch = (name: unknown, input: unknown, ctx: CallContext) => Promise<Result<unknown>>

const MAX_MESSAGE = 600

export function createDispatcher(
  handlers: Handlers,
  onInternalError?: (name: string, err: unknown) => void,
): Dispatch {
  return async (name, input, ctx) => {
    if (typeof name !== 'string' || !isInvokeName(name)) {
      return fail('unknown_method', `unknown method '${preview(name)}'`)
    }
    const parsed = contract[name].input.safeParse(input)
    if (!parsed.success) return fail('invalid_input', `${name}: ${describeIssues(parsed.error)}`)
    try {
      const handler = handlers[name] as (input: unknown, ctx: CallContext) => unknown
      return ok(await handler(parsed.data, ctx))
    } catch (err) {
      if (err instanceof AppError) return fail(err.code, clip(err.message))
      onInternalError?.(name, err)
      return fail('internal', clip(`${name} failed: ${err instanceof Error ? err.message : String(err)}`))
    }
  }
}

/** One line naming each offending field, e.g. `input.theme: Invalid option: expected one of "dark"|"light"`. */
export function describeIssues(error: z.ZodError): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const field = ['input', ...issue.path.map(String)].join('.')
    if (issue.code === 'unrecognized_keys') {
      return `${field}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${preview(k)}'`).join(', ')}`
    }
    return `${field}: ${issue.message}`
  })
  if (error.issues.length > 5) parts.push(`and ${error.issues.length - 5} more`)
  return clip(parts.join('; '))
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text
}
