/**
 * One generation job in the inference host: noise for every image, the plan's modes on that same noise, decode,
 * PNG with metadata. Timings are split into token generation, decode and the rest; compare jobs report each
 * mode's token agreement with the exact teacher. Progress counts model passes in the pack's steps (tokens for
 * LlamaGen, scales for VAR).
 */
import {
  type GeneratedImage,
  type GenerationResult,
  modelSteps,
  type SingleMode,
  type Timings,
  type TokenAgreement,
} from '../../common/generation.ts'
import { formatParameters, METADATA_KEY, PARAMETERS_KEY } from '../../common/parameters.ts'
import { batchSeed, gaussianNoiseBatch, NOISE_SPEC } from './noise.ts'
import { encodePng } from './output/png.ts'
import type { PackRuntime } from './packRuntime.ts'
import type { PackManifest } from './packs/manifest.ts'
import type { GenerationPlan } from './plan.ts'
import {
  decodeLatents,
  exactChooser,
  latentsOf,
  type SampleHooks,
  type SampleInput,
  sampleDD,
  sampleHybrid,
  sampleTeacher,
  stochasticChooser,
  type TokensOut,
} from './sampling/samplers.ts'
import type { GraphName } from './sessions/packSessions.ts'
import { agreementWindow } from './steps.ts'
import { promptCondition } from './text/promptEncoding.ts'

export interface JobHooks {
  onProgress?: (step: number, total: number, etaMs: number | null) => void
  signal?: AbortSignal
}

/** The metadata key every image carries (JSON, see common/parameters.ts for its schema). */
export { METADATA_KEY }

/** The DD trajectory a mode runs; null for the teacher modes ('hybrid' runs DD at 0 and at its end). */
export function ddTListOf(plan: GenerationPlan, mode: SingleMode): number[] | null {
  switch (mode) {
    case '1step':
      return [0]
    case '2step':
      return plan.twoStepTList
    case 'custom':
      return plan.tList
    default:
      return null
  }
}

async function runMode(
  rt: PackRuntime,
  plan: GenerationPlan,
  mode: SingleMode,
  input: SampleInput,
  hooks: SampleHooks,
): Promise<TokensOut> {
  switch (mode) {
    case '1step':
      return sampleDD(rt, input, [0], plan.splitT, hooks)
    case '2step':
      return sampleDD(rt, input, plan.twoStepTList, plan.splitT, hooks)
    case 'custom':
      return sampleDD(rt, input, plan.tList, plan.splitT, hooks)
    case 'hybrid':
      return sampleHybrid(rt, input, plan.hybrid, plan.teacher, hooks)
    case 'exact': {
      const ids = await sampleTeacher(rt, input, plan.teacher, exactChooser(rt, input.noise), hooks)
      return { ids, latents: latentsOf(rt, ids) }
    }
    case 'ar': {
      const ids = await sampleTeacher(rt, input, plan.teacher, stochasticChooser(input.seeds), hooks)
      return { ids, latents: latentsOf(rt, ids) }
    }
  }
}

/**
 * How far ids agree with the reference's: `identical` over every token of every image, `disagreement` per
 * position of `window` (the token grid that lays over the image: all tokens, or a VAR pack's last scale).
 */
export function tokenAgreement(
  ids: Int32Array,
  reference: Int32Array,
  tokens: number,
  window: { from: number; length: number } = { from: 0, length: tokens },
): TokenAgreement {
  const images = ids.length / tokens
  const differs = new Array<number>(window.length).fill(0)
  let same = 0
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === reference[i]) {
      same++
      continue
    }
    const at = (i % tokens) - window.from
    if (at >= 0 && at < window.length) differs[at] = (differs[at] as number) + 1
  }
  return { identical: ids.length ? same / ids.length : 1, disagreement: differs.map((c) => c / images) }
}

export interface GenerateContext {
  appVersion: string
  jobId: string
}

