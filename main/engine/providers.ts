/**
 * Which onnxruntime execution providers work on this machine. onnxruntime-node does not fall back by itself
 * (['webgpu', 'cpu'] still throws when WebGPU has no adapter), so each candidate is tried on its own with a
 * real session and a real run, and cpu always comes last.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import type { ExecutionProviderName, ProviderPreference, ProviderProbe } from '../../common/types.ts'
import { buildProbeModel, PROBE_SHAPE } from './onnx/probeGraph.ts'

const PROBE_TIMEOUT_MS = 30_000

/** Candidates per platform, best first. CUDA only where its libraries were installed (`npm run setup:cuda`). */
export function providerCandidates(
  platform: NodeJS.Platform,
  cudaInstalled: boolean,
): ExecutionProviderName[] {
  switch (platform) {
    case 'win32':
      return ['dml', 'webgpu', 'cpu']
    case 'darwin':
      return ['coreml', 'webgpu', 'cpu']
    case 'linux':
      return cudaInstalled ? ['webgpu', 'cuda', 'cpu'] : ['webgpu', 'cpu']
    default:
      return ['cpu']
  }
}

/** onnxruntime-node ships CPU and WebGPU; its CUDA libraries are an opt-in download next to the binding. */
export function isCudaInstalled(): boolean {
  const require = createRequire(import.meta.url)
  let pkgDir: string
  try {
    pkgDir = path.dirname(require.resolve('onnxruntime-node/package.json'))
  } catch {
    return false
  }
  const binDir = path.join(pkgDir, 'bin', 'napi-v6', process.platform, process.arch)
  const lib =
    process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'
  return fs.existsSync(path.join(binDir, lib))
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Creates a session on exactly one provider, runs the probe graph and checks the numbers. */
export async function probeProvider(name: ExecutionProviderName): Promise<ProviderProbe> {
  const started = performance.now()
  let session: ort.InferenceSession | undefined
  try {
    session = await withTimeout(
      ort.InferenceSession.create(buildProbeModel(), { executionProviders: [name], logSeverityLevel: 3 }),
      PROBE_TIMEOUT_MS,
      `creating a ${name} session`,
    )
    const x = Float32Array.from([1, -2, 0.5, 3])
    const feeds = { x: new ort.Tensor('float32', x, [...PROBE_SHAPE]) }
    const out = await withTimeout(session.run(feeds), PROBE_TIMEOUT_MS, `running on ${name}`)
    const y = out.y?.data
    if (
      !(y instanceof Float32Array) ||
      y.length !== x.length ||
      y.some((v, i) => v !== 2 * (x[i] ?? Number.NaN))
    ) {
      return {
        name,
        available: false,
        error: 'the check graph ran but returned wrong numbers',
        probeMs: null,
      }
    }
    return {
      name,
      available: true,
      error: null,
      probeMs: Math.round((performance.now() - started) * 10) / 10,
    }
  } catch (err) {
    return { name, available: false, error: firstLine(err), probeMs: null }
  } finally {
    await session?.release().catch(() => undefined)
  }
}

export async function probeProviders(candidates: ExecutionProviderName[]): Promise<ProviderProbe[]> {
  const results: ProviderProbe[] = []
  // One at a time: GPU runtimes do not like being initialised concurrently.
  for (const name of candidates) results.push(await probeProvider(name))
  return results
}

/** The preferred provider if it works, otherwise the first that works in candidate order. */
export function chooseProvider(
  probes: ProviderProbe[],
  preference: ProviderPreference,
): ExecutionProviderName | null {
  if (preference !== 'auto') {
    const preferred = probes.find((p) => p.name === preference && p.available)
    if (preferred) return preferred.name
  }
  return probes.find((p) => p.available)?.name ?? null
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  const line = text.split('\n').find((l) => l.trim().length > 0) ?? 'unknown error'
  return line.length > 300 ? `${line.slice(0, 300)}…` : line
}

export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common
}
