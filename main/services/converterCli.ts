/**
 * The command line of the Python converter (models/convert), as main runs it: which interpreter, the argument
 * list of a conversion, the JSON lines it prints with `--progress json`, the object `check` prints, and what
 * to tell the user when Python, torch or onnx is missing. Python runs without a shell, with its arguments as an
 * array, PYTHONPATH set to the app's models folder and the app's root folder as its working folder (as
 * scripts/run-python.ts does for the npm scripts).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { z } from 'zod'
import { type CheckpointFamily, type ConverterCheck, FAMILIES } from '../../common/convert.ts'

export interface PythonChoice {
  interpreter: string
  from: ConverterCheck['interpreterFrom']
}

/** $DDSTUDIO_PYTHON, else the system's /usr/bin/python3 when there is one (it has the distribution's torch), else python3. */
export function choosePython(
  env: NodeJS.ProcessEnv = process.env,
  exists: (file: string) => boolean = fs.existsSync,
  platform: NodeJS.Platform = process.platform,
): PythonChoice {
  const fromEnv = env.DDSTUDIO_PYTHON?.trim()
  if (fromEnv) return { interpreter: fromEnv, from: 'DDSTUDIO_PYTHON' }
  if (platform !== 'win32' && exists('/usr/bin/python3'))
    return { interpreter: '/usr/bin/python3', from: 'system' }
  return { interpreter: 'python3', from: 'PATH' }
}

/** What a conversion needs, already checked (the contract's schema, then the files on disk). */
export interface ConvertRequest {
  family: CheckpointFamily
  /** The converter's size or depth value ('B', '16'; its test files have their own). */
  size: string
  student: string
  teacher: string
  tokenizer: string
  id?: string | undefined
  fp16?: boolean | undefined
}

/** The arguments after the interpreter: `-m convert llamagen --size B --student … --out … --progress json`. */
export function converterArgs(request: ConvertRequest, out: string): string[] {
  const family = FAMILIES[request.family]
  return [
    '-m',
    'convert',
    family.command,
    family.sizeFlag,
    request.size,
    '--student',
    request.student,
    '--teacher',
    request.teacher,
    family.tokenizerFlag,
    request.tokenizer,
    '--out',
    out,
    ...(request.id !== undefined ? ['--id', request.id] : []),
    ...(request.fp16 ? ['--fp16'] : []),
    '--progress',
    'json',
  ]
}

const ProgressLine = z.object({
  event: z.literal('progress'),
  stage: z.string().max(200),
  done: z.number().int().min(0),
  total: z.number().int().min(0),
})
const DoneLine = z.object({ event: z.literal('done'), pack: z.string().min(1), id: z.string().min(1) })
const ErrorLine = z.object({ event: z.literal('error'), message: z.string() })
const ConverterLine = z.discriminatedUnion('event', [ProgressLine, DoneLine, ErrorLine])

export type ConverterEvent = z.infer<typeof ConverterLine>

/**
 * One line of the converter's stdout. Anything that is not one of its three events (a stray print from a
 * library) comes back as 'other', to be logged rather than trusted.
 */
export function parseConverterLine(line: string): ConverterEvent | { event: 'other'; line: string } {
  const text = line.trim()
  if (!text.startsWith('{')) return { event: 'other', line: text }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { event: 'other', line: text }
  }
  const parsed = ConverterLine.safeParse(raw)
  return parsed.success ? parsed.data : { event: 'other', line: text }
}

/** A version as the check reports it: a string, or an object with a version; null when absent. */
const versionOf = (value: unknown): string | null => {
  if (typeof value === 'string' && value !== '') return value
  if (value && typeof value === 'object' && 'version' in value) return versionOf(value.version)
  return null
}

// A version that is absent or null means "not there".
const CheckOutput = z.object({
  python: z.unknown().optional(),
  torch: z.unknown().optional(),
  onnx: z.unknown().optional(),
  ok: z.boolean(),
  problems: z.array(z.string()),
})

export interface CheckReport {
  ok: boolean
  python: string | null
  torch: string | null
  onnx: string | null
  problems: string[]
}

