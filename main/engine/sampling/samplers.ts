/**
 * The sampling modes, on onnxruntime sessions of one pack. Every mode turns (condition, noise) into token ids
 * and the latents the decoder takes; the condition is a class, or a text pack's encoded prompt; the noise is
 * dd-noise-v1 of each image's seed, so a seed means the same image here, on any provider, and in the Python
 * pipeline.
 *
 *   dd        the DD student: one generator run per entry of t_list (1-step: [0]; 2-step: [0, t2]; or custom).
 *             Each run keeps the ids before t and sees the same noise from t on.
 *   hybrid    DD at t = 0 (unless the teacher starts at 0), snapped to codes, then the exact teacher from
 *             `start` to `end`, then DD at t = end (unless the teacher ran to the last step): the teacher fixes
 *             the first steps, which matter most.
 *   exact     the teacher, with each token chosen from its image's noise through the flow map: the deterministic
 *             target the student was trained to imitate.
 *   ar        the teacher, sampled stochastically (temperature, top-k, top-p, CFG) with a seeded uniform stream.
 *
 * t, t_list and the hybrid bounds count the pack's steps (./steps.ts): tokens for LlamaGen, scales for VAR. The
 * generator takes them as they are. The teacher runs one step at a time: a KV-cached token step (teacher_step)
 * for LlamaGen, a whole scale from the earlier scales' ids (teacher_scale) for VAR, whose tokens within a scale
 * are all chosen from that one run, each from its own position's noise or uniform.
 */
import * as ort from 'onnxruntime-node'
import { hybridSteps } from '../../../common/generation.ts'
import { AppError } from '../../../common/result.ts'
import { noiseInternals } from '../noise.ts'
import type { PackRuntime } from '../packRuntime.ts'
import { requireGraph } from '../packs/manifest.ts'
import { stepOffsets, stepUnitsOf } from '../steps.ts'
import { flowMapSupport } from './flowMap.ts'
import { sampleCategorical, shapeDistribution, type TeacherSampling } from './shaping.ts'

export interface SampleInput {
  /** A class pack's class of every image; unused (may be left empty) for a text pack. */
  classes: number[]
  /** dd-noise-v1 of every image, concatenated: [B, tokens, codebookDim]. */
  noise: Float32Array
  /** Per image, for the stochastic teacher's uniform stream; B is its length. */
  seeds: number[]
  /**
   * A text pack's condition: text_encoder.onnx's output for every image's prompt, [B, T, width] (T the pack's
   * maxTokens). The generator and the teacher's prefill take it instead of class ids.
   */
  cond?: Float32Array
  /**
   * A text pack's unconditional branch of guidance, [B, T, width]: the null prompt's encoding, or the negative
   * prompt's. Needed by the teacher when it runs with guidance.
   */
  uncond?: Float32Array
}

export interface SampleHooks {
  /** Called after every teacher step (token or scale) and every DD step: steps done, in total for this call. */
  onStep?: (done: number, total: number) => void
  signal?: AbortSignal
}

export interface TokensOut {
  /** [B, tokens] */
  ids: Int32Array
  /** [B, tokens, codebookDim], what the decoder takes */
  latents: Float32Array
}

function int64(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  const data = new BigInt64Array(values.length)
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i] as number)
  return new ort.Tensor('int64', data, dims)
}

function scalar(value: number): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(value)), [])
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError('cancelled', 'the job was cancelled')
}

/** DD sampling with the generator graph. `prefix` (ids before tList[0]) is only used when tList[0] > 0. */
export async function sampleDD(
  rt: PackRuntime,
  input: SampleInput,
  tList: number[],
  splitT: number,
  hooks: SampleHooks = {},
  prefix?: Int32Array,
): Promise<TokensOut> {
  const n = rt.manifest.tokens.count
  const d = rt.manifest.tokens.codebookDim
  const b = input.seeds.length
  const noise = new ort.Tensor('float32', input.noise, [b, n, d])
  const condition = generatorCondition(rt, input)
  let ids = prefix ?? new Int32Array(b * n)
  let latents: Float32Array = new Float32Array(0)
  for (const [k, t] of tList.entries()) {
    checkCancelled(hooks.signal)
    const out = await rt.sessions.run('generator', {
      noise,
      prefix_ids: int64(ids, [b, n]),
      t: scalar(t),
      split_t: scalar(splitT),
      ...condition,
    })
    const outIds = out.ids?.data as BigInt64Array | undefined
    const outLatents = out.latents?.data as Float32Array | undefined
    if (!outIds || !outLatents) throw new Error('generator.onnx did not return ids and latents')
    ids = Int32Array.from(outIds, (v) => Number(v))
    latents = outLatents
    hooks.onStep?.(k + 1, tList.length)
  }
  return { ids, latents }
}