export async function generate(
  rt: PackRuntime,
  plan: GenerationPlan,
  context: GenerateContext,
  hooks: JobHooks = {},
): Promise<GenerationResult> {
  const m = rt.manifest
  const tokens = m.tokens.count
  const d = m.tokens.codebookDim
  const { width, height } = m.image
  // 'exact' runs first in a compare job so every other mode can be measured against it.
  const modes = [...plan.modes].sort((a, b) => Number(b === 'exact') - Number(a === 'exact'))
  const stepsOf = (mode: SingleMode) => modelSteps(mode, plan.steps.count, plan)
  const totalSteps = modes.reduce((sum, mode) => sum + stepsOf(mode), 0)
  const window = agreementWindow(m)
  // Sessions are created (and warmed up) before the clock starts: a mode's timings measure sampling, and the
  // one-off load is reported on its own.
  const loadStarted = performance.now()
  for (const graph of graphsFor(modes, m)) await rt.sessions.graph(graph)
  const loadMs = performance.now() - loadStarted
  const started = performance.now()
  let stepsDone = 0
  const report = (done: number) => {
    const elapsed = performance.now() - started
    const eta = done > 0 ? (elapsed / done) * (totalSteps - done) : null
    hooks.onProgress?.(done, totalSteps, eta === null ? null : Math.round(eta))
  }

  const seeds = Array.from({ length: plan.n }, (_, i) => batchSeed(plan.seed, i))
  const classIndex = plan.classIndex
  const classes = classIndex === null ? [] : seeds.map(() => classIndex)
  // One noise tensor, and for a text pack one encoding of the prompts, for every mode of the job (that is what
  // makes a compare job comparable). Each mode's "other" time still includes making them, since that mode alone
  // would have to.
  const noiseStarted = performance.now()
  const input: SampleInput = { classes, noise: gaussianNoiseBatch(plan.seed, plan.n, tokens * d), seeds }
  if (plan.prompt) Object.assign(input, await promptCondition(rt, plan.prompt, plan.n))
  const noiseMs = performance.now() - noiseStarted
  const byMode = new Map<SingleMode, { out: TokensOut; rgb: Uint8Array; timings: Timings }>()
  for (const mode of modes) {
    const t1 = performance.now()
    const t0 = t1 - noiseMs
    const base = stepsDone
    const out = await runMode(rt, plan, mode, input, {
      signal: hooks.signal,
      onStep: (done) => report(base + done),
    })
    stepsDone = base + stepsOf(mode)
    const t2 = performance.now()
    const rgb = await decodeLatents(rt, out.latents, plan.n)
    const t3 = performance.now()
    byMode.set(mode, {
      out,
      rgb,
      timings: { tokenMs: t2 - t1, decodeMs: t3 - t2, otherMs: t1 - t0, totalMs: t3 - t0 },
    })
  }

  const providers = await rt.sessions.loadedProviders()
  const exact = byMode.get('exact')?.out.ids ?? null
  const images: GeneratedImage[] = []
  const modeTimings: Record<string, Timings> = {}
  const modeSteps: Record<string, number> = {}
  const agreement: Record<string, TokenAgreement> = {}
  for (const mode of modes) {
    const entry = byMode.get(mode)
    if (!entry) continue
    const t0 = performance.now()
    if (exact && mode !== 'exact') agreement[mode] = tokenAgreement(entry.out.ids, exact, tokens, window)
    const perImage: Timings = {
      tokenMs: entry.timings.tokenMs / plan.n,
      decodeMs: entry.timings.decodeMs / plan.n,
      otherMs: entry.timings.otherMs / plan.n,
      totalMs: entry.timings.totalMs / plan.n,
    }
    const pixels = width * height * 3
    for (let i = 0; i < plan.n; i++) {
      const ids = entry.out.ids.subarray(i * tokens, (i + 1) * tokens)
      const metadata = {
        app: 'DD Studio',
        appVersion: context.appVersion,
        pack: { id: plan.packId, version: plan.packVersion, manifestSha256: plan.packHash },
        mode,
        class:
          plan.classIndex !== null
            ? { index: plan.classIndex, name: plan.className ?? String(plan.classIndex) }
            : null,
        ...(plan.prompt
          ? { prompt: { text: plan.prompt.text, negative: plan.prompt.negative, ids: plan.prompt.ids } }
          : {}),
        seed: seeds[i] as number,
        jobSeed: plan.seed,
        index: i,
        noise: NOISE_SPEC.name,
        tList: ddTListOf(plan, mode) ?? plan.tList,
        splitT: plan.splitT,
        hybrid: plan.hybrid,
        steps: plan.steps,
        cfgSchedule: plan.cfgSchedule,
        teacher: plan.teacher,
        providers,
        timingsMs: roundTimings(perImage),
      }
      // Beside our JSON, the same settings as AUTOMATIC1111-style `parameters`, which other tools read. It goes
      // into tEXt as they expect; a class name or prompt outside Latin-1 makes it iTXt instead (see encodePng).
      const png = encodePng(
        entry.rgb.subarray(i * pixels, (i + 1) * pixels),
        width,
        height,
        { Software: `DD Studio ${context.appVersion}`, [METADATA_KEY]: JSON.stringify(metadata) },
        { [PARAMETERS_KEY]: formatParameters(metadata, { width, height, tokens: plan.steps.count }) },
      )
      const own =
        exact && mode !== 'exact'
          ? tokenAgreement(ids, exact.subarray(i * tokens, (i + 1) * tokens), tokens, window)
          : null
      images.push({
        index: i,
        seed: seeds[i] as number,
        mode,
        width,
        height,
        png,
        ids: Array.from(ids),
        timings: perImage,
        agreement: own,
        galleryId: null, // main saves the image and fills this in
      })
    }
    // PNG encoding counts as "everything else".
    const pngMs = performance.now() - t0
    entry.timings.otherMs += pngMs
    entry.timings.totalMs += pngMs
    modeTimings[mode] = roundTimings(entry.timings)
    modeSteps[mode] = stepsOf(mode)
  }
  return {
    jobId: context.jobId,
    packId: plan.packId,
    classIndex: plan.classIndex,
    className: plan.className,
    prompt: plan.prompt ? { text: plan.prompt.text, negative: plan.prompt.negative } : null,
    promptNotes: plan.promptNotes,
    seed: plan.seed,
    modes,
    provider: providers.generator ?? providers.teacherStep ?? providers.teacherScale ?? 'cpu',
    images,
    modeTimings,
    modeSteps,
    agreement,
    loadMs: Math.round(loadMs * 1000) / 1000,
    galleryError: null,
  }
}

/** The teacher graph of a pack's family: a KV-cached token step (LlamaGen) or a whole scale (VAR). */
export function teacherGraphOf(manifest: PackManifest): GraphName {
  return manifest.family === 'var' ? 'teacherScale' : 'teacherStep'
}

/** The graphs a job's modes run, for loading them before the clock starts. */
export function graphsFor(modes: readonly SingleMode[], manifest: PackManifest): GraphName[] {
  const text = manifest.conditioning.kind === 'text'
  const graphs = new Set<GraphName>(text ? ['textEncoder', 'decoder'] : ['decoder'])
  for (const mode of modes) {
    if (mode !== 'ar' && mode !== 'exact') graphs.add('generator')
    if (mode === 'ar' || mode === 'exact' || mode === 'hybrid') {
      graphs.add(teacherGraphOf(manifest))
      if (text) graphs.add('teacherPrefill')
    }
  }
  return [...graphs]
}

function roundTimings(t: Timings): Timings {
  const r = (v: number) => Math.round(v * 1000) / 1000
  return { tokenMs: r(t.tokenMs), decodeMs: r(t.decodeMs), otherMs: r(t.otherMs), totalMs: r(t.totalMs) }
}
