/**
 * The Generate panel's link to the job queue: the packs, the job this window started (with its progress from
 * `jobs.onProgress`), its result, and what went wrong. One job at a time from this window; the queue in main
 * stays the source of truth for its state.
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import type { InputOf } from '../../../common/contract.ts'
import type {
  GeneratedImage,
  GenerateRequest,
  GenerationMode,
  GenerationResult,
  PackSummary,
  SingleMode,
} from '../../../common/generation.ts'
import type { AppErrorShape, Result } from '../../../common/result.ts'
import type { JobProgress } from '../../../common/types.ts'
import { client } from '../transport/client.ts'

export type GenerateInput = InputOf<'jobs.submit'>

export interface ActiveJob {
  /** Null until jobs.submit answers. */
  jobId: string | null
  mode: GenerationMode
  n: number
  state: 'submitting' | 'queued' | 'running' | 'cancelling'
  /** Place in the queue while queued (1 = next). */
  position: number | null
  progress: JobProgress | null
}

/** The 1-step draft a result was promoted from, shown next to it. */
export interface Draft {
  image: GeneratedImage
  /** What it shows: its class name, or its prompt (subjectOf). */
  subject: string
}

/**
 * What a job's images show, in words: the class name of a class pack's job, the prompt of a text pack's (an
 * empty prompt is an unconditional image).
 */
export function subjectOf(result: Pick<GenerationResult, 'prompt' | 'className' | 'classIndex'>): string {
  if (result.prompt)
    return result.prompt.text.trim() === '' ? 'No prompt (unconditional)' : result.prompt.text
  return result.className ?? `Class ${result.classIndex ?? '?'}`
}

/** Settings to put into the Generate form (from an image in the gallery, or a dropped PNG). */
export interface SettingsToLoad {
  /** What to set; what it leaves out stays as it is in the form. */
  request: Partial<GenerateRequest>
  /** Where they come from, for the note the form shows: "noto / Animals, seed 42". */
  from: string
}

export interface Generation {
  packs: PackSummary[] | null
  packsError: string | null
  job: ActiveJob | null
  result: GenerationResult | null
  /** Set when `result` re-ran a draft in a higher-quality mode (promote). */
  draft: Draft | null
  /** Why the last job produced no images: cancelled, the host crashed, an internal error. */
  jobError: AppErrorShape | null
  /** The server refused the request itself (invalid_input); shown next to the form. */
  inputError: string | null
  generate(request: GenerateInput, draft?: Draft): Promise<void>
  /**
   * Re-runs one image of `result` (a draft) in `mode`: same pack, class or prompt, and seed, so the same noise.
   * The mode's other settings are the pack's defaults.
   */
  promote(result: GenerationResult, image: GeneratedImage, mode: SingleMode): Promise<void>
  cancel(): Promise<void>
  dismissJobError(): void
  /** Imports a pack folder or .zip (an absolute path) into the models folder; `packs` lists it on success. */
  importPack(path: string): Promise<Result<PackSummary>>
  /** The last settings handed to the form; a new object each time, so loading the same twice applies twice. */
  settingsToLoad: SettingsToLoad | null
  loadSettings(request: Partial<GenerateRequest>, from: string): void
}

