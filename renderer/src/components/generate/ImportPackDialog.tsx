/**
 * Import a model pack: the absolute path of a pack folder or .zip, typed or pasted. There is no file picker:
 * main reads the pack from its own disk, and a browser window never learns a file's path. The path is checked
 * here with the contract's rule first; what main refuses (not a pack, an id already taken) is shown in the
 * dialog with main's own words, and the path stays in the field to be fixed.
 *
 * The same dialog turns official DD checkpoint files into a pack ("Import official checkpoint",
 * ../models/ImportCheckpoint.tsx): one modal, so the focus goes back to what opened it whichever way it ends.
 * It opens on either view (the pack field has a button for each) and links from one to the other.
 */
import { type FormEvent, useEffect, useRef, useState } from 'react'
import type { PackSummary } from '../../../../common/generation.ts'
import { Dialog, DialogHeader } from '../Dialog.tsx'
import { ImportCheckpoint } from '../models/ImportCheckpoint.tsx'
import { isAbsolutePath } from '../paths.ts'
import { alertBox, control, fieldError, fieldLabel, hint } from './ui.ts'

/** The dialog's two views: a pack folder or .zip, or official checkpoint files to convert. */
export type ImportView = 'pack' | 'checkpoint'

interface Props {
  open: boolean
  /** The view each opening starts on (default: the pack form). */
  start?: ImportView
  onClose(): void
  /** Imports the pack at `path`; answers with main's reason when it refuses, or null once it is imported. */
  onImport(path: string): Promise<string | null>
  /** The user chose to use a pack converted from official checkpoints (it is already in the pack list). */
  onConverted?(pack: PackSummary): void
}

export function ImportPackDialog({ open, start = 'pack', onClose, onImport, onConverted }: Props) {
  const [view, setView] = useState<ImportView>(start)
  // Each opening starts on the view it was opened for.
  const [wasOpen, setWasOpen] = useState(open)
  if (open !== wasOpen) {
    setWasOpen(open)
    if (open) setView(start)
  }
  const official = view === 'checkpoint'
  return (
    <Dialog
      open={open}
      onClose={onClose}
      labelledBy="import-pack-title"
      describedBy="import-pack-intro"
      width={official ? 'w-[min(680px,94vw)]' : undefined}
      testId="import-pack-dialog"
    >
      <DialogHeader
        id="import-pack-title"
        title={official ? 'Import official checkpoint' : 'Import a model pack'}
        onClose={onClose}
      >
        <p id="import-pack-intro" className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
          {official
            ? 'LlamaGen-DD or VAR-DD files as published (student, teacher and tokenizer) are converted into a pack in the models folder; the originals stay where they are.'
            : 'The pack is checked, then copied into the models folder; the original stays where it is.'}
        </p>
      </DialogHeader>
      {official ? (
        <ImportCheckpoint
          onBack={() => setView('pack')}
          onClose={onClose}
          onUse={(pack) => {
            onConverted?.(pack)
            onClose()
          }}
        />
      ) : (
        <ImportForm onImport={onImport} onCancel={onClose} onOfficial={() => setView('checkpoint')} />
      )}
    </Dialog>
  )
}

function pathError(path: string): string | undefined {
  if (path === '') return 'Type the path of a pack folder or .zip file.'
  if (!isAbsolutePath(path))
    return 'The whole path is needed, from the root: /home/me/Downloads/my-pack.zip or C:\\Users\\me\\Downloads\\my-pack.zip.'
  return undefined
}

function ImportForm({
  onImport,
  onCancel,
  onOfficial,
}: {
  onImport: Props['onImport']
  onCancel(): void
  onOfficial(): void
}) {
  const [path, setPath] = useState('')
  // The field is checked from the first try on, not while the user is still typing the first path.
  const [tried, setTried] = useState(false)
  const [importing, setImporting] = useState(false)
  const [refused, setRefused] = useState<string | null>(null)
  const input = useRef<HTMLInputElement>(null)
  const error = tried ? pathError(path.trim()) : undefined

  // Back from the checkpoint view: the focus moves to the path field (on opening, the dialog puts it there).
  useEffect(() => input.current?.focus(), [])

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (importing) return
    setTried(true)
    const trimmed = path.trim()
    if (pathError(trimmed)) {
      input.current?.focus()
      return
    }
    setRefused(null)
    setImporting(true)
    let problem: string | null
    try {
      problem = await onImport(trimmed)
    } finally {
      setImporting(false)
    }
    // On success the dialog closes; on a refusal the path stays, with the focus on it to be fixed.
    if (problem !== null) {
      setRefused(problem)
      input.current?.focus()
    }
  }

  const describedBy = `${error ? 'import-pack-path-error ' : ''}${refused ? 'import-pack-error ' : ''}import-pack-path-hint`
  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-busy={importing} className="flex min-h-0 flex-col">
      <div className="flex flex-col gap-3 overflow-y-auto p-5 text-sm">
        <div className="flex flex-col gap-1">
          <label htmlFor="import-pack-path" className={fieldLabel}>
            Pack folder or .zip file
          </label>
          <input
            ref={input}
            id="import-pack-path"
            data-testid="import-pack-path"
            data-autofocus
            type="text"
            value={path}
            readOnly={importing}
            onChange={(e) => setPath(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={describedBy}
            spellCheck={false}
            autoComplete="off"
            className={`${control} font-mono text-xs`}
          />
          {error && (
            <p id="import-pack-path-error" data-testid="import-pack-path-error" className={fieldError}>
              {error}
            </p>
          )}
          <p id="import-pack-path-hint" className={hint}>
            Type or paste the path on the machine that runs DD Studio, whole from the root, such as
            /home/me/Downloads/my-pack.zip. There is no file picker: DD Studio reads the pack from that
            machine’s disk itself.
          </p>
        </div>
        {refused && (
          <p id="import-pack-error" role="alert" data-testid="import-pack-error" className={alertBox}>
            The pack could not be imported: {refused}
          </p>
        )}
        <p className={hint}>
          Have the official LlamaGen-DD or VAR-DD checkpoint files instead?{' '}
          <button
            type="button"
            onClick={onOfficial}
            data-testid="import-official"
            className="rounded text-indigo-700 underline hover:no-underline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300"
          >
            Import official checkpoint…
          </button>
        </p>
      </div>
      <footer className="flex items-center justify-end gap-2 border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
        {/* Always present, so screen readers hear the progress when it starts. */}
        <p
          role="status"
          data-testid="import-pack-progress"
          className="mr-auto text-xs text-zinc-600 dark:text-zinc-400"
        >
          {importing ? 'Checking and copying the pack…' : ''}
        </p>
        <button
          type="button"
          onClick={onCancel}
          className="rounded-lg border border-zinc-300 px-3 py-1.5 text-sm hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:hover:bg-zinc-800"
        >
          Cancel
        </button>
        {/* aria-disabled, not disabled, while importing: a disabled button would drop the keyboard focus. */}
        <button
          type="submit"
          data-testid="import-pack-submit"
          aria-disabled={importing}
          className="rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 aria-disabled:cursor-wait aria-disabled:opacity-60"
        >
          {importing ? 'Importing…' : 'Import'}
        </button>
      </footer>
    </form>
  )
}