/** The generator's condition input: `cond` for a text pack, `class_ids` for a class pack. */
function generatorCondition(rt: PackRuntime, input: SampleInput): Record<string, ort.Tensor> {
  const b = input.seeds.length
  if (rt.manifest.conditioning.kind === 'text')
    return { cond: condTensor(rt, requireCond(input.cond, 'cond'), b) }
  if (input.classes.length !== b)
    throw new Error(`${input.classes.length} classes for ${b} seeds: every image needs its class`)
  return { class_ids: int64(input.classes, [b]) }
}

function requireCond(value: Float32Array | undefined, name: 'cond' | 'uncond'): Float32Array {
  if (!value) throw new Error(`a text pack samples from the prompt's encoding, but the input has no ${name}`)
  return value
}

/** A [rows, T, width] tensor of prompt encodings; T is the pack's maxTokens, width follows from the length. */
function condTensor(rt: PackRuntime, data: Float32Array, rows: number): ort.Tensor {
  const c = rt.manifest.conditioning
  const slots = c.kind === 'text' ? c.maxTokens : 0
  const width = data.length / (rows * slots)
  if (!Number.isInteger(width) || width < 1)
    throw new Error(`a prompt encoding of ${data.length} values is not [${rows}, ${slots}, width]`)
  return new ort.Tensor('float32', data, [rows, slots, width])
}

/** Codebook vectors of ids: the latents of the teacher's sequences. */
export function latentsOf(rt: PackRuntime, ids: Int32Array): Float32Array {
  const d = rt.manifest.tokens.codebookDim
  const out = new Float32Array(ids.length * d)
  for (let i = 0; i < ids.length; i++)
    out.set(rt.book.subarray((ids[i] as number) * d, ((ids[i] as number) + 1) * d), i * d)
  return out
}

/** Picks token `pos` of image `row` from the shaped distribution p. */
export type Chooser = (p: Float64Array, row: number, pos: number) => number

export function exactChooser(rt: PackRuntime, noise: Float32Array): Chooser {
  if (rt.manifest.flow.solver !== 'ab2-snr') {
    throw new AppError(
      'unavailable',
      `pack '${rt.manifest.id}' uses flow solver '${rt.manifest.flow.solver}', which this app does not implement`,
    )
  }
  const n = rt.manifest.tokens.count
  const [vocab, d] = rt.manifest.codebook.shape
  return (p, row, pos) => {
    const at = (row * n + pos) * d
    return flowMapSupport(p, rt.book, vocab, d, noise.subarray(at, at + d), rt.flow)
  }
}

/**
 * The stochastic teacher's uniforms: the dd-noise-v1 hash of the image's seed at counters 2^31 + pos, a range the
 * noise itself never reaches for packs under 2^31 values per image, so they are independent of the noise.
 */
export function stochasticChooser(seeds: number[]): Chooser {
  const keys = seeds.map((s) => noiseInternals.keys(s))
  return (p, row, pos) => {
    const [k1, k2] = keys[row] as [number, number]
    const h = noiseInternals.uniformHash(2 ** 31 + pos, k1, k2)
    return sampleCategorical(p, (h + 0.5) * 2 ** -32)
  }
}

/** Which tokens the teacher chooses: steps start..stop-1; tokens of earlier steps come from `prefix`. */
export interface TeacherRange {
  prefix?: Int32Array
  start?: number
  stop?: number
}

/**
 * The guidance of step k of K: the constant form (u + s (c - u)), or for cfgSchedule 'linear-scale' VAR's ramp,
 * w = s k / (K - 1) in the form c + w (c - u). The schedule is the pack's (sampling.teacher.cfgSchedule).
 */
