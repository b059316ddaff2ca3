/**
 * Settings: the gallery and models folders, the execution provider preference, the theme and the mode the
 * Steps toggle starts on. The form edits a copy and saves the changed fields together; folders are checked
 * here the way main checks them (absolute paths), and anything main still refuses is shown in the dialog.
 */
import { type FormEvent, useState } from 'react'
import { SINGLE_MODES, type SingleMode } from '../../../common/generation.ts'
import {
  EXECUTION_PROVIDERS,
  type ProviderPreference,
  type Settings,
  type SystemInfo,
  type Theme,
} from '../../../common/types.ts'
import { Dialog, DialogHeader } from './Dialog.tsx'
import { modeLabel } from './generate/modes.ts'
import { alertBox, control, fieldError, fieldLabel, hint } from './generate/ui.ts'
import { isAbsolutePath } from './paths.ts'

interface Props {
  open: boolean
  onClose(): void
  settings: Settings | null
  system: SystemInfo | null
  /** Saves the changed fields; answers with why they were refused, or null. */
  onSave(patch: Partial<Settings>): Promise<string | null>
}

export function SettingsDialog({ open, onClose, settings, system, onSave }: Props) {
  return (
    <Dialog open={open} onClose={onClose} labelledBy="settings-title" testId="settings-dialog">
      <DialogHeader id="settings-title" title="Settings" onClose={onClose} />
      {settings ? (
        <SettingsForm settings={settings} system={system} onSave={onSave} onDone={onClose} />
      ) : (
        <p className="p-5 text-sm">Loading settings…</p>
      )}
    </Dialog>
  )
}

function folderError(path: string): string | undefined {
  const p = path.trim()
  if (p === '') return 'Give a folder.'
  if (!isAbsolutePath(p))
    return 'An absolute folder path, such as /home/me/Pictures/dd-studio or C:\\Users\\me\\Pictures.'
  return undefined
}

function providerLabel(name: ProviderPreference, system: SystemInfo | null): string {
  if (name === 'auto') {
    const active = system?.activeProvider
    return `Automatic${active ? ` (now ${active})` : ''}: the first that works`
  }
  const probe = system?.providers.find((p) => p.name === name)
  if (!probe) return `${name} (not tried on this platform)`
  return `${name}${probe.available ? ' (works here)' : ' (not available here)'}`
}