export function useGeneration(): Generation {
  const [packs, setPacks] = useState<PackSummary[] | null>(null)
  const [packsError, setPacksError] = useState<string | null>(null)
  const [job, setJobState] = useState<ActiveJob | null>(null)
  const [result, setResult] = useState<GenerationResult | null>(null)
  const [draft, setDraft] = useState<Draft | null>(null)
  const [jobError, setJobError] = useState<AppErrorShape | null>(null)
  const [inputError, setInputError] = useState<string | null>(null)
  const [settingsToLoad, setSettingsToLoad] = useState<SettingsToLoad | null>(null)

  // The current job, readable from event listeners without re-subscribing.
  const jobRef = useRef<ActiveJob | null>(null)
  const cancelRequested = useRef(false)
  // Progress can arrive before jobs.submit answers with the job's id.
  const earlyProgress = useRef(new Map<string, JobProgress>())

  const setJob = useCallback((update: ActiveJob | null | ((j: ActiveJob) => ActiveJob)) => {
    const next = typeof update === 'function' ? (jobRef.current ? update(jobRef.current) : null) : update
    jobRef.current = next
    setJobState(next)
  }, [])

  useEffect(() => {
    let alive = true
    void client.packs.list({}).then((r) => {
      if (!alive) return
      if (r.ok) {
        setPacks(r.value)
        setPacksError(null)
      } else {
        setPacksError(r.error.message)
      }
    })
    const offPacks = client.packs.onChange((list) => setPacks(list))
    const offProgress = client.jobs.onProgress((progress) => {
      const current = jobRef.current
      if (current?.jobId === progress.jobId) {
        setJob((j) => ({ ...j, progress, state: j.state === 'cancelling' ? j.state : 'running' }))
      } else if (current && current.jobId === null) {
        const early = earlyProgress.current
        early.set(progress.jobId, progress)
        if (early.size > 8) early.delete(early.keys().next().value as string)
      }
    })
    const offChange = client.jobs.onChange((jobs) => {
      const current = jobRef.current
      if (!current?.jobId) return
      const summary = jobs.find((j) => j.jobId === current.jobId)
      if (!summary || (summary.state !== 'queued' && summary.state !== 'running')) return
      setJob((j) => ({
        ...j,
        position: summary.position,
        state: j.state === 'cancelling' ? j.state : summary.state === 'queued' ? 'queued' : 'running',
      }))
    })
    return () => {
      alive = false
      offPacks()
      offProgress()
      offChange()
    }
  }, [setJob])

  const generate = useCallback(
    async (request: GenerateInput, origin?: Draft) => {
      if (jobRef.current) return
      cancelRequested.current = false
      earlyProgress.current.clear()
      setInputError(null)
      setJobError(null)
      setJob({
        jobId: null,
        mode: request.mode,
        n: request.n ?? 1,
        state: 'submitting',
        position: null,
        progress: null,
      })
      const submitted = await client.jobs.submit(request)
      if (!submitted.ok) {
        setJob(null)
        if (submitted.error.code === 'invalid_input') setInputError(submitted.error.message)
        else setJobError(submitted.error)
        return
      }
      const { jobId } = submitted.value
      const early = earlyProgress.current.get(jobId) ?? null
      earlyProgress.current.clear()
      setJob((j) => ({
        ...j,
        jobId,
        position: submitted.value.position,
        state:
          j.state === 'cancelling'
            ? j.state
            : early || submitted.value.state === 'running'
              ? 'running'
              : 'queued',
        progress: early,
      }))
      if (cancelRequested.current) void client.jobs.cancel({ jobId })

      const finished = await client.jobs.wait({ jobId })
      setJob(null)
      if (finished.ok) {
        setResult(finished.value)
        setDraft(origin ?? null)
        setJobError(null)
      } else {
        setJobError(finished.error)
      }
    },
    [setJob],
  )

  const cancel = useCallback(async () => {
    const current = jobRef.current
    if (!current || current.state === 'cancelling') return
    cancelRequested.current = true
    setJob((j) => ({ ...j, state: 'cancelling' }))
    if (!current.jobId) return // cancelled as soon as jobs.submit answers
    const answer = await client.jobs.cancel({ jobId: current.jobId })
    if (!answer.ok && jobRef.current?.jobId === current.jobId) {
      // The job may have finished meanwhile; jobs.wait reports how it ended either way.
      setJob((j) => ({ ...j, state: 'running' }))
      setJobError(answer.error)
    }
  }, [setJob])

  const promote = useCallback(
    (from: GenerationResult, image: GeneratedImage, mode: SingleMode) => {
      const request: GenerateInput = { packId: from.packId, mode, seed: image.seed, n: 1 }
      if (from.prompt) {
        request.prompt = from.prompt.text
        if (from.prompt.negative) request.negativePrompt = from.prompt.negative
      } else if (from.classIndex !== null) {
        request.class = from.classIndex
      }
      return generate(request, { image, subject: subjectOf(from) })
    },
    [generate],
  )

  const dismissJobError = useCallback(() => setJobError(null), [])
  const importPack = useCallback(async (path: string) => {
    const imported = await client.packs.import({ path })
    if (imported.ok) {
      // packs.onChange announces the new pack too, but only once the folder watcher notices it: list the packs
      // now, so the caller can select the new one straight away.
      const listed = await client.packs.list({})
      if (listed.ok) {
        setPacks(listed.value)
        setPacksError(null)
      }
    }
    return imported
  }, [])
  const loadSettings = useCallback((request: Partial<GenerateRequest>, from: string) => {
    setInputError(null)
    setSettingsToLoad({ request, from })
  }, [])

  return {
    packs,
    packsError,
    job,
    result,
    draft,
    jobError,
    inputError,
    generate,
    promote,
    cancel,
    dismissJobError,
    importPack,
    settingsToLoad,
    loadSettings,
  }
}