export function guidanceAt(
  rt: PackRuntime,
  sampling: TeacherSampling,
  k: number,
  K: number,
): TeacherSampling {
  if (rt.manifest.sampling.teacher.cfgSchedule !== 'linear-scale') return sampling
  const ratio = K > 1 ? k / (K - 1) : 1
  return { ...sampling, cfgScale: sampling.cfgScale * ratio, cfgForm: 'cond' }
}

/** Whether a run needs the unconditional half of the batch at all. */
function isGuided(rt: PackRuntime, sampling: TeacherSampling): boolean {
  return rt.manifest.sampling.teacher.cfgSchedule === 'linear-scale'
    ? sampling.cfgScale !== 0
    : sampling.cfgScale !== 1
}

/** The class ids of a teacher batch: the images' classes, then (with guidance) as many nullClass rows. */
function teacherClasses(rt: PackRuntime, classes: number[], guided: boolean): ort.Tensor {
  const c = rt.manifest.conditioning
  if (c.kind !== 'class') throw new Error(`pack '${rt.manifest.id}' is conditioned on text, not classes`)
  const nullClass = c.nullClass
  const rows = guided ? [...classes, ...classes.map(() => nullClass)] : classes
  return int64(rows, [rows.length])
}

/**
 * A text pack's teacher prefill input: the images' prompt encodings, then (with guidance) their unconditional
 * ones (the null or the negative prompt's), as for class packs' nullClass rows.
 */
function teacherCond(rt: PackRuntime, input: SampleInput, guided: boolean): ort.Tensor {
  const b = input.seeds.length
  const cond = requireCond(input.cond, 'cond')
  if (!guided) return condTensor(rt, cond, b)
  const uncond = requireCond(input.uncond, 'uncond')
  if (uncond.length !== cond.length)
    throw new Error(`uncond has ${uncond.length} values, cond ${cond.length}: they must be the same shape`)
  const both = new Float32Array(2 * cond.length)
  both.set(cond, 0)
  both.set(uncond, cond.length)
  return condTensor(rt, both, 2 * b)
}

/**
 * The teacher over steps start..stop-1 (tokens or scales, as the pack counts them): tokens of earlier steps are
 * taken from `range.prefix`, the chosen steps' tokens come from `choose`, later tokens stay 0.
 */
export async function sampleTeacher(
  rt: PackRuntime,
  input: SampleInput,
  sampling: TeacherSampling,
  choose: Chooser,
  hooks: SampleHooks = {},
  range: TeacherRange = {},
): Promise<Int32Array> {
  return rt.manifest.family === 'var'
    ? sampleTeacherScales(rt, input, sampling, choose, hooks, range)
    : sampleTeacherTokens(rt, input, sampling, choose, hooks, range)
}

/**
 * LlamaGen's teacher, one KV-cached step per token. Positions < start are taken from `prefix` (the teacher still
 * reads them to build its cache); positions start..stop-1 are chosen; later positions stay 0. A class pack's step
 * at pos 0 feeds the class; a text pack's prefill runs the prompt's slots instead and gives token 0's logits,
 * then each step pos >= 1 feeds token pos - 1 with no class input.
 */