/** The object `python -m convert check` printed, or why its output is not one. */
export function parseCheckOutput(stdout: string): CheckReport | { error: string } {
  const text = stdout.trim()
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return {
      error: `it printed ${text === '' ? 'nothing' : `something that is not JSON: ${clip(text, 300)}`}`,
    }
  }
  const parsed = CheckOutput.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { error: `its answer lacks ${issue?.path.join('.') || 'the expected fields'}: ${clip(text, 300)}` }
  }
  const { ok, problems } = parsed.data
  return {
    ok,
    problems,
    python: versionOf(parsed.data.python),
    torch: versionOf(parsed.data.torch),
    onnx: versionOf(parsed.data.onnx),
  }
}

/** What the user can do, one step a line, for what the check found (or for a Python that did not run). */
export function checkInstructions(
  python: PythonChoice,
  found: { ran: boolean; torch: string | null; onnx: string | null; converter: boolean },
): string[] {
  const run = /\s/.test(python.interpreter) ? `"${python.interpreter}"` : python.interpreter
  const steps: string[] = []
  const chosen =
    python.from === 'DDSTUDIO_PYTHON'
      ? `DD Studio ran ${python.interpreter}, named by the DDSTUDIO_PYTHON environment variable.`
      : python.from === 'system'
        ? `DD Studio ran the system's ${python.interpreter} (DDSTUDIO_PYTHON is not set).`
        : `DD Studio ran ${python.interpreter} from the PATH (DDSTUDIO_PYTHON is not set, and there is no /usr/bin/python3).`
  steps.push(chosen)
  if (!found.ran) {
    steps.push(
      'Install Python 3.10 or newer (python.org, or your system’s package manager), or set DDSTUDIO_PYTHON to the full path of a Python that has torch and onnx; then restart DD Studio.',
    )
    return steps
  }
  if (!found.converter) {
    steps.push(
      'That Python could not run the converter (models/convert of DD Studio): check that the app’s models folder is complete, or set DDSTUDIO_PYTHON to another Python.',
    )
    return steps
  }
  if (found.torch === null)
    steps.push(
      `Install PyTorch into that Python: ${run} -m pip install torch (the CPU build is enough to convert; https://pytorch.org/get-started/locally/ lists the others).`,
    )
  if (found.onnx === null) steps.push(`Install onnx into that Python: ${run} -m pip install onnx`)
  steps.push(
    'Or set DDSTUDIO_PYTHON to the full path of a Python that has them (a virtual environment’s python, for example), then restart DD Studio and check again.',
  )
  return steps
}

/** The last `max` characters of a stream, for error messages. */
export class Tail {
  private text = ''
  constructor(private readonly max = 4000) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.max)
  }
  value(): string {
    return this.text.trim()
  }
}

export interface PythonRun {
  child: ChildProcess
  /** Resolves when the process has exited (or could not start: `spawnError`). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError: Error | null }>
  stderr: Tail
}

/**
 * Starts `interpreter args…` with the converter's environment; `onLine` gets each stdout line. No shell is
 * involved, so nothing in a path is ever interpreted.
 */
export function runPython(
  python: PythonChoice,
  args: string[],
  options: { cwd: string; pythonPath: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void },
): PythonRun {
  const base = options.env ?? process.env
  const env: NodeJS.ProcessEnv = {
    ...base,
    PYTHONPATH: [options.pythonPath, base.PYTHONPATH].filter(Boolean).join(path.delimiter),
    PYTHONDONTWRITEBYTECODE: '1',
    // Progress lines must arrive as they are printed, not when a buffer fills.
    PYTHONUNBUFFERED: '1',
    PYTHONIOENCODING: 'utf-8',
  }
  const child = spawn(python.interpreter, args, {
    cwd: options.cwd,
    env,
    shell: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  })
  const stderr = new Tail()
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => stderr.push(chunk))
  const lines = child.stdout
    ? createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY })
    : null
  if (lines && options.onLine) lines.on('line', options.onLine)
  const exited = new Promise<{
    code: number | null
    signal: NodeJS.Signals | null
    spawnError: Error | null
  }>((resolve) => {
    let spawnError: Error | null = null
    child.once('error', (err) => {
      spawnError = err
      // A process that never started emits no 'close'.
      if (child.pid === undefined) resolve({ code: null, signal: null, spawnError })
    })
    // 'close' comes after stdout has been read to its end, so every line has been seen.
    child.once('close', (code, signal) => resolve({ code, signal, spawnError }))
  })
  return { child, exited, stderr }
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}
