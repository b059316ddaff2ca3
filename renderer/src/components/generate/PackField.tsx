/**
 * The model pack select, with the chosen pack's model card (or why no pack can be used) below it. Broken packs
 * are listed, disabled, with their first problem, so a half-copied pack is visible instead of silently missing.
 * Below the select, "Import pack…" opens the import dialog on a pack folder or .zip and "Import official
 * checkpoint…" opens it on converting official LlamaGen-DD / VAR-DD files (with a line on what they give while
 * only built-in packs are here); a pack just imported (and selected) is named in a note below.
 */
import type { ModeSpeed, PackSummary } from '../../../../common/generation.ts'
import type { ImportView } from './ImportPackDialog.tsx'
import { ModelCard } from './ModelCard.tsx'
import { control, fieldLabel, hint, infoBox } from './ui.ts'

interface Props {
  /** Null while the packs are still being looked for. */
  packs: PackSummary[] | null
  packsError: string | null
  /** The pack in use (a ready one), or null when none can be used. */
  pack: PackSummary | null
  /** The pack's token count, with the panel's fallback for packs that do not say. */
  tokens: number
  /** This machine's measured speeds for the chosen pack; null while they load. */
  speeds: ModeSpeed[] | null
  onChange(packId: string): void
  /** Opens the import dialog on the given view. */
  onImport(view: ImportView): void
  /** The pack the last import brought in; its note shows while it is the pack in use. */
  imported: PackSummary | null
  onDismissImported(): void
}

const importButton =
  'rounded px-1 text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300'

export function PackField({
  packs,
  packsError,
  pack,
  tokens,
  speeds,
  onChange,
  onImport,
  imported,
  onDismissImported,
}: Props) {
  const readyPacks = packs?.filter((p) => p.status === 'ready') ?? []
  const brokenPacks = packs?.filter((p) => p.status === 'broken') ?? []
  // Nothing but what ships with the app: say where bigger models come from.
  const onlyBuiltIn = packs !== null && packs.length > 0 && packs.every((p) => p.source === 'built-in')
  const describedBy = `${pack ? 'model-card-summary' : 'pack-hint'}${brokenPacks.length ? ' broken-packs' : ''}`
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor="pack-select" className={fieldLabel}>
        Model pack
      </label>
      <div>
        <select
          id="pack-select"
          data-testid="pack-select"
          value={pack?.id ?? ''}
          disabled={readyPacks.length === 0}
          onChange={(e) => onChange(e.target.value)}
          aria-describedby={describedBy}
          className={control}
        >
          {packs === null && <option value="">Loading packs…</option>}
          {packs !== null && readyPacks.length === 0 && <option value="">No usable pack</option>}
          {readyPacks.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name ?? p.id}
              {p.version ? ` ${p.version}` : ''}
              {p.isDefault ? ' (default)' : ''}
            </option>
          ))}
          {brokenPacks.map((p) => (
            <option key={p.id} value={p.id} disabled title={p.problems.join('\n')}>
              {p.name ?? p.id} — unusable
            </option>
          ))}
        </select>
        {/* Below the select: the panel is too narrow for both beside the label. */}
        <div className="-ml-1 mt-1 flex flex-wrap items-baseline text-xs">
          <button
            type="button"
            onClick={() => onImport('pack')}
            aria-haspopup="dialog"
            data-testid="import-pack-button"
            className={importButton}
          >
            Import pack…
          </button>
          <span aria-hidden="true" className="text-zinc-400 dark:text-zinc-500">
            ·
          </span>
          <button
            type="button"
            onClick={() => onImport('checkpoint')}
            aria-haspopup="dialog"
            aria-describedby={onlyBuiltIn ? 'official-hint' : undefined}
            data-testid="import-checkpoint-button"
            className={importButton}
          >
            Import official checkpoint…
          </button>
        </div>
        {onlyBuiltIn && (
          <p id="official-hint" data-testid="official-hint" className={hint}>
            Official LlamaGen-DD and VAR-DD checkpoints become packs of the 1000 ImageNet classes.
          </p>
        )}
        {/* Always present, so screen readers hear the note when an import brings it in. */}
        <div role="status">
          {imported && pack?.id === imported.id && (
            <ImportedNote pack={imported} onDismiss={onDismissImported} />
          )}
        </div>
      </div>
      {pack ? (
        <ModelCard pack={pack} tokens={tokens} speeds={speeds} />
      ) : (
        <p id="pack-hint" className={hint}>
          {packsError ?? (packs === null ? 'Looking for model packs…' : 'No model pack can be used.')}
        </p>
      )}
      {brokenPacks.length > 0 && (
        <ul id="broken-packs" className="flex flex-col gap-1 text-xs text-amber-700 dark:text-amber-300">
          {brokenPacks.map((p) => (
            <li key={p.id} title={p.problems.join('\n')}>
              <span className="font-medium">{p.name ?? p.id}</span> can’t be used:{' '}
              {p.problems[0] ?? 'unknown problem'}
              {p.problems.length > 1 ? ` (and ${p.problems.length - 1} more)` : ''}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

function ImportedNote({ pack, onDismiss }: { pack: PackSummary; onDismiss(): void }) {
  return (
    <p
      data-testid="pack-imported"
      className={`${infoBox} mt-1 flex items-start justify-between gap-2 text-xs`}
    >
      <span>
        Imported <span className="font-medium">{pack.name ?? pack.id}</span>
        {pack.version ? ` ${pack.version}` : ''} into the models folder. It is the selected pack now.
      </span>
      <button
        type="button"
        onClick={onDismiss}
        aria-label="Dismiss the import note"
        className="rounded px-1 hover:bg-black/10 focus-visible:outline-2 focus-visible:outline-indigo-500"
      >
        ✕
      </button>
    </p>
  )
}
