/**
 * The Generate panel: pack (with its model card and the import dialog), the prompt and class of a class pack or
 * the prompt (and negative prompt, with their history) of a text pack, steps (with this machine's measured
 * speeds), the modes to compare, seed, count and the advanced sampling settings, the Generate and Cancel buttons
 * (Ctrl/Cmd+Enter generates), the running job's progress, and what went wrong. It holds the form's state and checks it (formModel.ts); the parts it composes only show it.
 */
import { useEffect, useState } from 'react'
import type { GenerationMode, PackSummary, SingleMode } from '../../../../common/generation.ts'
import type { HostStatus } from '../../../../common/types.ts'
import type { Generation, SettingsToLoad } from '../../app/useGeneration.ts'
import { useSpeeds } from '../../app/useSpeeds.ts'
import { heading, panel } from '../Panels.tsx'
import { AdvancedSettings } from './AdvancedSettings.tsx'
import { exampleSheetOf } from './ClassExamples.tsx'
import { ClassPicker } from './ClassPicker.tsx'
import { CompareModesPicker } from './CompareModesPicker.tsx'
import { CountField } from './CountField.tsx'
import { fieldAriaFor } from './fieldAria.ts'
import {
  type AdvancedValues,
  advancedDefaults,
  checkForm,
  type FieldName,
  fieldOfServerMessage,
  formPatchOf,
  isTextPack,
  randomSeed,
  stepsPerRun,
  usedFields,
} from './formModel.ts'
import { GenerateButtons } from './GenerateButtons.tsx'
import { ImportPackDialog, type ImportView } from './ImportPackDialog.tsx'
import { JobStatus } from './JobStatus.tsx'
import { ModePicker } from './ModePicker.tsx'
import { hybridPresetsOf, presetOf, singleModesOf, stepUnitsOf, UI_COMPARE_MODES } from './modes.ts'
import { PackField } from './PackField.tsx'
import { PromptField } from './PromptField.tsx'
import { usePromptHistory } from './promptHistory.ts'
import { SeedField } from './SeedField.tsx'
import { SHORTCUT, useGenerateShortcuts } from './shortcut.ts'
import { TextPromptField } from './TextPromptField.tsx'
import { infoBox, noticeBox } from './ui.ts'

interface Props {
  host: HostStatus | null
  generation: Generation
  /** The mode from the settings, used until the user picks one here; undefined while settings load. */
  defaultMode: SingleMode | undefined
}

