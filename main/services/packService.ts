/**
 * The packs as the app sees them: the registry (built-in packs and the user's models folder), the default pack,
 * and the summaries the UI lists. The job service asks it for a ready pack by id.
 */
import type { PackLicense, PackSummary } from '../../common/generation.ts'
import type { PromptCheck } from '../../common/prompt.ts'
import { AppError } from '../../common/result.ts'
import { classesOf, type PackManifest } from '../engine/packs/manifest.ts'
import { type PackEntry, PackRegistry } from '../engine/packs/registry.ts'
import { stepUnitsOf } from '../engine/steps.ts'
import type { WordTokenizer } from '../engine/text/tokenizer.ts'
import { type Confined, resolveConfined } from '../security/confinedPath.ts'
import type { PackSource } from './jobService.ts'

/** The pack used when a request names none: the embedded default if present, else the first ready one. */
export const DEFAULT_PACK_ID = 'emoji32'

export class PackService implements PackSource {
  private constructor(private readonly registry: PackRegistry) {}

  static async open(options: {
    builtInDirs: string[]
    userDir: string
    log: (level: 'info' | 'warn' | 'error', message: string) => void
    onChange?: (packs: PackSummary[]) => void
    watch?: boolean
  }): Promise<PackService> {
    const registry = new PackRegistry({
      builtInDirs: options.builtInDirs,
      userDir: options.userDir,
      log: options.log,
    })
    const service = new PackService(registry)
    await registry.scan()
    if (options.watch) registry.watch(() => options.onChange?.(service.list()))
    return service
  }

  list(): PackSummary[] {
    const entries = this.registry.list()
    const fallback = this.defaultId(entries)
    return entries.map((e) => summarize(e, e.id === fallback))
  }

  async rescan(): Promise<PackSummary[]> {
    await this.registry.scan()
    return this.list()
  }

  async import(source: string): Promise<PackSummary> {
    const entry = await this.registry.importPack(source)
    return summarize(entry, entry.id === this.defaultId(this.registry.list()))
  }

  async ready(id: string | undefined): Promise<{
    dir: string
    manifest: PackEntry['manifest'] & object
    manifestSha256: string
    tokenizer: WordTokenizer | null
  }> {
    const packId = id ?? this.defaultId(this.registry.list())
    if (!packId)
      throw new AppError('unavailable', 'no usable model pack was found (built-in or in the models folder)')
    const entry = this.registry.get(packId)
    if (entry.status !== 'ready' || !entry.manifest || !entry.manifestSha256) {
      throw new AppError('unavailable', `pack '${packId}' cannot be used: ${entry.problems.join('; ')}`)
    }
    return {
      dir: entry.dir,
      manifest: entry.manifest,
      manifestSha256: entry.manifestSha256,
      tokenizer: entry.tokenizer,
    }
  }

  /**
   * What a text pack's tokenizer makes of a prompt (the default pack when no id is given): the ids, the words
   * kept, unknown words with the nearest known one, words cut off and characters ignored, as the job will see it.
   */
  async checkPrompt(id: string | undefined, prompt: string): Promise<PromptCheck & { maxTokens: number }> {
    const pack = await this.ready(id)
    if (!pack.tokenizer)
      throw new AppError(
        'invalid_input',
        `packId: pack '${pack.manifest.id}' draws classes, not text prompts; only a text pack checks a prompt`,
      )
    return { ...pack.tokenizer.check(prompt), maxTokens: pack.tokenizer.maxTokens }
  }

  /**
   * The example sheet of the ready pack that `urlPath` names by id (what /pack-examples/<id> and
   * dd-gallery://pack-examples/<id> carry). Only ever the one file the pack's checked manifest names, resolved
   * inside the pack's folder, so no path from a URL ever reaches the file system.
   */
  async examplesSheet(urlPath: string): Promise<Confined> {
    const id = urlPath.replace(/^\/+/, '')
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) return { ok: false, status: 404, reason: 'no such pack' }
    const entry = this.registry.list().find((e) => e.id === id && e.status === 'ready')
    if (!entry) return { ok: false, status: 404, reason: `no usable pack '${id}'` }
    if (!entry.examples) return { ok: false, status: 404, reason: `pack '${id}' has no example images` }
    return resolveConfined(entry.dir, entry.examples.file, ['.png'])
  }

  close(): void {
    this.registry.close()
  }

  private defaultId(entries: PackEntry[]): string | null {
    const ready = entries.filter((e) => e.status === 'ready')
    return (
      (ready.find((e) => e.id === DEFAULT_PACK_ID) ?? ready.find((e) => e.source === 'built-in') ?? ready[0])
        ?.id ?? null
    )
  }
}

function summarize(entry: PackEntry, isDefault: boolean): PackSummary {
  const m = entry.manifest
  return {
    id: entry.id,
    source: entry.source,
    status: entry.status,
    problems: entry.problems,
    warnings: entry.warnings,
    dir: entry.dir,
    name: m?.name ?? null,
    version: m?.version ?? null,
    description: m?.description ?? null,
    licenses: m ? m.licenses.map(licenseOf) : [],
    conditioning: m ? m.conditioning.kind : null,
    classes: m
      ? classesOf(m).map((c) => ({
          index: c.index,
          name: c.name,
          ...(c.synonyms?.length ? { synonyms: c.synonyms } : {}),
        }))
      : [],
    text:
      m?.conditioning.kind === 'text'
        ? {
            maxTokens: m.conditioning.maxTokens,
            unconditional: m.conditioning.unconditional,
            negativePrompt: m.conditioning.negativePrompt,
            examplePrompts: m.conditioning.examplePrompts,
          }
        : null,
    image: m ? { width: m.image.width, height: m.image.height } : null,
    tokens: m?.tokens.count ?? null,
    family: m?.family ?? null,
    steps: m ? stepUnitsOf(m) : null,
    defaults: m ? defaultsOf(m) : null,
    // Only a ready pack's sheet is served (a pack that loses a duplicate-id conflict keeps its manifest).
    examples:
      entry.status === 'ready' && entry.examples
        ? {
            perClass: entry.examples.perClass,
            cell: entry.examples.cell,
            rows: entry.examples.rows,
            version: entry.examples.sha256.slice(0, 16),
          }
        : null,
    isDefault,
  }
}

/** A pack's default settings as the Generate form starts from them (the values plan.ts fills in). */
function defaultsOf(m: PackManifest): NonNullable<PackSummary['defaults']> {
  const { hybrid, hybridPresets = [], teacher, splitT } = m.sampling
  const preset = hybridPresets.find((p) => p.start === hybrid.start && p.end === hybrid.end)
  return {
    tLists: m.sampling.tLists,
    splitT,
    hybrid: { start: hybrid.start, end: hybrid.end, splitT: preset?.splitT ?? splitT },
    hybridPresets: hybridPresets.map((p) => ({
      steps: p.steps,
      start: p.start,
      end: p.end,
      splitT: p.splitT,
    })),
    // Only what a request can set: cfgSchedule is the pack's own.
    teacher: {
      cfgScale: teacher.cfgScale,
      temperature: teacher.temperature,
      topK: teacher.topK > 0 ? teacher.topK : m.tokens.codebookSize,
      topP: teacher.topP,
    },
  }
}

/** The manifest's licence entry as the UI shows it; extra keys are allowed there, so only strings are taken. */
function licenseOf(entry: PackManifest['licenses'][number]): PackLicense {
  const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null)
  return {
    license: entry.license,
    attribution: text(entry.attribution),
    source: text(entry.package) ?? text(entry.name),
    url: text(entry.licenseUrl),
  }
}
