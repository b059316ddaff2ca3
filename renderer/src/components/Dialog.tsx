/**
 * A modal dialog on the native <dialog> element: showModal() makes the rest of the window inert, traps the
 * focus and moves it into the dialog (to the first control, or to the one marked data-autofocus); Esc closes
 * it. On close the focus goes back to whatever had it before, so keyboard users stay where they were.
 */
import { type ReactNode, useEffect, useRef, useState } from 'react'

interface Props {
  open: boolean
  onClose(): void
  /** The id of the dialog's heading, which names it. */
  labelledBy: string
  /** The id of a line that describes it, if any. */
  describedBy?: string
  /** Tailwind width, e.g. 'w-[min(720px,92vw)]'. */
  width?: string
  testId?: string
  /**
   * Give the focus back to what had it before (default). Off where onClose places the focus itself (the
   * lightbox: on the grid cell of the image it showed last, not the one it was opened from).
   */
  restoreFocus?: boolean
  children: ReactNode
}

export function Dialog({
  open,
  onClose,
  labelledBy,
  describedBy,
  width,
  testId,
  restoreFocus = true,
  children,
}: Props) {
  const ref = useRef<HTMLDialogElement>(null)
  const opener = useRef<Element | null>(null)
  // Counts the dialog's closings. A parent that is told of a closing and opens the dialog again before React
  // renders (Escape, then Enter on the opener) changes `open` from true to true: the closing itself must make
  // the effect run again, or the dialog would stay closed while its parent thinks it is open.
  const [closings, setClosings] = useState(0)

  // biome-ignore lint/correctness/useExhaustiveDependencies: `closings` re-runs the effect after every closing (see above).
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) {
      opener.current = document.activeElement
      dialog.showModal()
      // React's autoFocus fires while the dialog is still closed (and so unfocusable): mark the control instead.
      dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus()
    }
    if (!open && dialog.open) dialog.close()
  }, [open, closings])

  function closed() {
    const back = opener.current
    opener.current = null
    if (restoreFocus && back instanceof HTMLElement && back.isConnected) back.focus()
    setClosings((n) => n + 1)
    onClose()
  }

  return (
    <dialog
      ref={ref}
      aria-labelledby={labelledBy}
      aria-describedby={describedBy}
      data-testid={testId}
      onClose={closed}
      className={`m-auto max-h-[85vh] ${width ?? 'w-[min(560px,92vw)]'} overflow-hidden rounded-xl border border-zinc-300 bg-white p-0 text-zinc-900 shadow-2xl backdrop:bg-black/60 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100`}
    >
      {/* Closed dialogs render nothing inside, and each opening gets new children (the key): fresh state. */}
      {open && (
        <div key={closings} className="flex max-h-[85vh] flex-col">
          {children}
        </div>
      )}
    </dialog>
  )
}

/** The dialog's title row with its Close button. */
export function DialogHeader({
  id,
  title,
  children,
  onClose,
}: {
  id: string
  title: ReactNode
  children?: ReactNode
  onClose(): void
}) {
  return (
    <header className="flex items-start justify-between gap-4 border-b border-zinc-200 p-5 dark:border-zinc-800">
      <div>
        <h2 id={id} className="text-lg font-semibold">
          {title}
        </h2>
        {children}
      </div>
      <button
        type="button"
        onClick={onClose}
        className="rounded px-2 py-1 text-sm hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-zinc-800"
      >
        Close
      </button>
    </header>
  )
}
