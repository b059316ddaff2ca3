/** The gallery's toast: the last delete with its Undo button, or a short message. It stays until dismissed. */
import type { Toast } from './useGalleryActions.ts'

const button =
  'rounded px-2 py-0.5 text-xs font-medium hover:bg-white/15 focus-visible:outline-2 focus-visible:outline-indigo-400'

export function UndoToast({
  toast,
  onUndo,
  onDismiss,
}: {
  toast: Toast | null
  onUndo(): void
  onDismiss(): void
}) {
  // The live region stays mounted, so screen readers announce what appears in it.
  return (
    <div role="status" aria-live="polite" data-testid="gallery-toast-region">
      {toast && (
        <div
          data-testid="gallery-toast"
          className={`flex items-center gap-2 rounded-lg px-3 py-2 text-sm shadow-lg ${
            toast.kind === 'message' && toast.error
              ? 'bg-red-800 text-white'
              : 'bg-zinc-800 text-zinc-50 dark:bg-zinc-700'
          }`}
        >
          <span className="min-w-0 flex-1">{toast.text}</span>
          {toast.kind === 'deleted' && (
            <button type="button" onClick={onUndo} className={`${button} underline`}>
              Undo
            </button>
          )}
          <button type="button" onClick={onDismiss} aria-label="Dismiss" className={button}>
            ✕
          </button>
        </div>
      )}
    </div>
  )
}
