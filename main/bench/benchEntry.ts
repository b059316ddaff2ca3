/**
 * `npm run bench`: the engine's speed and memory on this machine, measured in this process. The pack is found
 * the way the app finds it (built-in packs and the models folder of the settings) and the provider chosen the
 * way the inference host chooses it, but generation runs here, with no host and no IPC, so the numbers are
 * the engine's own. Prints a table (or JSON with --json), writes <data dir>/bench/latest.json, and keeps the
 * first run on this machine as first-run.json.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { SettingsSchema } from '../../common/contract.ts'
import { AppError } from '../../common/result.ts'
import type { ExecutionProviderName, ProviderPreference } from '../../common/types.ts'
import { BUILT_IN_PACKS_DIR } from '../app/appMeta.ts'
import { defaultDataDir } from '../app/dataDir.ts'
import { chooseProvider, isCudaInstalled, probeProviders, providerCandidates } from '../engine/providers.ts'
import { PackService } from '../services/packService.ts'
import { BENCH_USAGE, type BenchArgs, countsFor, parseBenchArgs } from './benchArgs.ts'
import type { BenchResult } from './benchResult.ts'
import { recordFirstRun, writeBenchFile, writeLatest } from './benchStore.ts'
import { formatReport } from './report.ts'
import { type BenchPack, runBenchmark } from './runBench.ts'

const log = (message: string) => console.error(`bench: ${message}`)

/**
 * The two settings the benchmark needs, read without SettingsService: that one sets a damaged file aside,
 * and a benchmark should not change the app's files. A bad or missing value means the app's default.
 */
async function readSettings(dataDir: string): Promise<{ modelsDir: string; preference: ProviderPreference }> {
  const defaults = { modelsDir: path.join(dataDir, 'models'), preference: 'auto' as ProviderPreference }
  const file = path.join(dataDir, 'settings.json')
  let raw: { modelsDir?: unknown; executionProvider?: unknown }
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8')) ?? {}
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      log(`${file} is unreadable (${(err as Error).message}); using the default settings`)
    return defaults
  }
  const modelsDir = SettingsSchema.shape.modelsDir.safeParse(raw.modelsDir)
  const preference = SettingsSchema.shape.executionProvider.safeParse(raw.executionProvider)
  return {
    modelsDir: modelsDir.success ? modelsDir.data : defaults.modelsDir,
    preference: preference.success ? preference.data : defaults.preference,
  }
}

async function findPack(id: string | null, modelsDir: string): Promise<BenchPack> {
  const packs = await PackService.open({
    builtInDirs: [BUILT_IN_PACKS_DIR],
    userDir: modelsDir,
    log: (level, message) => {
      if (level !== 'info') log(message)
    },
    watch: false,
  })
  try {
    const ready = await packs.ready(id ?? undefined)
    return { dir: ready.dir, manifest: ready.manifest, manifestSha256: ready.manifestSha256 }
  } finally {
    packs.close()
  }
}

/** The providers to try, in order: the named one, or the host's choice from real probes (auto or the setting). */
async function providerPlan(
  requested: ProviderPreference,
): Promise<Pick<Parameters<typeof runBenchmark>[0], 'providers' | 'probes'>> {
  if (requested !== 'auto') return { providers: [requested], probes: null }
  log('probing execution providers')
  const probes = await probeProviders(providerCandidates(process.platform, isCudaInstalled()))
  const preferred = chooseProvider(probes, requested)
  const working = probes.filter((p) => p.available).map((p) => p.name)
  const providers: ExecutionProviderName[] = preferred
    ? [preferred, ...working.filter((p) => p !== preferred)]
    : working
  return { providers, probes }
}

async function save(args: BenchArgs, dataDir: string, result: BenchResult): Promise<void> {
  const latest = await writeLatest(dataDir, result)
  log(`wrote ${latest}`)
  if (args.out && args.out !== latest) {
    await writeBenchFile(args.out, result)
    log(`wrote ${args.out}`)
  }
  const first = await recordFirstRun(dataDir, result)
  if (first.status === 'written') log(`recorded this run as the first on this machine: ${first.file}`)
  else if (first.status === 'kept')
    log(`first run on this machine: ${first.existing.createdAt} (${first.file})`)
  else log(`${first.error}; left as it is (delete it to record the next run as the first)`)
}

async function main(): Promise<number> {
  let args: BenchArgs
  try {
    args = parseBenchArgs(process.argv.slice(2))
  } catch (err) {
    console.error(`dd-studio bench: ${(err as Error).message}\n\n${BENCH_USAGE}`)
    return 2
  }
  if (args.help) {
    console.log(BENCH_USAGE)
    return 0
  }
  const dataDir = args.dataDir ?? defaultDataDir()
  const settings = await readSettings(dataDir)
  let pack: BenchPack
  try {
    pack = await findPack(args.pack, settings.modelsDir)
  } catch (err) {
    if (err instanceof AppError) {
      console.error(`dd-studio bench: ${err.message}`)
      return 2
    }
    throw err
  }
  const requested: ProviderPreference = args.ep ?? settings.preference
  const result = await runBenchmark({
    pack,
    requested,
    ...(await providerPlan(requested)),
    counts: countsFor(args.images),
    onProgress: log,
  })
  if (requested !== 'auto' && Object.values(result.provider.loaded).some((p) => p !== requested)) {
    log(`asked for ${requested}, but not every graph runs on it: these numbers are not ${requested}'s`)
  }
  if (args.json) console.log(JSON.stringify(result, null, 2))
  else console.log(formatReport(result))
  try {
    await save(args, dataDir, result)
  } catch (err) {
    // The numbers are printed already; a folder that cannot be written loses the files, not the run.
    log(`could not save the result: ${(err as Error).message}`)
    return 1
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('dd-studio bench failed:', err)
    process.exit(1)
  },
)
