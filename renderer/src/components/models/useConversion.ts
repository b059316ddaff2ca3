/**
 * The import dialog's link to main's convert service: the Python check (run when the form opens, and again on
 * request), the conversion this window follows (one started here, or one still running from before: the
 * dialog can be closed and opened again meanwhile), its progress from `convert.onProgress`, and cancel.
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import type { InputOf } from '../../../../common/contract.ts'
import type { ConverterCheck, ConvertJob } from '../../../../common/convert.ts'
import { client } from '../../transport/client.ts'

export type CheckState =
  | { state: 'checking' }
  | { state: 'done'; check: ConverterCheck }
  /** The call itself failed (main unreachable): not a verdict on Python. */
  | { state: 'error'; message: string }

export interface Conversion {
  check: CheckState
  recheck(): void
  /** The conversion shown: started here or found running; null before one. */
  job: ConvertJob | null
  /** Main's refusal of the last start (a file that is not there, a taken id, one already running). */
  refused: string | null
  starting: boolean
  cancelling: boolean
  start(input: InputOf<'convert.start'>): Promise<void>
  cancel(): Promise<void>
  /** Forgets an ended conversion, back to the form. */
  clear(): void
}

const ENDED = new Set(['done', 'failed', 'cancelled'])

export function isRunning(job: ConvertJob | null): boolean {
  return job !== null && !ENDED.has(job.state)
}

export function useConversion(): Conversion {
  const [check, setCheck] = useState<CheckState>({ state: 'checking' })
  const [job, setJobState] = useState<ConvertJob | null>(null)
  const [refused, setRefused] = useState<string | null>(null)
  const [starting, setStarting] = useState(false)
  const [cancelling, setCancelling] = useState(false)
  const jobRef = useRef<ConvertJob | null>(null)
  // Events that arrive before convert.start answers with the job's id.
  const early = useRef<ConvertJob[]>([])
  const checkRun = useRef(0)

  const setJob = useCallback((next: ConvertJob | null) => {
    jobRef.current = next
    setJobState(next)
  }, [])

  const recheck = useCallback(() => {
    const run = ++checkRun.current
    setCheck({ state: 'checking' })
    void client.convert.check({}).then((r) => {
      if (run !== checkRun.current) return
      setCheck(r.ok ? { state: 'done', check: r.value } : { state: 'error', message: r.error.message })
    })
  }, [])

  useEffect(() => {
    let alive = true
    const off = client.convert.onProgress((update) => {
      const current = jobRef.current
      if (current?.jobId === update.jobId) setJob(update)
      else if (!current) early.current = [...early.current.slice(-20), update]
    })
    // A conversion still running from an earlier opening of the dialog is shown again.
    void client.convert.list({}).then((r) => {
      if (!alive || !r.ok || jobRef.current) return
      const running = r.value.find((j) => isRunning(j))
      if (running) setJob(running)
    })
    recheck()
    return () => {
      alive = false
      checkRun.current++
      off()
    }
  }, [recheck, setJob])

  const start = useCallback(
    async (input: InputOf<'convert.start'>) => {
      setRefused(null)
      setStarting(true)
      early.current = []
      try {
        const r = await client.convert.start(input)
        if (!r.ok) {
          setRefused(r.error.message)
          return
        }
        // The newest word on this job may have come before the answer.
        const latest = early.current.filter((e) => e.jobId === r.value.jobId).at(-1)
        setJob(latest ?? r.value)
      } finally {
        setStarting(false)
      }
    },
    [setJob],
  )

  const cancel = useCallback(async () => {
    const current = jobRef.current
    if (!current || !isRunning(current)) return
    setCancelling(true)
    try {
      const r = await client.convert.cancel({ jobId: current.jobId })
      if (r.ok) setJob(r.value)
    } finally {
      setCancelling(false)
    }
  }, [setJob])

  const clear = useCallback(() => setJob(null), [setJob])

  return { check, recheck, job, refused, starting, cancelling, start, cancel, clear }
}
