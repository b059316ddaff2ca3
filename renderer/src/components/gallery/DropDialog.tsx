/**
 * What a dropped PNG says about how it was made. Ours: every setting, and "Use these settings", which remakes
 * the very image. AUTOMATIC1111-style text from any tool: the prompt, what maps onto DD settings (seed and CFG
 * scale), and the keys that mean nothing to a DD pack. Anything else (not a PNG, damaged, no settings): why,
 * in plain words.
 */
import type { GenerateRequest, PackSummary } from '../../../../common/generation.ts'
import type { A1111Settings } from '../../../../common/parameters.ts'
import type { DroppedImageParameters } from '../../../../common/pngText.ts'
import { Dialog, DialogHeader } from '../Dialog.tsx'
import { alertBox, noticeBox } from '../generate/ui.ts'
import { MetadataRows, ParametersText, Row } from './MetadataList.tsx'
import { packProblem } from './settingsCheck.ts'
import { primaryAction } from './ui.ts'
import type { Dropped } from './useImageDrop.ts'

interface Props {
  dropped: Dropped | null
  onClose(): void
  packs: PackSummary[] | null
  onUseSettings(request: Partial<GenerateRequest>, from: string): void
}

export function DropDialog({ dropped, onClose, packs, onUseSettings }: Props) {
  return (
    <Dialog
      open={dropped !== null}
      onClose={onClose}
      labelledBy="drop-title"
      width="w-[min(640px,94vw)]"
      testId="drop-dialog"
    >
      <DialogHeader id="drop-title" title="Settings in a dropped image" onClose={onClose}>
        <p className="font-mono text-xs break-all text-zinc-600 dark:text-zinc-400">{dropped?.name}</p>
      </DialogHeader>
      <div className="overflow-y-auto p-5 text-sm" data-testid="drop-body">
        {dropped?.state === 'reading' && <p role="status">Reading the image…</p>}
        {dropped?.state === 'read' && (
          <>
            {dropped.extraFiles > 0 && (
              <p className="mb-2 text-xs text-zinc-600 dark:text-zinc-400">
                Only the first of the {dropped.extraFiles + 1} dropped files is read.
              </p>
            )}
            <Parameters
              result={dropped.result}
              packs={packs}
              use={(request) => {
                onUseSettings(request, dropped.name)
                onClose()
              }}
            />
          </>
        )}
      </div>
    </Dialog>
  )
}

function Problems({ problems, serious }: { problems: string[]; serious: boolean }) {
  if (problems.length === 0) return null
  return (
    <div
      role={serious ? 'alert' : undefined}
      data-testid="drop-problems"
      className={serious ? alertBox : noticeBox}
    >
      {problems.map((p) => (
        <p key={p}>{p}</p>
      ))}
    </div>
  )
}

function Parameters({
  result,
  packs,
  use,
}: {
  result: DroppedImageParameters
  packs: PackSummary[] | null
  use(request: Partial<GenerateRequest>): void
}) {
  if (result.source === 'none') {
    return (
      <div data-testid="drop-none" className="flex flex-col gap-3">
        <Problems problems={result.problems} serious />
        {result.text !== '' && <ParametersText text={result.text} id="drop-parameters-title" />}
      </div>
    )
  }
  if (result.source === 'dd-studio') {
    const problem = packProblem(result.settings.packId, packs)
    return (
      <div data-testid="drop-dd-studio" className="flex flex-col gap-3">
        <p>Made by DD Studio: these settings remake this very image.</p>
        <Problems problems={result.problems} serious={false} />
        <dl>
          <MetadataRows metadata={result.metadata} />
        </dl>
        <ParametersText text={result.text} id="drop-parameters-title" />
        <UseButton problem={problem} label="Use these settings" onUse={() => use(result.settings)} />
      </div>
    )
  }
  return (
    <A1111Parameters
      text={result.text}
      settings={result.settings}
      problems={result.problems}
      packs={packs}
      use={use}
    />
  )
}

function A1111Parameters({
  text,
  settings,
  problems,
  packs,
  use,
}: {
  text: string
  settings: A1111Settings
  problems: string[]
  packs: PackSummary[] | null
  use(request: Partial<GenerateRequest>): void
}) {
  const { request } = settings
  const mapped: [string, string][] = []
  if (request.seed !== undefined) mapped.push(['Seed', String(request.seed)])
  if (request.teacher?.cfgScale !== undefined) mapped.push(['CFG scale', String(request.teacher.cfgScale)])
  if (settings.fromDdStudio) {
    if (request.packId !== undefined) mapped.push(['Pack', request.packId])
    if (request.mode !== undefined) mapped.push(['Mode', request.mode])
    if (request.class !== undefined) mapped.push(['Class', String(request.class)])
    if (request.prompt !== undefined) mapped.push(['Prompt', request.prompt])
    if (request.negativePrompt !== undefined) mapped.push(['Negative prompt', request.negativePrompt])
  }
  const canUse = Object.keys(request).length > 0
  const problem = !canUse
    ? 'Nothing in these parameters maps onto DD Studio’s settings.'
    : settings.fromDdStudio
      ? packProblem(request.packId, packs)
      : null
  return (
    <div data-testid="drop-a1111" className="flex flex-col gap-3">
      <p>
        {settings.fromDdStudio
          ? 'AUTOMATIC1111-style parameters written by DD Studio (the image has no exact DD Studio metadata).'
          : 'AUTOMATIC1111-style parameters from another tool. Its prompt was written for another model, so it is shown for reference only.'}
      </p>
      <Problems problems={problems} serious={false} />
      <dl>
        <Row term="Prompt" testId="a1111-prompt">
          {settings.prompt === '' ? (
            <em>empty</em>
          ) : (
            <span className="whitespace-pre-wrap">{settings.prompt}</span>
          )}
        </Row>
        {settings.negativePrompt !== '' && (
          <Row term="Negative prompt">
            <span className="whitespace-pre-wrap">{settings.negativePrompt}</span>
          </Row>
        )}
        {settings.size && (
          <Row term="Size">
            {settings.size.width}×{settings.size.height} (each pack has its own size)
          </Row>
        )}
        <Row term="Used here" testId="a1111-mapped">
          {mapped.length === 0 ? 'nothing' : mapped.map(([key, value]) => `${key} ${value}`).join(' · ')}
        </Row>
        <Row term="Not used here" testId="a1111-not-applicable">
          {settings.notApplicable.length === 0 ? 'none' : settings.notApplicable.join(', ')}
        </Row>
      </dl>
      <ParametersText text={text} id="drop-parameters-title" />
      <UseButton
        problem={problem}
        label={
          settings.fromDdStudio
            ? 'Use these settings'
            : `Use ${mapped.map(([key]) => key).join(' and ') || 'them'}`
        }
        onUse={() => use(request)}
      />
    </div>
  )
}

function UseButton({ problem, label, onUse }: { problem: string | null; label: string; onUse(): void }) {
  return (
    <div className="flex flex-col items-start gap-1">
      <button
        type="button"
        data-testid="drop-use-settings"
        disabled={problem !== null}
        aria-describedby={problem ? 'drop-use-why' : undefined}
        onClick={onUse}
        className={primaryAction}
      >
        {label}
      </button>
      {problem && (
        <p id="drop-use-why" className="text-xs text-zinc-600 dark:text-zinc-400">
          {problem}
        </p>
      )}
    </div>
  )
}
