/**
 * Settings persisted as JSON in the app's data folder. The file is user data from outside: it is validated
 * on load, and a damaged file is set aside (never silently overwritten) while the app runs on defaults.
 */
import fs from 'node:fs/promises'
import { SettingsSchema } from '../../common/contract.ts'
import type { Settings } from '../../common/types.ts'
import { writeFileAtomic } from '../app/atomicWrite.ts'
import { describeIssues } from '../ipc/dispatcher.ts'

export class SettingsService {
  private current: Settings
  private writing: Promise<void> = Promise.resolve()

  private constructor(
    private readonly file: string,
    initial: Settings,
  ) {
    this.current = initial
  }

  static async open(
    file: string,
    defaults: Settings,
    warn: (message: string) => void,
  ): Promise<SettingsService> {
    let raw: string | null = null
    try {
      raw = await fs.readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (raw === null) return new SettingsService(file, defaults)

    let problem: string
    try {
      const parsed = SettingsSchema.partial().safeParse(JSON.parse(raw))
      if (parsed.success) return new SettingsService(file, { ...defaults, ...parsed.data })
      problem = describeIssues(parsed.error)
    } catch (err) {
      problem = `not valid JSON (${(err as Error).message})`
    }
    const aside = `${file}.damaged-${Date.now()}`
    await fs.rename(file, aside)
    warn(`settings file ${file} was unreadable: ${problem}; kept it as ${aside} and started from defaults`)
    return new SettingsService(file, defaults)
  }

  get(): Settings {
    return { ...this.current }
  }

  /** Applies an already validated patch and persists it; writes are serialised so the last one wins on disk. */
  async update(patch: Partial<Settings>): Promise<Settings> {
    const next = SettingsSchema.parse({ ...this.current, ...patch })
    this.current = next
    const write = this.writing.then(() => writeFileAtomic(this.file, `${JSON.stringify(next, null, 2)}\n`))
    this.writing = write.catch(() => undefined)
    await write
    return this.get()
  }
}
