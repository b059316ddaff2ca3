/**
 * Micro-benchmark of the exact teacher's flow map (main/engine/sampling/flowMap.ts) against the same file at an
 * earlier git revision, in one process: the same inputs through both, interleaved, medians over repetitions, and
 * a check that every token is the same (exit 1 if one differs).
 *
 *   node scripts/bench-flowmap.ts [--against REV] [--reps N] [--logit-std S] [--only llamagen|var]
 *
 * Shapes: LlamaGen (codebook 16384 x 8, L2-normalised rows, top-k 8000, 256 tokens per image) and VAR (4096 x 32,
 * not normalised, top-k 900, 680 tokens). Inputs are synthetic and seeded: codebook rows and teacher logits from
 * dd-noise-v1 (logits scaled by --logit-std), shaped by the app's shapeDistribution, one image's noise as eps.
 * The default baseline, 43983d7, is the map before the speed-up.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { gaussianNoiseBatch } from '../main/engine/noise.ts'
import { FlowMapper, type FlowSpec } from '../main/engine/sampling/flowMap.ts'
import { shapeDistribution } from '../main/engine/sampling/shaping.ts'

interface Shape {
  name: 'llamagen' | 'var'
  vocab: number
  dim: number
  normalized: boolean
  topK: number
  tokens: number
}

const SHAPES: Shape[] = [
  { name: 'llamagen', vocab: 16384, dim: 8, normalized: true, topK: 8000, tokens: 256 },
  { name: 'var', vocab: 4096, dim: 32, normalized: false, topK: 900, tokens: 680 },
]

/** Every pack's flow settings (models/spec/flow-vectors.json). */
const SPEC: FlowSpec = { steps: 48, rMin: 0.05, rMax: 300 }

interface Mapper {
  mapSupport(
    p: Float64Array,
    book: Float32Array,
    vocab: number,
    dim: number,
    eps: ArrayLike<number>,
    spec: FlowSpec,
  ): number
}

const REPO = path.resolve(import.meta.dirname, '..')

/** flowMap.ts as it was at `rev`, imported from a temporary copy (it imports nothing). */
async function loadBaseline(rev: string): Promise<new () => Mapper> {
  let source: string
  try {
    source = execFileSync('git', ['show', `${rev}:main/engine/sampling/flowMap.ts`], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  } catch {
    throw new Error(`--against ${rev}: git has no main/engine/sampling/flowMap.ts at that revision`)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowmap-baseline-'))
  const file = path.join(dir, 'flowMap.ts')
  fs.writeFileSync(file, source)
  const module = (await import(pathToFileURL(file).href)) as { FlowMapper?: new () => Mapper }
  fs.rmSync(dir, { recursive: true, force: true })
  if (typeof module.FlowMapper !== 'function') throw new Error(`flowMap.ts at ${rev} has no FlowMapper class`)
  return module.FlowMapper
}

interface Inputs {
  book: Float32Array
  ps: Float64Array[]
  eps: Float32Array
}

function makeInputs(shape: Shape, logitStd: number): Inputs {
  const { vocab, dim, tokens } = shape
  const book = gaussianNoiseBatch(101, vocab, dim)
  if (shape.normalized) {
    for (let j = 0; j < vocab; j++) {
      let s = 0
      for (let d = 0; d < dim; d++) s += (book[j * dim + d] as number) ** 2
      const norm = Math.sqrt(s)
      for (let d = 0; d < dim; d++) book[j * dim + d] = (book[j * dim + d] as number) / norm
    }
  }
  const logits = gaussianNoiseBatch(202, tokens, vocab)
  const ps: Float64Array[] = []
  for (let t = 0; t < tokens; t++) {
    const cond = logits.subarray(t * vocab, (t + 1) * vocab)
    for (let i = 0; i < vocab; i++) cond[i] = (cond[i] as number) * logitStd
    ps.push(shapeDistribution(cond, null, { cfgScale: 1, temperature: 1, topK: shape.topK, topP: 1 }))
  }
  return { book, ps, eps: gaussianNoiseBatch(303, 1, tokens * dim) }
}

/** One image: every token through the map; returns milliseconds and the tokens. */
function runImage(mapper: Mapper, shape: Shape, inputs: Inputs): { ms: number; tokens: Int32Array } {
  const { vocab, dim, tokens } = shape
  const out = new Int32Array(tokens)
  const t0 = performance.now()
  for (let t = 0; t < tokens; t++) {
    const eps = inputs.eps.subarray(t * dim, (t + 1) * dim)
    out[t] = mapper.mapSupport(inputs.ps[t] as Float64Array, inputs.book, vocab, dim, eps, SPEC)
  }
  return { ms: performance.now() - t0, tokens: out }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      against: { type: 'string', default: '43983d7' },
      reps: { type: 'string', default: '5' },
      'logit-std': { type: 'string', default: '2' },
      only: { type: 'string' },
    },
  })
  const reps = Number(values.reps)
  const logitStd = Number(values['logit-std'])
  if (!Number.isSafeInteger(reps) || reps < 1)
    throw new Error(`--reps must be a positive integer, got ${values.reps}`)
  if (!(logitStd >= 0 && Number.isFinite(logitStd)))
    throw new Error(`--logit-std must be >= 0, got ${values['logit-std']}`)
  const shapes = SHAPES.filter((s) => values.only === undefined || s.name === values.only)
  if (shapes.length === 0) throw new Error(`--only must be llamagen or var, got ${values.only}`)

  const Baseline = await loadBaseline(values.against)
  console.log(
    `flow map, ${SPEC.steps} steps; baseline ${values.against}; ${reps} reps; node ${process.version}`,
  )
  console.log(
    'shape      vocab x dim   top-k  tokens  baseline ms/image  current ms/image  speed-up  tokens same',
  )
  let allSame = true
  for (const shape of shapes) {
    const inputs = makeInputs(shape, logitStd)
    const before = new Baseline()
    const after = new FlowMapper()
    // Warm-up (JIT) on a few tokens of each.
    runImage(before, { ...shape, tokens: 8 }, inputs)
    runImage(after, { ...shape, tokens: 8 }, inputs)
    const timesBefore: number[] = []
    const timesAfter: number[] = []
    let same = true
    for (let rep = 0; rep < reps; rep++) {
      const a = runImage(before, shape, inputs)
      const b = runImage(after, shape, inputs)
      timesBefore.push(a.ms)
      timesAfter.push(b.ms)
      for (let t = 0; t < shape.tokens; t++) if (a.tokens[t] !== b.tokens[t]) same = false
    }
    allSame &&= same
    const mb = median(timesBefore)
    const ma = median(timesAfter)
    console.log(
      [
        shape.name.padEnd(9),
        `${shape.vocab} x ${shape.dim}`.padStart(12),
        String(shape.topK).padStart(6),
        String(shape.tokens).padStart(7),
        mb.toFixed(1).padStart(18),
        ma.toFixed(1).padStart(17),
        `${(mb / ma).toFixed(2)}x`.padStart(9),
        (same ? 'yes' : 'NO').padStart(12),
      ].join('  '),
    )
  }
  if (!allSame) {
    console.error('a token differs between the baseline and the current map')
    process.exit(1)
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