async function sampleTeacherTokens(
  rt: PackRuntime,
  input: SampleInput,
  sampling: TeacherSampling,
  choose: Chooser,
  hooks: SampleHooks,
  range: TeacherRange,
): Promise<Int32Array> {
  const n = rt.manifest.tokens.count
  const vocab = rt.manifest.tokens.codebookSize
  const { layers, heads, headDim } = requireGraph(rt.manifest, 'teacherStep')
  const text = rt.manifest.conditioning.kind === 'text'
  const b = input.seeds.length
  const start = range.start ?? 0
  const stop = range.stop ?? n
  const guided = isGuided(rt, sampling)
  const rows = guided ? 2 * b : b
  const classIds = text ? null : teacherClasses(rt, input.classes, guided)
  const out = new Int32Array(b * n)
  if (range.prefix)
    for (let row = 0; row < b; row++)
      for (let pos = 0; pos < start; pos++) out[row * n + pos] = range.prefix[row * n + pos] as number
  let pastK: ort.Tensor = new ort.Tensor('float32', new Float32Array(0), [layers, rows, heads, 0, headDim])
  let pastV: ort.Tensor = new ort.Tensor('float32', new Float32Array(0), [layers, rows, heads, 0, headDim])
  const stepIds = new BigInt64Array(rows)
  for (let pos = 0; pos < stop; pos++) {
    checkCancelled(hooks.signal)
    if (pos > 0) {
      for (let row = 0; row < b; row++) {
        const prev = BigInt(out[row * n + pos - 1] as number)
        stepIds[row] = prev
        if (guided) stepIds[row + b] = prev
      }
    }
    const graph = text && pos === 0 ? 'teacherPrefill' : 'teacherStep'
    const result =
      graph === 'teacherPrefill'
        ? await rt.sessions.run(graph, { cond: teacherCond(rt, input, guided) })
        : await rt.sessions.run(graph, {
            ids: new ort.Tensor('int64', stepIds.slice(), [rows]),
            ...(classIds ? { class_ids: classIds } : {}),
            pos: scalar(pos),
            past_k: pastK,
            past_v: pastV,
          })
    const logits = result.logits?.data as Float32Array | undefined
    const presentK = result.present_k
    const presentV = result.present_v
    const file = requireGraph(rt.manifest, graph).file
    if (!logits || !presentK || !presentV) throw new Error(`${file} did not return logits and caches`)
    if (logits.length !== rows * vocab)
      throw new Error(`${file} returned ${logits.length} logits, expected [${rows}, ${vocab}]`)
    pastK = presentK as ort.Tensor
    pastV = presentV as ort.Tensor
    if (pos < start) continue
    const shaping = guidanceAt(rt, sampling, pos, n)
    for (let row = 0; row < b; row++) {
      const cond = logits.subarray(row * vocab, (row + 1) * vocab)
      const uncond = guided ? logits.subarray((row + b) * vocab, (row + b + 1) * vocab) : null
      out[row * n + pos] = choose(shapeDistribution(cond, uncond, shaping), row, pos)
    }
    hooks.onStep?.(pos + 1 - start, stop - start)
  }
  return out
}

/**
 * VAR's teacher, one run of teacher_scale per scale: it reads the ids of the earlier scales (no cache to carry)
 * and gives the logits of every token of the scale, each chosen at its own token position. Scales < start come
 * from `prefix`; scales start..stop-1 are chosen; later tokens stay 0.
 */
async function sampleTeacherScales(
  rt: PackRuntime,
  input: SampleInput,
  sampling: TeacherSampling,
  choose: Chooser,
  hooks: SampleHooks,
  range: TeacherRange,
): Promise<Int32Array> {
  const n = rt.manifest.tokens.count
  const vocab = rt.manifest.tokens.codebookSize
  requireGraph(rt.manifest, 'teacherScale')
  const offsets = stepOffsets(rt.manifest)
  const scales = offsets.length - 1
  const b = input.seeds.length
  const start = range.start ?? 0
  const stop = range.stop ?? scales
  const guided = isGuided(rt, sampling)
  const rows = guided ? 2 * b : b
  const classIds = teacherClasses(rt, input.classes, guided)
  const out = new Int32Array(b * n)
  const first = offsets[start] as number
  if (range.prefix)
    for (let row = 0; row < b; row++)
      for (let pos = 0; pos < first; pos++) out[row * n + pos] = range.prefix[row * n + pos] as number
  // [rows, N]: the unconditional half reads the same ids. Only earlier scales are read, so it is refilled with
  // each scale's choices as they are made.
  const ids = new BigInt64Array(rows * n)
  for (let k = start; k < stop; k++) {
    checkCancelled(hooks.signal)
    const from = offsets[k] as number
    const size = (offsets[k + 1] as number) - from
    for (let row = 0; row < b; row++) {
      for (let pos = 0; pos < from; pos++) {
        const id = BigInt(out[row * n + pos] as number)
        ids[row * n + pos] = id
        if (guided) ids[(row + b) * n + pos] = id
      }
    }
    const result = await rt.sessions.run('teacherScale', {
      ids: new ort.Tensor('int64', ids.slice(), [rows, n]),
      scale: scalar(k),
      class_ids: classIds,
    })
    const logits = result.logits?.data as Float32Array | undefined
    if (!logits) throw new Error('teacher_scale.onnx did not return logits')
    if (logits.length !== rows * size * vocab)
      throw new Error(
        `teacher_scale.onnx returned ${logits.length} logits for scale ${k}, expected [${rows}, ${size}, ${vocab}]`,
      )
    const shaping = guidanceAt(rt, sampling, k, scales)
    for (let row = 0; row < b; row++) {
      for (let j = 0; j < size; j++) {
        const at = (row * size + j) * vocab
        const cond = logits.subarray(at, at + vocab)
        const uAt = ((row + b) * size + j) * vocab
        const uncond = guided ? logits.subarray(uAt, uAt + vocab) : null
        out[row * n + from + j] = choose(shapeDistribution(cond, uncond, shaping), row, from + j)
      }
    }
    hooks.onStep?.(k + 1 - start, stop - start)
  }
  return out
}

