/** The hint shown while files are dragged over the window. */
export function DropOverlay({ visible }: { visible: boolean }) {
  if (!visible) return null
  return (
    <div
      aria-hidden="true"
      data-testid="drop-overlay"
      className="pointer-events-none fixed inset-3 z-50 flex items-center justify-center rounded-2xl border-4 border-dashed border-indigo-500 bg-indigo-500/10 text-lg font-medium text-indigo-700 dark:text-indigo-200"
    >
      Drop a PNG to read its generation settings
    </div>
  )
}
