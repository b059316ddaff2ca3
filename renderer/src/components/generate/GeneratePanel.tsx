/**
 * The Generate panel: pack, class, mode, seed, count and the advanced sampling settings, the Generate and
 * Cancel buttons (Ctrl/Cmd+Enter generates), the running job's progress, and what went wrong.
 */
import { type ReactNode, useEffect, useRef, useState } from 'react'
import { DEFAULT_COMPARE_MODES, type GenerationMode, type SingleMode } from '../../../../common/generation.ts'
import type { HostStatus } from '../../../../common/types.ts'
import type { ActiveJob, Generation } from '../../app/useGeneration.ts'
import { heading, panel } from '../Panels.tsx'
import { ClassPicker } from './ClassPicker.tsx'
import {
  type AdvancedValues,
  advancedDefaults,
  checkForm,
  type FieldName,
  fieldOfServerMessage,
  MAX_UI_IMAGES,
  parseTList,
  randomSeed,
  usedFields,
} from './formModel.ts'
import { DiceIcon, LockIcon } from './icons.tsx'
import { MODES, modeLabel, stepsFor } from './modes.ts'
import { alertBox, control, fieldError, fieldLabel, formatEta, hint, iconButton, noticeBox } from './ui.ts'

/** What ties an input to its label, its error and its hint. */
interface FieldAria {
  id: string
  'aria-invalid': boolean | undefined
  'aria-describedby': string | undefined
}

interface Props {
  host: HostStatus | null
  generation: Generation
}

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform)
const SHORTCUT = isMac ? '⌘↵' : 'Ctrl+Enter'

