/** Ctrl+Enter (⌘↵ on a Mac) generates from anywhere in the window, not only while the form has the focus. */
import { useEffect, useRef } from 'react'

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform)

/** The shortcut as the Generate button shows it. */
export const SHORTCUT = isMac ? '⌘↵' : 'Ctrl+Enter'

/** Calls the latest `action` on Ctrl/Cmd+Enter; the listener is added once and reads the action through a ref. */
export function useGenerateShortcut(action: () => void): void {
  const actionRef = useRef(action)
  actionRef.current = action
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.altKey && !e.repeat) {
        e.preventDefault()
        actionRef.current()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
