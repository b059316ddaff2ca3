/**
 * "Import official checkpoint": the family and size, the student, teacher and tokenizer files (typed or pasted
 * paths on the machine that runs DD Studio; the desktop app adds a file dialog), an optional pack id and fp16.
 * Main first checks that its Python has torch and onnx (and says what to do when not); converting shows the
 * converter's stages on a progress bar and can be cancelled, which leaves nothing behind; the converter's
 * errors are shown as it gave them; a converted pack is validated by main and listed at once.
 */
import { type FormEvent, useEffect, useRef, useState } from 'react'
import {
  CHECKPOINT_FAMILIES,
  CHECKPOINT_ROLES,
  type CheckpointRole,
  type CheckpointSize,
  type ConvertJob,
  FAMILIES,
  modelLabel,
} from '../../../../common/convert.ts'
import type { PackSummary } from '../../../../common/generation.ts'
import { client, shellKind } from '../../transport/client.ts'
import { alertBox, control, fieldError, fieldLabel, hint, infoBox } from '../generate/ui.ts'
import {
  type CheckpointField,
  type CheckpointFormValues,
  checkValues,
  initialValues,
  requestOf,
  withFamily,
} from './checkpointForm.ts'
import { type CheckState, isRunning, useConversion } from './useConversion.ts'

const ROLE_TITLE: Record<CheckpointRole, string> = {
  student: 'Student',
  teacher: 'Teacher',
  tokenizer: 'Tokenizer',
}

const button =
  'rounded-lg border border-zinc-300 px-3 py-1.5 text-sm hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:hover:bg-zinc-800'
const primary =
  'rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 aria-disabled:cursor-not-allowed aria-disabled:opacity-60'

interface Props {
  /** Back to importing a pack folder or .zip. */
  onBack(): void
  onClose(): void
  /** The user chose to use the converted pack. */
  onUse(pack: PackSummary): void
}

