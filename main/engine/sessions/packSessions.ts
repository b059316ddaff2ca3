/**
 * The onnxruntime sessions of one model pack, created when first needed. Each execution provider is tried on
 * its own (onnxruntime-node does not fall back by itself) with a warm-up run on inputs built from the manifest,
 * so a graph that loads but cannot run on a provider falls back too; cpu is always the last candidate. The
 * provider that really runs each graph is reported with every result. Idle sessions are released after a
 * timeout, and all of them when the pack is unloaded.
 */
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { AppError } from '../../../common/result.ts'
import type { ExecutionProviderName } from '../../../common/types.ts'
import { graphIoProblems } from '../packs/graphCheck.ts'
import { type GraphName, type PackManifest, requireGraph } from '../packs/manifest.ts'
import { NULL } from '../text/tokenizer.ts'

/**
 * The pack's graphs: generator, decoder, the family's teacher (teacherStep or teacherScale), and a text pack's
 * textEncoder and teacherPrefill.
 */
export type { GraphName }

export interface LoadedGraph {
  session: ort.InferenceSession
  provider: ExecutionProviderName
  /** Providers tried before this one, with the reason each failed. */
  fallbacks: { provider: ExecutionProviderName; error: string }[]
  loadMs: number
}

export interface PackSessionsOptions {
  /** Providers in the order to try; cpu is appended when missing. */
  providers: ExecutionProviderName[]
  /** Release a graph's session after this long without use (0: never). */
  idleMs: number
  log?: (level: 'info' | 'warn', message: string) => void
  threads?: number
}

export class PackSessions {
  private readonly graphs = new Map<GraphName, Promise<LoadedGraph>>()
  private readonly timers = new Map<GraphName, NodeJS.Timeout>()
  private closed = false
  /** Time inside session.run through run(), for the benchmark: what onnxruntime costs vs. the app around it. */
  private runTotalMs = 0
  private runTotalCount = 0
  readonly dir: string
  readonly manifest: PackManifest
  private readonly options: PackSessionsOptions

  constructor(dir: string, manifest: PackManifest, options: PackSessionsOptions) {
    this.dir = dir
    this.manifest = manifest
    this.options = options
  }

  get providers(): ExecutionProviderName[] {
    const list = this.options.providers.filter((p) => p !== 'cpu')
    return [...list, 'cpu']
  }

  /** The session for a graph, loading it on first use. Rejects only when even cpu cannot run it. */
  async graph(name: GraphName): Promise<LoadedGraph> {
    if (this.closed) throw new Error(`the sessions of pack '${this.manifest.id}' were released`)
    let loading = this.graphs.get(name)
    if (!loading) {
      loading = this.load(name)
      this.graphs.set(name, loading)
      // A failed load is not cached: the next call tries again.
      loading.catch(() => this.graphs.delete(name))
    }
    const loaded = await loading
    this.touch(name)
    return loaded
  }

  /** Runs a graph, and keeps it warm. */
  async run(
    name: GraphName,
    feeds: Record<string, ort.Tensor>,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const { session } = await this.graph(name)
    // Two clock reads per run, always on: the benchmark then measures the very path the app runs.
    const started = performance.now()
    try {
      return await session.run(feeds)
    } finally {
      this.runTotalMs += performance.now() - started
      this.runTotalCount++
    }
  }

  /**
   * Milliseconds spent inside session.run by run() since these sessions were created, and how many runs. The
   * warm-up run of each load is not counted. Runs of one job are sequential, so the times never overlap.
   */
  get runStats(): { runs: number; ms: number } {
    return { runs: this.runTotalCount, ms: this.runTotalMs }
  }

  /** The provider each loaded graph runs on. */
  async loadedProviders(): Promise<Partial<Record<GraphName, ExecutionProviderName>>> {
    const out: Partial<Record<GraphName, ExecutionProviderName>> = {}
    for (const [name, loading] of this.graphs) {
      const loaded = await loading.catch(() => null)
      if (loaded) out[name] = loaded.provider
    }
    return out
  }

