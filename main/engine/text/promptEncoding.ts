/**
 * A text pack's prompts through text_encoder.onnx: the condition (`cond`, [batch, T, width]) that the generator
 * and the teacher's prefill take. A job encodes its distinct prompts once, in one batch (the prompt, and the
 * null or negative prompt for guidance's unconditional branch), and every image and mode of the job reuses them.
 */
import * as ort from 'onnxruntime-node'
import type { PackRuntime } from '../packRuntime.ts'
import { requireGraph } from '../packs/manifest.ts'

/** The encoding of each row of token ids ([T * width] each), running the encoder once on the distinct rows. */
export async function encodePrompts(rt: PackRuntime, rows: readonly number[][]): Promise<Float32Array[]> {
  const c = rt.manifest.conditioning
  if (c.kind !== 'text') throw new Error(`pack '${rt.manifest.id}' is conditioned on classes, not text`)
  const slots = c.maxTokens
  const distinct = [...new Set(rows.map((ids) => ids.join(',')))]
  const ids = new BigInt64Array(distinct.length * slots)
  distinct.forEach((key, i) => {
    const row = key.split(',').map(Number)
    if (row.length !== slots) throw new Error(`a prompt of ${row.length} token ids; the pack takes ${slots}`)
    row.forEach((id, j) => {
      ids[i * slots + j] = BigInt(id)
    })
  })
  const out = await rt.sessions.run('textEncoder', {
    prompt_ids: new ort.Tensor('int64', ids, [distinct.length, slots]),
  })
  const file = requireGraph(rt.manifest, 'textEncoder').file
  const cond = out.cond
  if (!cond || !(cond.data instanceof Float32Array)) throw new Error(`${file} did not return a float32 cond`)
  const [batch, t, width] = cond.dims
  if (cond.dims.length !== 3 || batch !== distinct.length || t !== slots || !width)
    throw new Error(
      `${file} returned cond [${cond.dims.join(', ')}], expected [${distinct.length}, ${slots}, width]`,
    )
  const per = slots * width
  const data = cond.data
  return rows.map((row) => {
    const i = distinct.indexOf(row.join(','))
    return data.slice(i * per, (i + 1) * per)
  })
}

/**
 * The condition of n images of one prompt: `cond` and `uncond` [n, T, width], each image's rows the encoding of
 * the prompt and of the unconditional branch (the null prompt, or the negative prompt).
 */
export async function promptCondition(
  rt: PackRuntime,
  prompt: { ids: number[]; uncondIds: number[] },
  n: number,
): Promise<{ cond: Float32Array; uncond: Float32Array }> {
  const [cond, uncond] = (await encodePrompts(rt, [prompt.ids, prompt.uncondIds])) as [
    Float32Array,
    Float32Array,
  ]
  return { cond: repeat(cond, n), uncond: repeat(uncond, n) }
}

function repeat(row: Float32Array, n: number): Float32Array {
  const out = new Float32Array(row.length * n)
  for (let i = 0; i < n; i++) out.set(row, i * row.length)
  return out
}
