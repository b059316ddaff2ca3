/**
 * The chosen pack's model card: what it makes (description, resolution, classes or the prompt it reads), under
 * which licences its training data came, and how fast each mode runs on this machine. Licences are listed by
 * name; each one's credit line is a disclosure away, so the card stays short in the narrow panel.
 */
import type { ModeSpeed, PackSummary } from '../../../../common/generation.ts'
import { countOf, modeLabel, speedSource, speedText, stepUnitsOf } from './modes.ts'

interface Props {
  pack: PackSummary
  /** The pack's token count, with the panel's fallback for packs that do not say. */
  tokens: number
  speeds: ModeSpeed[] | null
}

/** The modes the card lists speeds for: the fixed ones (custom depends on its step list). */
const CARD_MODES = ['1step', '2step', 'hybrid', 'exact', 'ar'] as const

export function ModelCard({ pack, tokens, speeds }: Props) {
  const licenseNames = [...new Set(pack.licenses.map((l) => l.license))]
  const steps = stepUnitsOf(pack)
  // A VAR pack's tokens come in scales: "680 tokens in 10 scales".
  const scales = steps.unit === 'scale' ? ` in ${countOf(steps.count, 'scale')}` : ''
  return (
    <section
      aria-labelledby="model-card-title"
      data-testid="model-card"
      className="flex flex-col gap-2 rounded-lg border border-zinc-200 p-3 text-xs dark:border-zinc-800"
    >
      <h3 id="model-card-title" className="text-sm font-semibold">
        {pack.name ?? pack.id}
        {pack.version && (
          <span className="ml-1.5 font-normal text-zinc-500 dark:text-zinc-400">{pack.version}</span>
        )}
      </h3>
      {/* Clamped to keep the form in view; the whole text is in the tooltip and read out in full. */}
      {pack.description && (
        <p
          data-testid="model-description"
          title={pack.description}
          className="line-clamp-3 text-zinc-600 dark:text-zinc-400"
        >
          {pack.description}
        </p>
      )}
      <dl
        id="model-card-summary"
        className="grid grid-cols-[max-content_1fr] gap-x-3 gap-y-0.5 text-zinc-600 dark:text-zinc-400"
      >
        <dt className="font-medium text-zinc-700 dark:text-zinc-300">Resolution</dt>
        <dd data-testid="model-resolution">
          {pack.image ? `${pack.image.width}×${pack.image.height} px` : 'not stated'}, {tokens} tokens{scales}
        </dd>
        {pack.text ? (
          <>
            <dt className="font-medium text-zinc-700 dark:text-zinc-300">Prompt</dt>
            <dd data-testid="model-prompt">{promptSummary(pack.text)}</dd>
          </>
        ) : (
          <>
            <dt className="font-medium text-zinc-700 dark:text-zinc-300">Classes</dt>
            <dd data-testid="model-classes">{pack.classes.length}</dd>
          </>
        )}
        <dt className="font-medium text-zinc-700 dark:text-zinc-300">
          {licenseNames.length === 1 ? 'Licence' : 'Licences'}
        </dt>
        <dd data-testid="model-licenses">{licenseNames.length ? licenseNames.join(', ') : 'none stated'}</dd>
      </dl>
      {pack.licenses.length > 0 && (
        <details>
          <summary className="cursor-pointer text-zinc-700 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-300">
            Training data credits
          </summary>
          <ul className="mt-1 flex list-disc flex-col gap-0.5 pl-4 text-zinc-600 dark:text-zinc-400">
            {pack.licenses.map((l) => (
              <li key={`${l.source ?? ''}/${l.license}/${l.attribution ?? ''}`}>
                {l.attribution ?? l.source ?? 'Unnamed source'} ({l.license})
              </li>
            ))}
          </ul>
        </details>
      )}
      <SpeedTable speeds={speeds} />
    </section>
  )
}

/** What a text pack reads: "up to 15 words; empty: unconditional; negative prompt". */
function promptSummary(text: NonNullable<PackSummary['text']>): string {
  const parts = [`up to ${text.maxTokens - 1} words`]
  if (text.unconditional) parts.push('empty: unconditional')
  if (text.negativePrompt) parts.push('negative prompt')
  return parts.join('; ')
}

/** A mode's name in the table; a hybrid time says which schedule it was measured with. */
function rowLabel(mode: string, speed: ModeSpeed | undefined): string {
  return mode === 'hybrid' && speed?.steps !== undefined
    ? `${modeLabel(mode)} (${speed.steps} steps)`
    : modeLabel(mode)
}

function SpeedTable({ speeds }: { speeds: ModeSpeed[] | null }) {
  return (
    <div>
      <h4 id="model-speeds-title" className="mb-0.5 font-medium text-zinc-700 dark:text-zinc-300">
        Time per image on this machine
      </h4>
      <dl
        data-testid="model-speeds"
        aria-labelledby="model-speeds-title"
        className="grid grid-cols-[max-content_1fr_max-content_1fr] gap-x-2 gap-y-0.5"
      >
        {CARD_MODES.map((mode) => {
          const speed = speeds?.find((s) => s.mode === mode)
          return (
            <div
              key={mode}
              data-mode={mode}
              className="contents"
              title={speed ? speedSource(speed) : undefined}
            >
              <dt className="text-zinc-600 dark:text-zinc-400">{rowLabel(mode, speed)}</dt>
              <dd
                className={
                  speed
                    ? 'font-mono text-zinc-800 dark:text-zinc-200'
                    : 'text-zinc-500 italic dark:text-zinc-400'
                }
              >
                {speedText(speed?.msPerImage ?? null)}
              </dd>
            </div>
          )
        })}
      </dl>
    </div>
  )
}