export function GeneratePanel({ host, generation, defaultMode }: Props) {
  const { packs, packsError, job, jobError, inputError } = generation
  const readyPacks = packs?.filter((p) => p.status === 'ready') ?? []

  // The chosen pack and class while they can be used; else the default (or first ready) pack, its first class.
  const [chosenPack, setChosenPack] = useState<string | null>(null)
  const pack =
    readyPacks.find((p) => p.id === chosenPack) ??
    readyPacks.find((p) => p.isDefault) ??
    readyPacks[0] ??
    null
  const tokens = pack?.tokens ?? 64
  // The import dialog's view while it is open.
  const [importView, setImportView] = useState<ImportView | null>(null)
  const [imported, setImported] = useState<PackSummary | null>(null)

  const [chosenClass, setChosenClass] = useState(0)
  const classIndex = pack?.classes.some((c) => c.index === chosenClass)
    ? chosenClass
    : (pack?.classes[0]?.index ?? 0)

  // A text pack's prompts; kept when another pack is chosen, for coming back to it.
  const [prompt, setPrompt] = useState('')
  const [negativePrompt, setNegativePrompt] = useState('')
  const textInfo = isTextPack(pack) ? (pack?.text ?? null) : null
  const history = usePromptHistory(textInfo ? (pack?.id ?? null) : null)

  const [chosenMode, setMode] = useState<GenerationMode | null>(null)
  const mode = chosenMode ?? defaultMode ?? '1step'
  const [compareModes, setCompareModes] = useState<readonly SingleMode[]>(UI_COMPARE_MODES)
  // Measured again after every finished job, which main learns from.
  const speeds = useSpeeds(pack?.id ?? null, generation.result?.jobId ?? null)
  const [seed, setSeed] = useState(() => String(randomSeed()))
  const [seedLocked, setSeedLocked] = useState(false)
  const [n, setN] = useState('4')

  // Advanced values belong to the pack they were set for; another pack starts from its own defaults.
  const [advanced, setAdvanced] = useState<{ packId: string | null; values: AdvancedValues }>(() => ({
    packId: null,
    values: advancedDefaults(null),
  }))
  const adv = advanced.packId === (pack?.id ?? null) ? advanced.values : advancedDefaults(pack)
  const setAdv = (name: keyof AdvancedValues, value: string) =>
    setAdvanced({ packId: pack?.id ?? null, values: { ...adv, [name]: value } })
  // The published hybrid schedule the Advanced values are, if any; choosing one sets all three.
  const hybridPreset = presetOf(hybridPresetsOf(pack), {
    start: Number.parseInt(adv.hybridStart, 10),
    end: Number.parseInt(adv.hybridEnd, 10),
    splitT: Number.parseInt(adv.hybridSplitT, 10),
  })
  const [advancedOpen, setAdvancedOpen] = useState(false)

  // Settings handed over by the gallery or a dropped PNG are applied once, while rendering (React's way of
  // adjusting state to a new prop), so the form never shows a half-applied mix.
  const [applied, setApplied] = useState<SettingsToLoad | null>(null)
  const [loadNote, setLoadNote] = useState<{ from: string; problems: string[] } | null>(null)
  const toLoad = generation.settingsToLoad
  if (toLoad !== applied) {
    setApplied(toLoad)
    if (toLoad) {
      const target = readyPacks.find((p) => p.id === toLoad.request.packId) ?? pack
      const base = target?.id === pack?.id ? adv : advancedDefaults(target)
      const patch = formPatchOf(toLoad.request, target, base)
      if (patch.packId) setChosenPack(patch.packId)
      if (patch.classIndex !== null) setChosenClass(patch.classIndex)
      if (patch.prompt !== null) setPrompt(patch.prompt)
      if (patch.negativePrompt !== null) setNegativePrompt(patch.negativePrompt)
      if (patch.mode) setMode(patch.mode)
      if (patch.compareModes) setCompareModes(patch.compareModes)
      if (patch.seed !== null) setSeed(patch.seed)
      setAdvanced({ packId: target?.id ?? null, values: patch.advanced })
      if (patch.mode === 'custom') setAdvancedOpen(true)
      setLoadNote({ from: toLoad.from, problems: patch.problems })
    }
  }

  const checked = checkForm({ ...adv, mode, compareModes, classIndex, prompt, negativePrompt, seed, n }, pack)
  const used = usedFields(mode, compareModes, pack)
  const blocking = (Object.keys(checked.errors) as FieldName[]).filter((f) => used.has(f))
  const serverField = inputError ? fieldOfServerMessage(inputError, mode) : null
  const fieldAria = fieldAriaFor(checked.errors, serverField)
  const busy = job !== null
  const canGenerate = checked.request !== null && !busy

  // A server complaint about an advanced field opens the section so the field can be seen.
  useEffect(() => {
    if (
      serverField &&
      !['seed', 'n', 'class', 'prompt', 'negativePrompt', 'compareModes'].includes(serverField)
    )
      setAdvancedOpen(true)
  }, [serverField])

  function submit() {
    if (!checked.request || generation.job) return
    void generation.generate(checked.request)
    if (checked.request.prompt !== undefined) history.remember(checked.request.prompt)
    setLoadNote(null)
    if (!seedLocked) setSeed(String(randomSeed()))
  }
  useGenerateShortcuts({ generate: submit, cancel: () => void generation.cancel() })

  /** Imports the pack and selects it; answers with main's reason when it refuses. */
  async function importPack(path: string): Promise<string | null> {
    const answer = await generation.importPack(path)
    if (!answer.ok) return answer.error.message
    setChosenPack(answer.value.id)
    setImported(answer.value)
    setImportView(null)
    return null
  }

  return (
    <section aria-labelledby="generate-title" className={`${panel} w-80 shrink-0 border-r`}>
      <h2 id="generate-title" className={heading}>
        Generate
      </h2>
      <form
        aria-labelledby="generate-title"
        onSubmit={(e) => e.preventDefault()}
        className="flex min-h-0 flex-1 flex-col"
        noValidate
      >
        <div className="flex min-h-0 flex-1 flex-col gap-4 overflow-y-auto px-4 pb-4 text-sm">
          <PackField
            packs={packs}
            packsError={packsError}
            pack={pack}
            tokens={tokens}
            speeds={speeds}
            onChange={setChosenPack}
            onImport={setImportView}
            imported={imported}
            onDismissImported={() => setImported(null)}
          />
          {pack && textInfo ? (
            <TextPromptField
              pack={pack}
              text={textInfo}
              prompt={prompt}
              onPromptChange={setPrompt}
              negativePrompt={negativePrompt}
              onNegativeChange={setNegativePrompt}
              onGenerate={submit}
              history={history}
              errors={checked.errors}
              serverField={serverField === 'prompt' || serverField === 'negativePrompt' ? serverField : null}
            />
          ) : (
            <>
              <PromptField pack={pack} classIndex={classIndex} onPickClass={setChosenClass} />
              <ClassPicker
                key={pack?.id ?? 'none'}
                classes={pack?.classes ?? []}
                examples={exampleSheetOf(pack)}
                value={classIndex}
                onChange={setChosenClass}
                disabled={!pack}
                error={serverField === 'class' ? 'See the message below.' : undefined}
              />
            </>
          )}
          <ModePicker
            mode={mode}
            onChange={(m) => {
              setMode(m)
              // Custom steps need a step list, which lives in Advanced.
              if (m === 'custom') setAdvancedOpen(true)
            }}
            steps={stepsPerRun(singleModesOf(mode, compareModes), adv, pack)}
            speeds={speeds}
            compareModes={compareModes}
            pack={pack}
            hybridPreset={hybridPreset}
            onHybridPreset={(p) =>
              setAdvanced({
                packId: pack?.id ?? null,
                values: {
                  ...adv,
                  hybridStart: String(p.start),
                  hybridEnd: String(p.end),
                  hybridSplitT: String(p.splitT),
                },
              })
            }
          />
          {mode === 'compare' && (
            <CompareModesPicker
              value={compareModes}
              onChange={(modes) => {
                setCompareModes(modes)
                if (modes.includes('custom')) setAdvancedOpen(true)
              }}
              error={checked.errors.compareModes}
            />
          )}
          <div className="flex gap-3">
            <SeedField
              value={seed}
              onChange={setSeed}
              locked={seedLocked}
              onToggleLock={() => setSeedLocked((v) => !v)}
              error={checked.errors.seed}
              aria={fieldAria('seed')}
            />
            <CountField value={n} onChange={setN} error={checked.errors.n} aria={fieldAria('n')} />
          </div>
          <AdvancedSettings
            open={advancedOpen}
            onOpenChange={setAdvancedOpen}
            used={used}
            values={adv}
            onChange={setAdv}
            onReset={() => setAdvanced({ packId: pack?.id ?? null, values: advancedDefaults(pack) })}
            errors={checked.errors}
            fieldAria={fieldAria}
            steps={stepUnitsOf(pack)}
          />
        </div>

        <div className="flex flex-col gap-2 border-t border-zinc-200 px-4 py-3 text-sm dark:border-zinc-800">
          {loadNote && <LoadedNote note={loadNote} onDismiss={() => setLoadNote(null)} />}
          <JobStatus
            host={host}
            job={job}
            jobError={jobError}
            onDismissJobError={generation.dismissJobError}
            inputError={inputError}
            blockingCount={blocking.length}
            blockedWhy={blocking.length === 1 && blocking[0] === 'prompt' ? checked.errors.prompt : undefined}
          />
          <GenerateButtons
            onGenerate={submit}
            canGenerate={canGenerate}
            describedBy={blocking.length > 0 ? 'generate-blocked' : undefined}
            job={job}
            onCancel={() => void generation.cancel()}
          />
        </div>
      </form>
      {/* Outside the form above: a form must not hold another. */}
      <ImportPackDialog
        open={importView !== null}
        start={importView ?? 'pack'}
        onClose={() => setImportView(null)}
        onImport={importPack}
        onConverted={(p) => {
          setChosenPack(p.id)
          setImported(p)
        }}
      />
    </section>
  )
}

/** Says whose settings the form now holds, and what of them could not be used. */
function LoadedNote({ note, onDismiss }: { note: { from: string; problems: string[] }; onDismiss(): void }) {
  return (
    <div role="status" data-testid="settings-loaded" className={note.problems.length ? noticeBox : infoBox}>
      <p className="flex items-start justify-between gap-2">
        <span>
          Settings of <span className="font-medium">{note.from}</span> loaded. {SHORTCUT} generates.
        </span>
        <button
          type="button"
          onClick={onDismiss}
          aria-label="Dismiss the note"
          className="rounded px-1 text-xs hover:bg-black/10 focus-visible:outline-2 focus-visible:outline-indigo-500"
        >
          ✕
        </button>
      </p>
      {note.problems.length > 0 && (
        <ul className="mt-1 list-disc pl-4 text-xs">
          {note.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  )
}