export function GeneratePanel({ host, generation }: Props) {
  const { packs, packsError, job, jobError, inputError } = generation
  const readyPacks = packs?.filter((p) => p.status === 'ready') ?? []
  const brokenPacks = packs?.filter((p) => p.status === 'broken') ?? []

  const [chosenPack, setChosenPack] = useState<string | null>(null)
  const pack =
    readyPacks.find((p) => p.id === chosenPack) ??
    readyPacks.find((p) => p.isDefault) ??
    readyPacks[0] ??
    null
  const tokens = pack?.tokens ?? 64

  const [chosenClass, setChosenClass] = useState(0)
  const classIndex = pack?.classes.some((c) => c.index === chosenClass)
    ? chosenClass
    : (pack?.classes[0]?.index ?? 0)

  const [mode, setMode] = useState<GenerationMode>('1step')
  const [seed, setSeed] = useState(() => String(randomSeed()))
  const [seedLocked, setSeedLocked] = useState(false)
  const [n, setN] = useState('4')

  // Advanced values belong to the pack they were set for; another pack starts from its own defaults.
  const [advanced, setAdvanced] = useState<{ packId: string | null; values: AdvancedValues }>(() => ({
    packId: null,
    values: advancedDefaults(null),
  }))
  const adv = advanced.packId === (pack?.id ?? null) ? advanced.values : advancedDefaults(pack)
  const setAdv = (patch: Partial<AdvancedValues>) =>
    setAdvanced({ packId: pack?.id ?? null, values: { ...adv, ...patch } })
  const [advancedOpen, setAdvancedOpen] = useState(false)

  const checked = checkForm({ ...adv, mode, classIndex, seed, n }, pack)
  const used = usedFields(mode)
  const blocking = (Object.keys(checked.errors) as FieldName[]).filter((f) => used.has(f))
  const serverField = inputError ? fieldOfServerMessage(inputError) : null
  const busy = job !== null
  const canGenerate = checked.request !== null && !busy

  // A server complaint about an advanced field opens the section so the field can be seen.
  useEffect(() => {
    if (serverField && !['seed', 'n', 'class'].includes(serverField)) setAdvancedOpen(true)
  }, [serverField])

  function submit() {
    if (!checked.request || generation.job) return
    void generation.generate(checked.request)
    if (!seedLocked) setSeed(String(randomSeed()))
  }

  // Ctrl/Cmd+Enter generates from anywhere in the window.
  const submitRef = useRef(submit)
  submitRef.current = submit
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.altKey && !e.repeat) {
        e.preventDefault()
        submitRef.current()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])

  const fieldProps = (name: FieldName): FieldAria => {
    const error = checked.errors[name]
    const fromServer = serverField === name
    const describedBy = [
      error ? `${name}-error` : null,
      fromServer ? 'server-input-error' : null,
      name === 'seed' || name === 'n' || name === 'tList' ? `${name}-hint` : null,
    ]
      .filter(Boolean)
      .join(' ')
    return {
      id: `field-${name}`,
      'aria-invalid': error || fromServer ? true : undefined,
      'aria-describedby': describedBy || undefined,
    }
  }

  const steps = (m: GenerationMode): number => {
    const settings = {
      tList: parseTList(adv.tList) ?? [0],
      hybrid: { start: Number(adv.hybridStart) || 0, end: Number(adv.hybridEnd) || 0 },
    }
    if (m === 'compare')
      return DEFAULT_COMPARE_MODES.reduce((sum, s) => sum + stepsFor(s, tokens, settings, pack), 0)
    return stepsFor(m as SingleMode, tokens, settings, pack)
  }
  const selected = MODES.find((m) => m.mode === mode)

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
          {/* Pack */}
          <div className="flex flex-col gap-1">
            <label htmlFor="pack-select" className={fieldLabel}>
              Model pack
            </label>
            <select
              id="pack-select"
              data-testid="pack-select"
              value={pack?.id ?? ''}
              disabled={readyPacks.length === 0}
              onChange={(e) => setChosenPack(e.target.value)}
              aria-describedby={brokenPacks.length ? 'pack-hint broken-packs' : 'pack-hint'}
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
            <p id="pack-hint" className={hint}>
              {pack
                ? `${pack.image ? `${pack.image.width}×${pack.image.height} images` : 'Images'}, ${tokens} tokens, ${pack.classes.length} classes`
                : (packsError ??
                  (packs === null ? 'Looking for model packs…' : 'No model pack can be used.'))}
            </p>
            {brokenPacks.length > 0 && (
              <ul
                id="broken-packs"
                className="flex flex-col gap-1 text-xs text-amber-700 dark:text-amber-300"
              >
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

          <ClassPicker
            key={pack?.id ?? 'none'}
            classes={pack?.classes ?? []}
            value={classIndex}
            onChange={setChosenClass}
            disabled={!pack}
            error={serverField === 'class' ? 'See the message below.' : undefined}
          />

          {/* Mode */}
          <fieldset className="flex flex-col gap-1">
            <legend className={`${fieldLabel} mb-1`}>Mode</legend>
            <div className="grid grid-cols-2 gap-1.5">
              {MODES.map((m) => (
                <label
                  key={m.mode}
                  htmlFor={`mode-${m.mode}`}
                  title={m.tradeOff}
                  className={`flex cursor-pointer items-start gap-2 rounded-lg border px-2 py-1.5 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500/50 ${
                    mode === m.mode
                      ? 'border-indigo-500 bg-indigo-50 dark:border-indigo-400 dark:bg-indigo-950/50'
                      : 'border-zinc-200 hover:bg-zinc-50 dark:border-zinc-800 dark:hover:bg-zinc-800/60'
                  } ${m.mode === 'compare' ? 'col-span-2' : ''}`}
                >
                  <input
                    type="radio"
                    name="mode"
                    id={`mode-${m.mode}`}
                    data-testid={`mode-${m.mode}`}
                    value={m.mode}
                    checked={mode === m.mode}
                    onChange={() => {
                      setMode(m.mode)
                      if (m.mode === 'custom') setAdvancedOpen(true)
                    }}
                    aria-describedby={`mode-${m.mode}-tradeoff`}
                    className="mt-0.5 accent-indigo-600"
                  />
                  <span className="min-w-0">
                    <span className="block font-medium leading-tight">{m.label}</span>
                    <span
                      id={`mode-${m.mode}-tradeoff`}
                      className="block text-[11px] leading-tight text-zinc-500 dark:text-zinc-400"
                    >
                      {m.short}
                      <span className="sr-only">. {m.tradeOff}</span>
                    </span>
                  </span>
                </label>
              ))}
            </div>
            {selected && (
              <p className={hint} aria-hidden="true">
                {selected.tradeOff} {steps(mode)} model {steps(mode) === 1 ? 'step' : 'steps'} per run.
              </p>
            )}
          </fieldset>

          {/* Seed and count */}
          <div className="flex gap-3">
            <div className="flex min-w-0 flex-1 flex-col gap-1">
              <label htmlFor="field-seed" className={fieldLabel}>
                Seed
              </label>
              <div className="flex gap-1">
                <input
                  {...fieldProps('seed')}
                  data-testid="seed-input"
                  type="number"
                  inputMode="numeric"
                  min={0}
                  step={1}
                  value={seed}
                  onChange={(e) => setSeed(e.target.value)}
                  className={`${control} min-w-0 font-mono`}
                />
                <button
                  type="button"
                  data-testid="seed-random"
                  onClick={() => setSeed(String(randomSeed()))}
                  aria-label="Random seed"
                  title="Random seed"
                  className={iconButton}
                >
                  <DiceIcon />
                </button>
                <button
                  type="button"
                  data-testid="seed-lock"
                  onClick={() => setSeedLocked((v) => !v)}
                  aria-pressed={seedLocked}
                  aria-label="Keep this seed"
                  title={seedLocked ? 'Seed kept for every run' : 'Keep this seed for every run'}
                  className={iconButton}
                >
                  <LockIcon locked={seedLocked} />
                </button>
              </div>
              {checked.errors.seed && (
                <p id="seed-error" className={fieldError}>
                  {checked.errors.seed}
                </p>
              )}
              <p id="seed-hint" className={hint}>
                {seedLocked ? 'Kept for every run.' : 'A new seed after each run.'}
              </p>
            </div>
            <div className="flex w-20 flex-col gap-1">
              <label htmlFor="field-n" className={fieldLabel}>
                Images
              </label>
              <input
                {...fieldProps('n')}
                data-testid="count-input"
                type="number"
                inputMode="numeric"
                min={1}
                max={MAX_UI_IMAGES}
                step={1}
                value={n}
                onChange={(e) => setN(e.target.value)}
                className={control}
              />
              {checked.errors.n && (
                <p id="n-error" className={fieldError}>
                  {checked.errors.n}
                </p>
              )}
              <p id="n-hint" className={hint}>
                1 to {MAX_UI_IMAGES}
              </p>
            </div>
          </div>

          <details
            open={advancedOpen}
            onToggle={(e) => setAdvancedOpen(e.currentTarget.open)}
            className="rounded-lg border border-zinc-200 dark:border-zinc-800"
          >
            <summary className="cursor-pointer rounded-lg px-3 py-2 text-xs font-medium text-zinc-700 hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-300 dark:hover:bg-zinc-800/60">
              Advanced
            </summary>
            <div className="flex flex-col gap-4 px-3 pt-1 pb-3">
              <AdvancedGroup title="Custom steps" active={mode === 'custom'}>
                <NumberField
                  name="tList"
                  label="Steps (t_list)"
                  value={adv.tList}
                  onChange={(v) => setAdv({ tList: v })}
                  help={`Token positions where the distilled model runs, from 0, below ${tokens}.`}
                  error={checked.errors.tList}
                  fieldProps={fieldProps}
                  text
                />
              </AdvancedGroup>
              <AdvancedGroup title="Hybrid" active={mode === 'hybrid' || mode === 'compare'}>
                <div className="grid grid-cols-2 gap-2">
                  <NumberField
                    name="hybridStart"
                    label="Original from token"
                    value={adv.hybridStart}
                    onChange={(v) => setAdv({ hybridStart: v })}
                    error={checked.errors.hybridStart}
                    fieldProps={fieldProps}
                    min={0}
                    max={tokens - 1}
                  />
                  <NumberField
                    name="hybridEnd"
                    label="to token"
                    value={adv.hybridEnd}
                    onChange={(v) => setAdv({ hybridEnd: v })}
                    error={checked.errors.hybridEnd}
                    fieldProps={fieldProps}
                    min={1}
                    max={tokens - 1}
                  />
                </div>
              </AdvancedGroup>
              <AdvancedGroup
                title="Original model sampling"
                active={mode === 'hybrid' || mode === 'ar' || mode === 'exact' || mode === 'compare'}
              >
                <div className="grid grid-cols-2 gap-2">
                  <NumberField
                    name="temperature"
                    label="Temperature"
                    value={adv.temperature}
                    onChange={(v) => setAdv({ temperature: v })}
                    error={checked.errors.temperature}
                    fieldProps={fieldProps}
                    min={0}
                    max={10}
                    step={0.05}
                  />
                  <NumberField
                    name="topK"
                    label="Top-k"
                    value={adv.topK}
                    onChange={(v) => setAdv({ topK: v })}
                    error={checked.errors.topK}
                    fieldProps={fieldProps}
                    min={1}
                  />
                  <NumberField
                    name="topP"
                    label="Top-p"
                    value={adv.topP}
                    onChange={(v) => setAdv({ topP: v })}
                    error={checked.errors.topP}
                    fieldProps={fieldProps}
                    min={0}
                    max={1}
                    step={0.05}
                  />
                  <NumberField
                    name="cfgScale"
                    label="CFG scale"
                    value={adv.cfgScale}
                    onChange={(v) => setAdv({ cfgScale: v })}
                    error={checked.errors.cfgScale}
                    fieldProps={fieldProps}
                    min={0}
                    max={50}
                    step={0.5}
                  />
                </div>
              </AdvancedGroup>
              <button
                type="button"
                onClick={() => setAdvanced({ packId: pack?.id ?? null, values: advancedDefaults(pack) })}
                className="self-start rounded-md px-2 py-1 text-xs text-indigo-700 hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300 dark:hover:bg-indigo-950"
              >
                Reset to the pack’s defaults
              </button>
            </div>
          </details>
        </div>

        <div className="flex flex-col gap-2 border-t border-zinc-200 px-4 py-3 text-sm dark:border-zinc-800">
          {inputError && (
            <div id="server-input-error" role="alert" data-testid="input-error" className={alertBox}>
              <span className="font-medium">These settings were refused:</span> {inputError}
            </div>
          )}
          {jobError && <JobErrorNotice error={jobError} onDismiss={generation.dismissJobError} />}
          {host?.state === 'failed' && (
            <p role="alert" className="text-red-600 dark:text-red-400">
              The inference host stopped: {host.message}
            </p>
          )}
          {job && <JobProgressView job={job} />}
          {!job && blocking.length > 0 && (
            <p id="generate-blocked" className="text-xs text-red-600 dark:text-red-400">
              Fix {blocking.length === 1 ? 'one field' : `${blocking.length} fields`} to generate.
            </p>
          )}
          <div className="flex gap-2">
            <button
              type="button"
              data-testid="generate-button"
              onClick={submit}
              disabled={!canGenerate}
              aria-describedby={blocking.length > 0 ? 'generate-blocked' : undefined}
              aria-keyshortcuts="Control+Enter Meta+Enter"
              title={`Generate (${SHORTCUT})`}
              className="flex-1 rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 disabled:cursor-not-allowed disabled:opacity-40 disabled:hover:bg-indigo-600"
            >
              Generate <span className="ml-1 text-xs font-normal opacity-70">{SHORTCUT}</span>
            </button>
            {job && (
              <button
                type="button"
                data-testid="cancel-button"
                onClick={() => void generation.cancel()}
                disabled={job.state === 'cancelling'}
                className="rounded-lg border border-zinc-300 px-3 py-2 font-medium hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 disabled:opacity-50 dark:border-zinc-700 dark:hover:bg-zinc-800"
              >
                Cancel
              </button>
            )}
          </div>
        </div>
      </form>
    </section>
  )
}

