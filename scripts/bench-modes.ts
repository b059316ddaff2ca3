/**
 * The engine benchmark of `npm run bench` (main/bench/runBench.ts) on one pack folder, for chosen modes and
 * counts, straight from the sources: no build, so it runs where only Node and onnxruntime-node are (a GPU box).
 *
 *   node scripts/bench-modes.ts --pack-dir DIR [--modes 1step,2step,ar] [--ep auto|cpu|webgpu|...]
 *     [--dd-samples 20] [--teacher-samples 3] [--warm-up 2] [--memory-images 5] [--out FILE] [--json]
 *
 * `npm run bench` takes every mode at batch sizes 1, 8 and 32, which on a B-sized pack runs for most of an hour
 * on a laptop CPU; this takes batch 1 of the modes named. The pack is read and checked the way the app reads it
 * (loadPack: schema and sha256 of every file), the providers are probed and ordered as the bench does, and the
 * result is the bench's JSON (the same schema), printed as the bench's table.
 */
import { register } from 'node:module'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { EXECUTION_PROVIDERS, type ExecutionProviderName, type ProviderPreference } from '../common/types.ts'

// The app's sources import package.json by name (`import { version } from '../../package.json'`), which the
// bundler resolves; plain Node wants an import attribute and has no named exports for JSON. This hook gives a
// package.json imported without one as a module with one named export per key.
const JSON_NAMED_EXPORTS = `
export async function load(url, context, nextLoad) {
  if (!url.endsWith('/package.json') || context.importAttributes?.type !== undefined) return nextLoad(url, context)
  const loaded = await nextLoad(url, { ...context, importAttributes: { type: 'json' } })
  const pkg = JSON.parse(String(loaded.source))
  const lines = Object.keys(pkg).map((k, i) => 'const v' + i + ' = pkg[' + JSON.stringify(k) + ']; export { v' + i + ' as ' + JSON.stringify(k) + ' };')
  return { format: 'module', shortCircuit: true, source: 'const pkg = ' + JSON.stringify(pkg) + '; export default pkg;\\n' + lines.join('\\n') }
}`
register(`data:text/javascript,${encodeURIComponent(JSON_NAMED_EXPORTS)}`)

const { BENCH_MODES } = await import('../main/bench/benchResult.ts')
const { runBenchmark } = await import('../main/bench/runBench.ts')
const { formatReport } = await import('../main/bench/report.ts')
const { writeBenchFile } = await import('../main/bench/benchStore.ts')
const { loadPack, sha256File } = await import('../main/engine/packs/loadPack.ts')
const { chooseProvider, isCudaInstalled, probeProviders, providerCandidates } = await import(
  '../main/engine/providers.ts'
)

type Mode = (typeof BENCH_MODES)[number]

const USAGE = `Usage: node scripts/bench-modes.ts --pack-dir DIR [--modes ${BENCH_MODES.join(',')}] [--ep auto|${EXECUTION_PROVIDERS.join('|')}]
  [--dd-samples N] [--teacher-samples N] [--warm-up N] [--memory-images N] [--out FILE] [--json]`

const log = (message: string) => console.error(`bench-modes: ${message}`)

function positive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new Error(`--${flag} must be a whole number >= 1, got '${value}'`)
  return Number(value)
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    strict: true,
    options: {
      'pack-dir': { type: 'string' },
      modes: { type: 'string', default: '1step,2step,ar' },
      ep: { type: 'string', default: 'auto' },
      'dd-samples': { type: 'string' },
      'teacher-samples': { type: 'string' },
      'warm-up': { type: 'string' },
      'memory-images': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (!values['pack-dir']) throw new Error('--pack-dir is required')
  const modes = values.modes.split(',').map((m) => m.trim()) as Mode[]
  const unknown = modes.filter((m) => !BENCH_MODES.includes(m))
  if (unknown.length > 0)
    throw new Error(`--modes: unknown mode(s) ${unknown.join(', ')}; known: ${BENCH_MODES.join(', ')}`)
  if (!modes.includes('1step'))
    throw new Error("--modes must include 1step (the reference of the bench's ratios)")
  const requested = values.ep as ProviderPreference
  if (requested !== 'auto' && !EXECUTION_PROVIDERS.includes(requested)) {
    throw new Error(`--ep must be auto or one of ${EXECUTION_PROVIDERS.join(', ')}, got '${values.ep}'`)
  }
  const counts = {
    ddLatency: positive('dd-samples', values['dd-samples'], 20),
    teacherLatency: positive('teacher-samples', values['teacher-samples'], 3),
    warmUp: positive('warm-up', values['warm-up'], 2),
    // Batch 1 only: the throughput rows come from the latency runs.
    ddThroughputImages: 1,
    teacherThroughputImages: 1,
    batchSizes: [],
    memoryImages: positive('memory-images', values['memory-images'], 5),
  }

  const dir = path.resolve(values['pack-dir'])
  log(`checking the pack in ${dir}`)
  const pack = await loadPack(dir)
  if (!pack.ok) throw new Error(`${dir} is not a usable pack:\n  ${pack.problems.join('\n  ')}`)
  const manifestSha256 = await sha256File(path.join(dir, 'manifest.json'))

  // As npm run bench: a named provider first (cpu is appended by the sessions), or the probes' choice for auto.
  let providers: ExecutionProviderName[] = requested === 'auto' ? [] : [requested]
  let probes = null
  if (requested === 'auto') {
    log('probing execution providers')
    probes = await probeProviders(providerCandidates(process.platform, isCudaInstalled()))
    const preferred = chooseProvider(probes, 'auto')
    const working = probes.filter((p) => p.available).map((p) => p.name)
    providers = preferred ? [preferred, ...working.filter((p) => p !== preferred)] : working
  }
  const result = await runBenchmark({
    pack: { dir, manifest: pack.manifest, manifestSha256 },
    requested,
    providers,
    probes,
    counts,
    modes,
    onProgress: log,
  })
  if (values.json) console.log(JSON.stringify(result, null, 2))
  else console.log(formatReport(result))
  if (values.out) {
    await writeBenchFile(path.resolve(values.out), result)
    log(`wrote ${values.out}`)
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench-modes: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    process.exit(1)
  },
)
