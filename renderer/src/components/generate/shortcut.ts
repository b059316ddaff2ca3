/**
 * The Generate panel's keys, from anywhere in the window, not only while the form has the focus: Ctrl+Enter
 * (⌘↵ on a Mac) generates, Esc cancels the running job. While a dialog is open they belong to the dialog (Esc
 * closes it), so both are left alone then.
 */
import { useEffect, useRef } from 'react'

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform)

/** The shortcut as the Generate button shows it. */
export const SHORTCUT = isMac ? '⌘↵' : 'Ctrl+Enter'

/** Whether a modal dialog (settings, shortcuts, About) has the window. */
export function dialogOpen(): boolean {
  return document.querySelector('dialog[open]') !== null
}

/** Calls the latest actions; the listener is added once and reads them through a ref. */
export function useGenerateShortcuts(actions: { generate(): void; cancel(): void }): void {
  const ref = useRef(actions)
  ref.current = actions
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.defaultPrevented || e.repeat || dialogOpen()) return
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.altKey) {
        e.preventDefault()
        ref.current.generate()
      } else if (e.key === 'Escape' && !e.ctrlKey && !e.metaKey && !e.altKey) {
        ref.current.cancel()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