export function ImportCheckpoint({ onBack, onClose, onUse }: Props) {
  const conversion = useConversion()
  const { check, job } = conversion
  const [values, setValues] = useState<CheckpointFormValues>(initialValues)
  const [tried, setTried] = useState(false)
  const first = useRef<HTMLInputElement>(null)
  const errors = tried ? checkValues(values) : {}
  const running = isRunning(job)
  const ready = check.state === 'done' && check.check.ok
  const family = FAMILIES[values.family]

  // Reached from the pack form inside the same dialog, the focus moves to the first field; opening the dialog
  // on this view puts it there too (data-autofocus).
  useEffect(() => first.current?.focus(), [])

  function setFile(role: CheckpointRole, path: string) {
    setValues((v) => ({ ...v, files: { ...v.files, [role]: path } }))
  }

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (running || conversion.starting || !ready) return
    setTried(true)
    const found = checkValues(values)
    const firstBad = (Object.keys(found) as CheckpointField[])[0]
    if (firstBad) {
      document.getElementById(`convert-${firstBad}`)?.focus()
      return
    }
    conversion.clear()
    await conversion.start(requestOf(values))
  }

  const busy = running || conversion.starting
  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-busy={busy} className="flex min-h-0 flex-col">
      <div className="flex flex-col gap-4 overflow-y-auto p-5 text-sm">
        <PythonCheck check={check} onRecheck={conversion.recheck} />
        <div className="flex flex-wrap gap-6">
          <fieldset disabled={busy} className="flex flex-col gap-1">
            <legend className={fieldLabel}>Model</legend>
            <div className="mt-1 flex gap-3">
              {CHECKPOINT_FAMILIES.map((f, i) => (
                <label key={f} className="flex items-center gap-1.5">
                  <input
                    ref={i === 0 ? first : undefined}
                    data-autofocus={i === 0 ? true : undefined}
                    type="radio"
                    name="convert-family"
                    value={f}
                    checked={values.family === f}
                    onChange={() => setValues((v) => withFamily(v, f))}
                    className="accent-indigo-600"
                  />
                  {FAMILIES[f].label}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset disabled={busy} className="flex flex-col gap-1">
            <legend className={fieldLabel}>{family.sizeName}</legend>
            <div className="mt-1 flex gap-3">
              {family.sizes.map((s) => (
                <label key={s} className="flex items-center gap-1.5">
                  <input
                    type="radio"
                    name="convert-size"
                    value={s}
                    checked={values.size === s}
                    onChange={() => setValues((v) => ({ ...v, size: s as CheckpointSize }))}
                    className="accent-indigo-600"
                  />
                  {values.family === 'var' ? `d${s}` : s}
                </label>
              ))}
            </div>
          </fieldset>
        </div>
        <div className="flex flex-col gap-3">
          <p id="convert-files-hint" className={hint}>
            {shellKind === 'electron'
              ? 'Choose each file, or type or paste its whole path.'
              : 'Type or paste each file’s whole path on the machine that runs DD Studio, such as /home/me/Downloads/llamagen-B.pt: DD Studio reads the files from that machine’s disk itself.'}
          </p>
          {CHECKPOINT_ROLES.map((role) => (
            <FileField
              key={role}
              role={role}
              label={`${ROLE_TITLE[role]}: ${family.files[role]}`}
              published={family.publishedName(role, values.size)}
              value={values.files[role]}
              onChange={(path) => setFile(role, path)}
              error={errors[role]}
              readOnly={busy}
              onPick={
                shellKind === 'electron'
                  ? async () => {
                      const r = await client.convert.pickFile({ family: values.family, role })
                      if (r.ok && r.value) setFile(role, r.value)
                    }
                  : null
              }
            />
          ))}
        </div>
        <div className="flex flex-wrap items-start gap-4">
          <div className="flex min-w-48 flex-1 flex-col gap-1">
            <label htmlFor="convert-id" className={fieldLabel}>
              Pack id (optional)
            </label>
            <input
              id="convert-id"
              type="text"
              value={values.id}
              readOnly={busy}
              onChange={(e) => setValues((v) => ({ ...v, id: e.target.value }))}
              aria-invalid={errors.id ? true : undefined}
              aria-describedby={errors.id ? 'convert-id-error convert-id-hint' : 'convert-id-hint'}
              spellCheck={false}
              autoComplete="off"
              placeholder={`${values.family}-${values.family === 'var' ? 'd' : ''}${values.size.toLowerCase()}-dd`}
              className={`${control} font-mono text-xs`}
            />
            {errors.id && (
              <p id="convert-id-error" className={fieldError}>
                {errors.id}
              </p>
            )}
            <p id="convert-id-hint" className={hint}>
              Empty: the converter names the pack after the model.
            </p>
          </div>
          <label className="mt-5 flex items-center gap-1.5 text-sm">
            <input
              type="checkbox"
              checked={values.fp16}
              disabled={busy}
              onChange={(e) => setValues((v) => ({ ...v, fp16: e.target.checked }))}
              className="accent-indigo-600"
            />
            Half precision (fp16), for GPU providers
          </label>
        </div>
        {conversion.refused && (
          <p role="alert" data-testid="convert-refused" className={alertBox}>
            The conversion could not start: {conversion.refused}
          </p>
        )}
        {job && <JobView job={job} onUse={onUse} />}
      </div>
      <footer className="flex items-center justify-end gap-2 border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
        <button
          type="button"
          onClick={onBack}
          disabled={busy}
          className={`${button} mr-auto disabled:opacity-50`}
        >
          Back
        </button>
        {running ? (
          <button
            type="button"
            data-testid="convert-cancel"
            onClick={() => void conversion.cancel()}
            aria-disabled={conversion.cancelling}
            className={button}
          >
            {conversion.cancelling ? 'Cancelling…' : 'Cancel conversion'}
          </button>
        ) : (
          <button type="button" onClick={onClose} className={button}>
            Close
          </button>
        )}
        {/* aria-disabled, not disabled: a disabled button would drop the keyboard focus. */}
        <button
          type="submit"
          data-testid="convert-submit"
          aria-disabled={busy || !ready}
          aria-describedby={!ready ? 'convert-check' : undefined}
          className={primary}
        >
          {conversion.starting ? 'Starting…' : running ? 'Converting…' : 'Convert'}
        </button>
      </footer>
    </form>
  )
}

function PythonCheck({ check, onRecheck }: { check: CheckState; onRecheck(): void }) {
  if (check.state === 'checking')
    return (
      <p id="convert-check" role="status" data-testid="convert-check" className={hint}>
        Checking for Python with torch and onnx…
      </p>
    )
  const again = (
    <button type="button" onClick={onRecheck} className={`${button} mt-2 bg-white text-xs dark:bg-zinc-900`}>
      Check again
    </button>
  )
  if (check.state === 'error')
    return (
      <div id="convert-check" role="alert" data-testid="convert-check" className={alertBox}>
        <p>Could not check for Python: {check.message}</p>
        {again}
      </div>
    )
  const c = check.check
  const from = {
    DDSTUDIO_PYTHON: 'set by DDSTUDIO_PYTHON',
    system: "the system's Python",
    PATH: 'found on the PATH',
  }[c.interpreterFrom]
  if (c.ok)
    return (
      <p id="convert-check" role="status" data-testid="convert-check" className={`${infoBox} text-xs`}>
        Ready to convert with Python {c.python ?? '(version unknown)'}, torch {c.torch} and onnx {c.onnx} (
        <span className="font-mono">{c.interpreter}</span>, {from}).
      </p>
    )
  return (
    <div id="convert-check" role="alert" data-testid="convert-check" className={alertBox}>
      <p className="font-medium">
        Converting needs Python with torch and onnx, and{' '}
        <span className="font-mono text-xs">{c.interpreter}</span> cannot do it yet:
      </p>
      <ul className="mt-1 list-disc pl-5 text-xs" data-testid="convert-check-problems">
        {c.problems.map((p) => (
          <li key={p} className="whitespace-pre-wrap break-words">
            {p}
          </li>
        ))}
      </ul>
      <p className="mt-2 text-xs font-medium">What to do:</p>
      <ol className="mt-1 list-decimal pl-5 text-xs" data-testid="convert-check-instructions">
        {c.instructions.map((s) => (
          <li key={s} className="break-words">
            {s}
          </li>
        ))}
      </ol>
      {again}
    </div>
  )
}

function FileField({
  role,
  label,
  published,
  value,
  onChange,
  error,
  readOnly,
  onPick,
}: {
  role: CheckpointRole
  label: string
  published: string
  value: string
  onChange(path: string): void
  error: string | undefined
  readOnly: boolean
  onPick: (() => Promise<void>) | null
}) {
  const id = `convert-${role}`
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className={fieldLabel}>
        {label}
      </label>
      <div className="flex gap-2">
        <input
          id={id}
          data-testid={id}
          type="text"
          value={value}
          readOnly={readOnly}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${error ? `${id}-error ` : ''}${id}-hint convert-files-hint`}
          spellCheck={false}
          autoComplete="off"
          className={`${control} font-mono text-xs`}
        />
        {onPick && (
          <button
            type="button"
            onClick={() => void onPick()}
            disabled={readOnly}
            aria-label={`Choose the ${label} file`}
            className={`${button} shrink-0 text-xs disabled:opacity-50`}
          >
            Choose…
          </button>
        )}
      </div>
      {error && (
        <p id={`${id}-error`} className={fieldError}>
          {error}
        </p>
      )}
      <p id={`${id}-hint`} className={hint}>
        Published as <span className="font-mono">{published}</span>
      </p>
    </div>
  )
}

function JobView({ job, onUse }: { job: ConvertJob; onUse(pack: PackSummary): void }) {
  const label = modelLabel(job.family, job.size)
  const ref = useRef<HTMLDivElement>(null)
  // Below the fields: brought into view when the conversion starts and when it ends, not on every step (that
  // would fight the user's own scrolling).
  const ended = job.state === 'done' || job.state === 'failed' || job.state === 'cancelled'
  useEffect(() => {
    ref.current?.scrollIntoView({ block: ended ? 'end' : 'nearest' })
  }, [ended])
  return (
    <div ref={ref}>
      <JobState job={job} label={label} onUse={onUse} />
    </div>
  )
}

function JobState({ job, label, onUse }: { job: ConvertJob; label: string; onUse(pack: PackSummary): void }) {
  if (job.state === 'failed')
    return (
      <div role="alert" data-testid="convert-error" className={alertBox}>
        <p className="font-medium">Converting {label} failed; nothing was added to the models folder.</p>
        <p className="mt-1 whitespace-pre-wrap break-words font-mono text-xs">{job.error}</p>
      </div>
    )
  if (job.state === 'cancelled')
    return (
      <p role="status" data-testid="convert-cancelled" className={infoBox}>
        Converting {label} was cancelled; nothing was added to the models folder.
      </p>
    )
  if (job.state === 'done' && job.pack) {
    const pack = job.pack
    return (
      <div role="status" data-testid="convert-done" className={infoBox}>
        <p>
          {label} is converted: the pack <span className="font-medium">{pack.name ?? pack.id}</span> (
          <span className="font-mono text-xs">{pack.id}</span>) is in the models folder and in the pack list.
        </p>
        <button type="button" onClick={() => onUse(pack)} className={`${primary} mt-2`}>
          Use this pack
        </button>
      </div>
    )
  }
  const fraction = job.total > 0 ? Math.min(1, job.done / job.total) : 0
  const text =
    job.state === 'validating'
      ? 'Checking the converted pack…'
      : `${job.stage ? capitalise(job.stage) : 'Starting the converter'}${job.total > 0 ? ` (${job.done} of ${job.total})` : '…'}`
  return (
    <div className="flex flex-col gap-1">
      <div
        role="progressbar"
        data-testid="convert-progress"
        aria-label={`Converting ${label}`}
        aria-valuemin={0}
        aria-valuemax={job.total > 0 ? job.total : 100}
        aria-valuenow={job.total > 0 ? job.done : undefined}
        aria-valuetext={text}
        className="h-2 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
      >
        <div
          className={`h-full rounded-full bg-indigo-500 transition-[width] duration-150 ${job.total > 0 ? '' : 'w-1/3 animate-pulse'}`}
          style={job.total > 0 ? { width: `${(fraction * 100).toFixed(1)}%` } : undefined}
        />
      </div>
      <p className="text-xs text-zinc-600 dark:text-zinc-400" aria-live="polite" data-testid="convert-stage">
        {text}
      </p>
      <p className={hint}>
        The dialog can be closed meanwhile: the conversion goes on, and the pack joins the list when it is
        done.
      </p>
    </div>
  )
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