function SettingsForm({
  settings,
  system,
  onSave,
  onDone,
}: {
  settings: Settings
  system: SystemInfo | null
  onSave: Props['onSave']
  onDone(): void
}) {
  const [draft, setDraft] = useState<Settings>(settings)
  const [refused, setRefused] = useState<string | null>(null)
  const [saving, setSaving] = useState(false)
  const errors = { galleryDir: folderError(draft.galleryDir), modelsDir: folderError(draft.modelsDir) }
  const valid = !errors.galleryDir && !errors.modelsDir
  // The platform's providers first (in the order they are tried), then the rest.
  const providers: ProviderPreference[] = [
    'auto',
    ...(system?.providers.map((p) => p.name) ?? []),
    ...EXECUTION_PROVIDERS.filter((p) => !system?.providers.some((q) => q.name === p)),
  ]

  function set<K extends keyof Settings>(key: K, value: Settings[K]) {
    setDraft((d) => ({ ...d, [key]: value }))
  }

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!valid || saving) return
    const trimmed = { ...draft, galleryDir: draft.galleryDir.trim(), modelsDir: draft.modelsDir.trim() }
    const patch = Object.fromEntries(
      (Object.keys(trimmed) as (keyof Settings)[])
        .filter((k) => trimmed[k] !== settings[k])
        .map((k) => [k, trimmed[k]]),
    ) as Partial<Settings>
    setSaving(true)
    const problem = Object.keys(patch).length > 0 ? await onSave(patch) : null
    setSaving(false)
    if (problem) setRefused(problem)
    else onDone()
  }

  return (
    <form onSubmit={(e) => void submit(e)} noValidate className="flex min-h-0 flex-col">
      <div className="flex flex-col gap-4 overflow-y-auto p-5 text-sm">
        <FolderField
          name="galleryDir"
          label="Gallery folder"
          help="Where generated images are saved."
          value={draft.galleryDir}
          error={errors.galleryDir}
          onChange={(v) => set('galleryDir', v)}
        />
        <FolderField
          name="modelsDir"
          label="Models folder"
          help="Where your own model packs live. Used from the next start of the app."
          value={draft.modelsDir}
          error={errors.modelsDir}
          onChange={(v) => set('modelsDir', v)}
        />
        <div className="flex flex-col gap-1">
          <label htmlFor="settings-executionProvider" className={fieldLabel}>
            Execution provider
          </label>
          <select
            id="settings-executionProvider"
            value={draft.executionProvider}
            onChange={(e) => set('executionProvider', e.target.value as ProviderPreference)}
            aria-describedby="settings-executionProvider-hint"
            className={control}
          >
            {providers.map((p) => (
              <option key={p} value={p}>
                {providerLabel(p, system)}
              </option>
            ))}
          </select>
          <p id="settings-executionProvider-hint" className={hint}>
            Preferred for the next job; if it fails to load, the next one that works is used (cpu last).
          </p>
        </div>
        <fieldset className="flex flex-col gap-1">
          <legend className={`${fieldLabel} mb-1`}>Theme</legend>
          <div className="flex gap-4">
            {(['dark', 'light'] as const satisfies readonly Theme[]).map((theme) => (
              <label key={theme} htmlFor={`settings-theme-${theme}`} className="flex items-center gap-2">
                <input
                  type="radio"
                  id={`settings-theme-${theme}`}
                  name="settings-theme"
                  value={theme}
                  checked={draft.theme === theme}
                  onChange={() => set('theme', theme)}
                  className="accent-indigo-600"
                />
                {theme === 'dark' ? 'Dark' : 'Light'}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="flex flex-col gap-1">
          <label htmlFor="settings-defaultMode" className={fieldLabel}>
            Default mode
          </label>
          <select
            id="settings-defaultMode"
            value={draft.defaultMode}
            onChange={(e) => set('defaultMode', e.target.value as SingleMode)}
            aria-describedby="settings-defaultMode-hint"
            className={control}
          >
            {SINGLE_MODES.map((m) => (
              <option key={m} value={m}>
                {modeLabel(m)}
              </option>
            ))}
          </select>
          <p id="settings-defaultMode-hint" className={hint}>
            The Steps option chosen when the app starts.
          </p>
        </div>
        {refused && (
          <p role="alert" data-testid="settings-error" className={alertBox}>
            These settings were refused: {refused}
          </p>
        )}
      </div>
      <footer className="flex justify-end gap-2 border-t border-zinc-200 px-5 py-3 dark:border-zinc-800">
        <button
          type="button"
          onClick={onDone}
          className="rounded-lg border border-zinc-300 px-3 py-1.5 text-sm hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:hover:bg-zinc-800"
        >
          Cancel
        </button>
        <button
          type="submit"
          disabled={!valid || saving}
          className="rounded-lg bg-indigo-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 disabled:cursor-not-allowed disabled:opacity-40"
        >
          {saving ? 'Saving…' : 'Save'}
        </button>
      </footer>
    </form>
  )
}

function FolderField({
  name,
  label,
  help,
  value,
  error,
  onChange,
}: {
  name: 'galleryDir' | 'modelsDir'
  label: string
  help: string
  value: string
  error: string | undefined
  onChange(value: string): void
}) {
  const id = `settings-${name}`
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className={fieldLabel}>
        {label}
      </label>
      <input
        id={id}
        type="text"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${error ? `${id}-error ` : ''}${id}-hint`}
        spellCheck={false}
        autoComplete="off"
        className={`${control} font-mono text-xs`}
      />
      {error && (
        <p id={`${id}-error`} className={fieldError}>
          {error}
        </p>
      )}
      <p id={`${id}-hint`} className={hint}>
        {help}
      </p>
    </div>
  )
}