  async release(name?: GraphName): Promise<void> {
    const names = name ? [name] : [...this.graphs.keys()]
    for (const n of names) {
      const loading = this.graphs.get(n)
      this.graphs.delete(n)
      clearTimeout(this.timers.get(n))
      this.timers.delete(n)
      const loaded = await loading?.catch(() => null)
      await loaded?.session.release().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    await this.release()
  }

  private touch(name: GraphName): void {
    if (!this.options.idleMs) return
    clearTimeout(this.timers.get(name))
    const timer = setTimeout(() => {
      this.options.log?.('info', `released the idle ${name} session of pack '${this.manifest.id}'`)
      void this.release(name)
    }, this.options.idleMs)
    timer.unref()
    this.timers.set(name, timer)
  }

  private async load(name: GraphName): Promise<LoadedGraph> {
    const spec = requireGraph(this.manifest, name)
    const file = path.join(this.dir, spec.file)
    const fallbacks: LoadedGraph['fallbacks'] = []
    for (const provider of this.providers) {
      const started = performance.now()
      let session: ort.InferenceSession | undefined
      try {
        session = await ort.InferenceSession.create(file, {
          executionProviders: [provider],
          graphOptimizationLevel: 'all',
          logSeverityLevel: 3,
          ...(this.options.threads ? { intraOpNumThreads: this.options.threads } : {}),
        })
        const mismatch = graphIoProblems(session, spec)
        if (mismatch.length) {
          // The graph itself disagrees with its manifest: no provider will fix that.
          await session.release().catch(() => undefined)
          throw new AppError('unavailable', `pack '${this.manifest.id}': ${mismatch.join('; ')}`)
        }
        await session.run(warmUpFeeds(this.manifest, name))
        if (fallbacks.length) {
          this.options.log?.(
            'warn',
            `${spec.file} runs on ${provider}: ${fallbacks.map((f) => `${f.provider} failed (${f.error})`).join('; ')}`,
          )
        }
        return { session, provider, fallbacks, loadMs: performance.now() - started }
      } catch (err) {
        if (err instanceof AppError) throw err
        await session?.release().catch(() => undefined)
        fallbacks.push({ provider, error: firstLine(err) })
      }
    }
    throw new Error(
      `${spec.file} of pack '${this.manifest.id}' cannot run on any provider: ${fallbacks.map((f) => `${f.provider}: ${f.error}`).join('; ')}`,
    )
  }
}

/**
 * Batch-1 inputs of the right shapes and types, with values that are valid for every graph. teacher_scale runs
 * its last scale: the whole sequence, so a provider that cannot run the full graph fails here, not in a job. A
 * text pack's graphs get the null prompt's ids, a zero `cond` and, for the teacher step, its first position
 * after the prompt slots (pos 1 with a cache of maxTokens slots).
 */
export function warmUpFeeds(manifest: PackManifest, name: GraphName): Record<string, ort.Tensor> {
  const n = manifest.tokens.count
  const d = manifest.tokens.codebookDim
  const text = manifest.conditioning.kind === 'text' ? manifest.conditioning : null
  const zeroCond = (): ort.Tensor => {
    const [, slots, width] = requireGraph(manifest, 'generator').inputs.cond?.shape ?? []
    if (!text || typeof slots !== 'number' || typeof width !== 'number')
      throw new AppError('unavailable', `pack '${manifest.id}': generator.inputs.cond has no fixed shape`)
    return new ort.Tensor('float32', new Float32Array(slots * width), [1, slots, width])
  }
  switch (name) {
    case 'generator':
      return {
        noise: new ort.Tensor('float32', new Float32Array(n * d), [1, n, d]),
        prefix_ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
        t: new ort.Tensor('int64', BigInt64Array.of(0n), []),
        split_t: new ort.Tensor('int64', BigInt64Array.of(BigInt(manifest.sampling.splitT)), []),
        ...(text ? { cond: zeroCond() } : { class_ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1]) }),
      }
    case 'decoder':
      return { latents: new ort.Tensor('float32', new Float32Array(n * d), [1, n, d]) }
    case 'teacherStep': {
      const { layers, heads, headDim } = requireGraph(manifest, 'teacherStep')
      // A text pack's step starts after the prompt's maxTokens slots (the prefill's cache); a class pack's at 0.
      const past = text ? text.maxTokens : 0
      const cache = () =>
        new ort.Tensor('float32', new Float32Array(layers * heads * past * headDim), [
          layers,
          1,
          heads,
          past,
          headDim,
        ])
      return {
        ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
        ...(text ? {} : { class_ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1]) }),
        pos: new ort.Tensor('int64', BigInt64Array.of(text ? 1n : 0n), []),
        past_k: cache(),
        past_v: cache(),
      }
    }
    case 'teacherScale': {
      const scales = manifest.tokens.scales?.length ?? 1
      return {
        ids: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
        scale: new ort.Tensor('int64', BigInt64Array.of(BigInt(scales - 1)), []),
        class_ids: new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
      }
    }
    case 'textEncoder': {
      const slots = text?.maxTokens ?? 1
      // The null prompt: NULL then PAD (the tokenizer's fixed special ids).
      const ids = new BigInt64Array(slots)
      ids[0] = BigInt(NULL)
      return { prompt_ids: new ort.Tensor('int64', ids, [1, slots]) }
    }
    case 'teacherPrefill':
      return { cond: zeroCond() }
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  const line = text.split('\n').find((l) => l.trim().length > 0) ?? 'unknown error'
  return line.length > 300 ? `${line.slice(0, 300)}…` : line
}
