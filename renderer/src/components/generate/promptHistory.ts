/**
 * The prompts a text pack was run with, most recent first: the last 50 distinct ones of each pack, kept in the
 * window's localStorage (so they survive a restart of the app) under a key per pack id. A stored value that is
 * not a list of strings (another version's, or edited by hand) reads as an empty history rather than failing.
 */
import { useCallback, useState } from 'react'

export const HISTORY_LIMIT = 50

const KEY_PREFIX = 'dd-studio.prompt-history.'

function keyOf(packId: string): string {
  return `${KEY_PREFIX}${packId}`
}

/** localStorage, or null where the window has none (storage disabled). */
function storage(): Storage | null {
  try {
    return window.localStorage
  } catch {
    return null
  }
}

export function loadHistory(packId: string): string[] {
  const raw = storage()?.getItem(keyOf(packId)) ?? null
  if (raw === null) return []
  try {
    const value: unknown = JSON.parse(raw)
    if (!Array.isArray(value)) return []
    return value.filter((v): v is string => typeof v === 'string' && v.trim() !== '').slice(0, HISTORY_LIMIT)
  } catch {
    return []
  }
}

function save(packId: string, entries: string[]): void {
  try {
    if (entries.length === 0) storage()?.removeItem(keyOf(packId))
    else storage()?.setItem(keyOf(packId), JSON.stringify(entries))
  } catch {
    // A full or disabled storage loses the history, never a generation.
  }
}

/** `prompt` first, without its earlier copy, at most HISTORY_LIMIT entries. Blank prompts are not kept. */
export function withPrompt(entries: readonly string[], prompt: string): string[] {
  const text = prompt.trim()
  if (text === '') return [...entries]
  return [text, ...entries.filter((e) => e !== text)].slice(0, HISTORY_LIMIT)
}

export interface PromptHistory {
  /** Most recent first. */
  entries: string[]
  remember(prompt: string): void
  remove(prompt: string): void
  clear(): void
}

/** The history of one pack (none without a pack), read again when the pack changes. */
export function usePromptHistory(packId: string | null): PromptHistory {
  const [state, setState] = useState<{ packId: string | null; entries: string[] }>(() => ({
    packId,
    entries: packId ? loadHistory(packId) : [],
  }))
  // Another pack: its own history, read while rendering so no frame shows the previous pack's.
  let current = state
  if (state.packId !== packId) {
    current = { packId, entries: packId ? loadHistory(packId) : [] }
    setState(current)
  }

  const update = useCallback(
    (change: (entries: string[]) => string[]) => {
      if (!packId) return
      // Read from storage, not state: another window of the app may have added prompts meanwhile.
      const next = change(loadHistory(packId))
      save(packId, next)
      setState({ packId, entries: next })
    },
    [packId],
  )

  return {
    entries: current.entries,
    remember: useCallback((prompt: string) => update((e) => withPrompt(e, prompt)), [update]),
    remove: useCallback((prompt: string) => update((e) => e.filter((p) => p !== prompt)), [update]),
    clear: useCallback(() => update(() => []), [update]),
  }
}
