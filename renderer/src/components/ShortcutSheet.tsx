/** The keyboard shortcut sheet ('?' opens it, Esc closes it), and the key that opens it. */
import { useEffect, useRef } from 'react'
import { Dialog, DialogHeader } from './Dialog.tsx'
import { dialogOpen, SHORTCUT } from './generate/shortcut.ts'

/** Every shortcut of the app, as the sheet lists them. */
export const SHORTCUTS: readonly { keys: string[]; action: string }[] = [
  { keys: [SHORTCUT], action: 'Generate with the current settings' },
  { keys: ['Esc'], action: 'Cancel the running job, or close the open dialog' },
  { keys: ['?'], action: 'Show these shortcuts' },
  { keys: ['Enter'], action: 'In the class search: go to the class list' },
  { keys: ['Tab', 'Shift+Tab'], action: 'Move between controls' },
  { keys: ['↑', '↓'], action: 'Choose among Steps options and in lists' },
  { keys: ['←', '→', '↑', '↓'], action: 'In the gallery: move the selection' },
  {
    keys: ['Home', 'End', 'Page Up', 'Page Down'],
    action: 'In the gallery: jump to the first, last or next screen',
  },
  { keys: ['Enter'], action: 'In the gallery: open the selected image large' },
  { keys: ['←', '→'], action: 'In the open image: previous or next image' },
  { keys: ['F'], action: 'In the gallery or the open image: mark or unmark as favorite' },
  { keys: ['0–5'], action: 'In the gallery or the open image: rate (0 clears the rating)' },
  { keys: ['Delete', 'Backspace'], action: 'In the gallery or the open image: delete (Undo brings it back)' },
]

export function ShortcutSheet({ open, onClose }: { open: boolean; onClose(): void }) {
  return (
    <Dialog open={open} onClose={onClose} labelledBy="shortcuts-title" testId="shortcut-sheet">
      <DialogHeader id="shortcuts-title" title="Keyboard shortcuts" onClose={onClose} />
      <div className="overflow-y-auto p-5 text-sm">
        <table className="w-full text-left">
          <caption className="sr-only">Keys and what they do</caption>
          <thead className="sr-only">
            <tr>
              <th scope="col">Keys</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {SHORTCUTS.map((s) => (
              <tr key={s.action} className="border-b border-zinc-100 last:border-0 dark:border-zinc-800">
                <th scope="row" className="whitespace-nowrap py-1.5 pr-4 font-normal">
                  {s.keys.map((k, i) => (
                    <span key={k}>
                      {i > 0 && <span className="mx-1 text-zinc-400">or</span>}
                      <kbd className="rounded border border-zinc-300 bg-zinc-50 px-1.5 py-0.5 font-mono text-xs dark:border-zinc-700 dark:bg-zinc-800">
                        {k}
                      </kbd>
                    </span>
                  ))}
                </th>
                <td className="py-1.5 text-zinc-700 dark:text-zinc-300">{s.action}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Dialog>
  )
}

/** Whether a key press goes into a text field (where '?' is a character, not a shortcut). */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true
  if (!(target instanceof HTMLInputElement)) return false
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(target.type)
}

/** Calls `open` on '?' anywhere in the window, except while typing or while a dialog is open. */
export function useShortcutSheetKey(open: () => void): void {
  const ref = useRef(open)
  ref.current = open
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.key !== '?' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return
      if (typing(e.target) || dialogOpen()) return
      e.preventDefault()
      ref.current()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
