/**
 * `npm run generate`: image generation from the command line, through the same app core, job queue and
 * inference host as the desktop app. Writes one PNG per image (with its generation metadata) and prints the
 * timings of each.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { GenerateRequest, GenerationResult, JobSummary } from '../../common/generation.ts'
import { writeFileAtomic } from '../app/atomicWrite.ts'
import { createApp } from '../app/createApp.ts'
import { defaultDataDir } from '../app/dataDir.ts'
import { childProcessLauncher, StderrTail } from '../host/childProcessLauncher.ts'
import { GENERATE_USAGE, type GenerateArgs, inFlagTerms, parseGenerateArgs } from './generateArgs.ts'

/**
 * The request of the command line. `textPack`: whether the pack it names (or the default pack) reads a prompt,
 * so that the default class 0 is not sent to it (an explicit --class is, and is refused by name).
 */
function requestOf(args: GenerateArgs, textPack: boolean): GenerateRequest {
  const teacher = {
    ...(args.temperature !== null ? { temperature: args.temperature } : {}),
    ...(args.topK !== null ? { topK: args.topK } : {}),
    ...(args.topP !== null ? { topP: args.topP } : {}),
    ...(args.cfg !== null ? { cfgScale: args.cfg } : {}),
  }
  return {
    ...(args.pack ? { packId: args.pack } : {}),
    mode: args.mode,
    ...(args.class !== null && (args.classGiven || !textPack) ? { class: args.class } : {}),
    ...(args.prompt !== null ? { prompt: args.prompt } : {}),
    ...(args.negativePrompt !== null ? { negativePrompt: args.negativePrompt } : {}),
    ...(args.seed !== null ? { seed: args.seed } : {}),
    n: args.n,
    ...(args.tList ? { tList: args.tList } : {}),
    ...(args.hybrid
      ? {
          hybrid: {
            start: args.hybrid[0],
            end: args.hybrid[1],
            ...(args.hybrid[2] !== undefined ? { splitT: args.hybrid[2] } : {}),
          },
        }
      : {}),
    ...(Object.keys(teacher).length ? { teacher } : {}),
  }
}

function fileName(result: GenerationResult, mode: string, seed: number): string {
  return `${result.packId}-${conditionPart(result)}-${mode}-seed${seed}.png`
}

/** "c12" for a class, or the prompt's first words ("red-heart-with"; "unconditional" for an empty prompt). */
function conditionPart(result: GenerationResult): string {
  if (result.classIndex !== null) return `c${result.classIndex}`
  const words = (result.prompt?.text ?? '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '')
  const slug = words.join('-').slice(0, 40).replace(/-+$/, '')
  return slug === '' ? 'unconditional' : slug
}

async function main(): Promise<number> {
  let args: GenerateArgs
  try {
    args = parseGenerateArgs(process.argv.slice(2))
  } catch (err) {
    console.error(`dd-studio generate: ${(err as Error).message}\n\n${GENERATE_USAGE}`)
    return 2
  }
  if (args.help) {
    console.log(GENERATE_USAGE)
    return 0
  }

  const hostStderr = new StderrTail()
  const app = await createApp({
    shell: 'cli',
    dataDir: args.dataDir ?? defaultDataDir(),
    launcher: childProcessLauncher(path.join(import.meta.dirname, 'host.js'), hostStderr.push),
  })
  try {
    const packs = app.packs.list()
    const target = args.pack ? packs.find((p) => p.id === args.pack) : packs.find((p) => p.isDefault)
    const request = requestOf(args, target?.conditioning === 'text')
    const submitted = await app.dispatch('jobs.submit', request, { transport: 'cli' })
    if (!submitted.ok) {
      console.error(`dd-studio generate: ${inFlagTerms(submitted.error.message)}`)
      return submitted.error.code === 'invalid_input' || submitted.error.code === 'not_found' ? 2 : 1
    }
    const job = submitted.value as JobSummary
    const what = job.prompt !== null ? `prompt ${JSON.stringify(job.prompt)}` : `class '${job.className}'`
    console.log(
      `job ${job.jobId}: pack ${job.packId}, ${what}, mode ${job.mode}, seed ${job.seed}, ${job.n} image(s)`,
    )
    const done = await app.dispatch('jobs.wait', { jobId: job.jobId }, { transport: 'cli' })
    if (!done.ok) {
      console.error(`dd-studio generate: ${done.error.message}`)
      if (hostStderr.text()) console.error(`[host] last output:\n${hostStderr.text()}`)
      return 1
    }
    const result = done.value as GenerationResult
    await fs.mkdir(args.out, { recursive: true })
    for (const note of result.promptNotes) console.log(`note: ${note}`)
    console.log(`execution provider ${result.provider}`)
    if (result.loadMs >= 1)
      console.log(`sessions loaded in ${result.loadMs.toFixed(0)} ms (not part of the timings below)`)
    for (const image of result.images) {
      const file = path.join(args.out, fileName(result, image.mode, image.seed))
      await writeFileAtomic(file, image.png)
      const t = image.timings
      const agree = image.agreement
        ? `, tokens = exact teacher ${(100 * image.agreement.identical).toFixed(1)}%`
        : ''
      console.log(
        `${path.relative(process.cwd(), file)}: ${image.mode} seed ${image.seed}: tokens ${t.tokenMs.toFixed(2)} ms, decode ${t.decodeMs.toFixed(2)} ms, other ${t.otherMs.toFixed(2)} ms, total ${t.totalMs.toFixed(2)} ms${agree}`,
      )
    }
    return 0
  } finally {
    await app.close()
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('dd-studio generate failed:', err)
    process.exit(1)
  },
)