function JobErrorNotice({
  error,
  onDismiss,
}: {
  error: NonNullable<Generation['jobError']>
  onDismiss(): void
}) {
  const text =
    error.code === 'cancelled'
      ? 'Cancelled. No images were made.'
      : error.code === 'host_crashed'
        ? `The inference host crashed during this job (${error.message}). It restarts by itself; generate again when it is ready.`
        : error.code === 'unavailable'
          ? `The inference host is not available: ${error.message}`
          : `Generation failed: ${error.message}`
  return (
    <div
      role="alert"
      data-testid="job-error"
      data-code={error.code}
      className={`flex items-start gap-2 ${error.code === 'cancelled' ? noticeBox : alertBox}`}
    >
      <span className="flex-1">{text}</span>
      <button
        type="button"
        onClick={onDismiss}
        aria-label="Dismiss message"
        title="Dismiss"
        className="rounded px-1 leading-none hover:bg-black/5 dark:hover:bg-white/10"
      >
        <span aria-hidden="true">×</span>
      </button>
    </div>
  )
}

function AdvancedGroup({ title, active, children }: { title: string; active: boolean; children: ReactNode }) {
  return (
    <fieldset className={active ? '' : 'opacity-60'}>
      <legend className="mb-1 text-[11px] font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400">
        {title}
        {!active && (
          <span className="ml-1 font-normal normal-case tracking-normal">(not used by this mode)</span>
        )}
      </legend>
      {children}
    </fieldset>
  )
}