/**
 * The ids of a DD run as codes, for positions < `before`: where the generator's latents are codebook vectors
 * (before split_t) those are its ids; where they are the continuous head's, the nearest code (squared Euclidean
 * distance), as the published hybrid samplers snap them. In every published schedule the teacher starts before
 * split_t, so this is the ids themselves.
 */
export function snapToCodes(
  rt: PackRuntime,
  out: TokensOut,
  before: number,
  splitTokens: number,
): Int32Array {
  const n = rt.manifest.tokens.count
  const [vocab, d] = rt.manifest.codebook.shape
  const ids = Int32Array.from(out.ids)
  const b = ids.length / n
  for (let row = 0; row < b; row++) {
    for (let pos = splitTokens; pos < before; pos++) {
      const at = (row * n + pos) * d
      let best = 0
      let bestDistance = Number.POSITIVE_INFINITY
      for (let j = 0; j < vocab; j++) {
        let distance = 0
        for (let c = 0; c < d; c++) {
          const diff = (rt.book[j * d + c] as number) - (out.latents[at + c] as number)
          distance += diff * diff
        }
        if (distance < bestDistance) {
          bestDistance = distance
          best = j
        }
      }
      ids[row * n + pos] = best
    }
  }
  return ids
}

/**
 * The published teacher-involved schedule (hybrid): DD at t = 0 (skipped when start is 0) snapped to codes, the
 * exact teacher over steps start..end-1, DD at t = end with the hybrid's split_t (skipped when end is the last
 * step). Progress counts each of these model passes (common/generation.ts hybridSteps).
 */
export async function sampleHybrid(
  rt: PackRuntime,
  input: SampleInput,
  hybrid: { start: number; end: number; splitT: number },
  sampling: TeacherSampling,
  hooks: SampleHooks = {},
): Promise<TokensOut> {
  const steps = stepUnitsOf(rt.manifest).count
  const offsets = stepOffsets(rt.manifest)
  const total = hybridSteps(hybrid, steps)
  let done = 0
  let prefix: Int32Array | undefined
  if (hybrid.start > 0) {
    const first = await sampleDD(rt, input, [0], hybrid.splitT, { signal: hooks.signal })
    prefix = snapToCodes(rt, first, offsets[hybrid.start] as number, offsets[hybrid.splitT] as number)
    hooks.onStep?.(++done, total)
  }
  const base = done
  const middle = await sampleTeacher(
    rt,
    input,
    sampling,
    exactChooser(rt, input.noise),
    { signal: hooks.signal, onStep: (k) => hooks.onStep?.(base + k, total) },
    { prefix, start: hybrid.start, stop: hybrid.end },
  )
  if (hybrid.end >= steps) return { ids: middle, latents: latentsOf(rt, middle) }
  const last = await sampleDD(rt, input, [hybrid.end], hybrid.splitT, { signal: hooks.signal }, middle)
  hooks.onStep?.(total, total)
  return last
}

/** RGB bytes [B, H, W, 3] from latents. */
export async function decodeLatents(
  rt: PackRuntime,
  latents: Float32Array,
  batch: number,
): Promise<Uint8Array> {
  const n = rt.manifest.tokens.count
  const d = rt.manifest.tokens.codebookDim
  const out = await rt.sessions.run('decoder', { latents: new ort.Tensor('float32', latents, [batch, n, d]) })
  const rgb = out.rgb?.data
  if (!(rgb instanceof Uint8Array)) throw new Error('decoder.onnx did not return uint8 rgb')
  return rgb
}
