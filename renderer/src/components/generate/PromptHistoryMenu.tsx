/**
 * The History button under the prompt box and the list it opens: the pack's last prompts, most recent first,
 * each one a button that puts it back in the box, with a button that removes it; and "Clear history". Esc or a
 * click elsewhere closes the list, and the focus goes back to the button that opened it.
 */
import { type KeyboardEvent, useEffect, useId, useRef, useState } from 'react'
import type { PromptHistory } from './promptHistory.ts'
import { smallButton } from './ui.ts'

interface Props {
  history: PromptHistory
  onPick(prompt: string): void
}

export function PromptHistoryMenu({ history, onPick }: Props) {
  const [open, setOpen] = useState(false)
  const listId = useId()
  const button = useRef<HTMLButtonElement>(null)
  const panel = useRef<HTMLDivElement>(null)
  const { entries } = history

  function close(refocus: boolean) {
    setOpen(false)
    if (refocus) button.current?.focus()
  }

  // A click outside the button and the list closes it, leaving the focus where the click put it.
  useEffect(() => {
    if (!open) return
    function onPointer(e: PointerEvent) {
      const target = e.target as Node
      if (!panel.current?.contains(target) && !button.current?.contains(target)) setOpen(false)
    }
    document.addEventListener('pointerdown', onPointer)
    return () => document.removeEventListener('pointerdown', onPointer)
  }, [open])

  // Opened: the focus goes to the newest prompt, so the arrow keys and Enter work at once.
  useEffect(() => {
    if (open) panel.current?.querySelector<HTMLButtonElement>('button')?.focus()
  }, [open])

  /** Up and Down move between the entries' prompt buttons. */
  function onListKey(e: KeyboardEvent) {
    if (e.key === 'Escape') {
      e.preventDefault()
      close(true)
      return
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
    const items = [...(panel.current?.querySelectorAll<HTMLButtonElement>('[data-history-item]') ?? [])]
    if (items.length === 0) return
    e.preventDefault()
    const at = items.indexOf(document.activeElement as HTMLButtonElement)
    const next = e.key === 'ArrowDown' ? Math.min(at + 1, items.length - 1) : Math.max(at - 1, 0)
    items[at < 0 ? 0 : next]?.focus()
  }

  function remove(prompt: string, at: number) {
    history.remove(prompt)
    // The focus stays in the list: on the entry that takes this one's place, else the one before it.
    requestAnimationFrame(() => {
      const items = panel.current?.querySelectorAll<HTMLButtonElement>('[data-history-item]')
      if (!items || items.length === 0) button.current?.focus()
      else (items[Math.min(at, items.length - 1)] as HTMLButtonElement).focus()
    })
  }

  return (
    <div className="relative">
      <button
        ref={button}
        type="button"
        data-testid="prompt-history-button"
        aria-expanded={open}
        aria-controls={open ? listId : undefined}
        aria-keyshortcuts="ArrowUp"
        title="Earlier prompts of this pack (↑ in an empty box goes through them too)"
        onClick={() => setOpen((o) => !o)}
        className={smallButton}
      >
        History{entries.length > 0 ? ` (${entries.length})` : ''} <span aria-hidden="true">▾</span>
      </button>
      {open && (
        // biome-ignore lint/a11y/noStaticElementInteractions: the keys are handled for the buttons inside
        <div
          ref={panel}
          id={listId}
          data-testid="prompt-history"
          onKeyDown={onListKey}
          className="absolute top-full left-0 z-20 mt-1 flex w-72 max-w-[80vw] flex-col rounded-lg border border-zinc-200 bg-white p-1 text-xs shadow-lg dark:border-zinc-700 dark:bg-zinc-900"
        >
          {entries.length === 0 ? (
            <p className="px-2 py-1 text-zinc-600 dark:text-zinc-400">
              No prompts yet: the prompts you generate with appear here.
            </p>
          ) : (
            <>
              <ul
                aria-label="Earlier prompts, newest first"
                className="flex max-h-64 flex-col overflow-y-auto"
              >
                {entries.map((prompt, i) => (
                  <li key={prompt} className="flex items-start gap-1" data-testid="history-entry">
                    <button
                      type="button"
                      data-history-item
                      data-testid="history-use"
                      onClick={() => {
                        onPick(prompt)
                        setOpen(false)
                      }}
                      className="min-w-0 flex-1 rounded px-2 py-1 text-left break-words whitespace-pre-wrap hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-indigo-950"
                    >
                      {prompt}
                    </button>
                    <button
                      type="button"
                      data-testid="history-remove"
                      aria-label={`Remove “${prompt}” from the history`}
                      title="Remove from the history"
                      onClick={() => remove(prompt, i)}
                      className="shrink-0 rounded px-1.5 py-1 text-zinc-500 hover:bg-zinc-100 hover:text-zinc-900 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
                    >
                      ✕
                    </button>
                  </li>
                ))}
              </ul>
              <button
                type="button"
                data-testid="history-clear"
                onClick={() => {
                  history.clear()
                  close(true)
                }}
                className="mt-1 self-end rounded px-2 py-1 text-red-700 hover:bg-red-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-red-300 dark:hover:bg-red-950"
              >
                Clear history
              </button>
            </>
          )}
        </div>
      )}
    </div>
  )
}