interface NumberFieldProps {
  name: FieldName
  label: string
  value: string
  onChange(value: string): void
  error: string | undefined
  help?: string
  fieldProps(name: FieldName): FieldAria
  min?: number
  max?: number
  step?: number
  /** A free text field (lists) instead of a number field. */
  text?: boolean
}

function NumberField({
  name,
  label,
  value,
  onChange,
  error,
  help,
  fieldProps,
  min,
  max,
  step,
  text,
}: NumberFieldProps) {
  const props = fieldProps(name)
  return (
    <div className="flex min-w-0 flex-col gap-1">
      <label htmlFor={props.id} className={fieldLabel}>
        {label}
      </label>
      <input
        {...props}
        data-testid={`field-${name}`}
        type={text ? 'text' : 'number'}
        inputMode={text ? 'numeric' : 'decimal'}
        min={min}
        max={max}
        step={step ?? 1}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className={`${control} font-mono`}
        spellCheck={false}
      />
      {error && (
        <p id={`${name}-error`} className={fieldError}>
          {error}
        </p>
      )}
      {help && (
        <p id={`${name}-hint`} className={hint}>
          {help}
        </p>
      )}
    </div>
  )
}

function JobProgressView({ job }: { job: ActiveJob }) {
  const p = job.progress
  const fraction = p && p.total > 0 ? Math.min(1, p.step / p.total) : 0
  const text =
    job.state === 'cancelling'
      ? 'Cancelling…'
      : job.state === 'submitting'
        ? 'Starting…'
        : job.state === 'queued' && !p
          ? `Waiting in the queue${job.position ? ` (number ${job.position})` : ''}…`
          : p
            ? `Step ${p.step} of ${p.total} · ${formatEta(p.etaMs)}`
            : `Generating ${job.n} ${job.n === 1 ? 'image' : 'images'} (${modeLabel(job.mode)})…`
  return (
    <div className="flex flex-col gap-1">
      <div
        data-testid="progress"
        role="progressbar"
        aria-label="Generation progress"
        aria-valuemin={0}
        aria-valuemax={p?.total ?? 100}
        aria-valuenow={p ? p.step : undefined}
        aria-valuetext={text}
        data-step={p?.step ?? 0}
        data-total={p?.total ?? 0}
        className="h-2 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
      >
        <div
          className={`h-full rounded-full bg-indigo-500 transition-[width] duration-150 ${p ? '' : 'w-1/3 animate-pulse'}`}
          style={p ? { width: `${(fraction * 100).toFixed(1)}%` } : undefined}
        />
      </div>
      <p className="text-xs text-zinc-600 dark:text-zinc-400" aria-live="polite">
        {text}
      </p>
    </div>
  )
}
