/**
 * The desktop app's trash (SystemTrash) under the gallery service, on real files and real SQLite: deletes
 * stay undoable in the app's trash folder while the undo lasts, then go to the system trash, after the undo
 * time and when the app closes. The system trash is Electron's shell.trashItem in the app; here it is a fake
 * function that moves the file into a folder of its own (or refuses), since Electron cannot run in the tests.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { galleryPaths } from '../../main/gallery/galleryFiles.ts'
import { SYSTEM_TRASH_UNDO_MS, SystemTrash } from '../../main/gallery/trash.ts'
import { GalleryService } from '../../main/services/galleryService.ts'
import { filesIn, makePng } from '../support/gallery.ts'
import { tempDir } from '../support/testApp.ts'

const MINUTE = 60_000
const IDS = ['2026-03-14/092653-emoji32-1step-42.png', '2026-03-14/092653-emoji32-1step-43.png']

interface Setup {
  root: string
  gallery: GalleryService
  /** What reached the fake system trash: the path it was handed, and whether the file was there then. */
  handed: { file: string; existed: boolean }[]
  /** The fake system trash's own folder. */
  osTrash: string
  logs: string[]
  advance(ms: number): void
  /** Points the gallery folder setting elsewhere (the service follows it from call to call). */
  useFolder(dir: string): void
}

/** A gallery with IDS in it, a SystemTrash whose trashItem is `refuse`-able, and a clock the test moves. */
async function setup(options: { refuse?: boolean; root?: string } = {}): Promise<Setup> {
  const root = options.root ?? tempDir('systrash')
  if (!options.root) {
    for (const [i, id] of IDS.entries()) {
      fs.mkdirSync(path.dirname(path.join(root, id)), { recursive: true })
      fs.writeFileSync(path.join(root, id), makePng({ seed: 42 + i }))
    }
  }
  const osTrash = tempDir('systrash-os')
  const handed: Setup['handed'] = []
  const logs: string[] = []
  let now = Date.UTC(2026, 2, 14, 9, 26, 53)
  let folder = root
  const warn = (message: string) => logs.push(`warn: ${message}`)
  const trash = new SystemTrash({
    trashItem: async (file) => {
      handed.push({ file, existed: fs.existsSync(file) })
      if (options.refuse) throw new Error('no trash on this volume')
      fs.renameSync(file, path.join(osTrash, path.basename(file)))
    },
    warn,
  })
  const gallery = new GalleryService({
    galleryDir: () => folder,
    log: (level, message) => logs.push(`${level}: ${message}`),
    onChange: () => undefined,
    rescanIntervalMs: 0,
    now: () => new Date(now),
    trash,
  })
  await gallery.list({})
  return {
    root,
    gallery,
    handed,
    osTrash,
    logs,
    advance: (ms) => {
      now += ms
    },
    useFolder: (dir) => {
      folder = dir
    },
  }
}

function appTrash(root: string): string[] {
  const dir = galleryPaths(root).trash
  if (!fs.existsSync(dir)) return []
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort()
}

describe('the system trash of the desktop app', () => {
  it('keeps a delete undoable before the undo time runs out, and hands nothing to the system trash', async () => {
    const { root, gallery, handed } = await setup()
    const { undoToken, deleted } = await gallery.delete([IDS[0] as string])
    expect(deleted).toEqual([IDS[0]])
    expect(filesIn(root)).toEqual([IDS[1]])
    expect(appTrash(root)).toEqual([`${undoToken}/${IDS[0]}`])
    await gallery.expireUndo()
    expect(handed).toEqual([])
    const restored = await gallery.undoDelete(undoToken)
    expect(restored.map((i) => i.id)).toEqual([IDS[0]])
    expect(filesIn(root)).toEqual(IDS)
    await gallery.close()
    expect(handed).toEqual([])
    expect(appTrash(root)).toEqual([])
  })

  it('after the undo time, hands the files to the system trash from their place in the gallery', async () => {
    const { root, gallery, handed, osTrash, advance } = await setup()
    const { undoToken } = await gallery.delete([...IDS])
    // One minute before the time is up, nothing has gone yet.
    advance(SYSTEM_TRASH_UNDO_MS - MINUTE)
    await gallery.expireUndo()
    expect(handed).toEqual([])
    advance(MINUTE)
    await gallery.expireUndo()
    // Each file was put back in the gallery and handed over from there, so the system's "put back" returns it
    // to the gallery folder.
    expect(handed).toEqual(IDS.map((id) => ({ file: path.join(root, ...id.split('/')), existed: true })))
    expect(fs.readdirSync(osTrash).sort()).toEqual(IDS.map((id) => path.basename(id)))
    expect(filesIn(root)).toEqual([])
    expect(appTrash(root)).toEqual([])
    expect(fs.existsSync(path.join(galleryPaths(root).trash, undoToken))).toBe(false)
    await expect(gallery.undoDelete(undoToken)).rejects.toThrow(/unknown or already used.*30 minutes/)
    expect((await gallery.list({})).total).toBe(0)
    await gallery.close()
    expect(handed).toHaveLength(2)
  })

  it('an undo asked for after the time ran out (before the timer) refuses, and the files go', async () => {
    const { root, gallery, handed, advance } = await setup()
    const { undoToken } = await gallery.delete([IDS[0] as string])
    advance(SYSTEM_TRASH_UNDO_MS + MINUTE)
    await expect(gallery.undoDelete(undoToken)).rejects.toThrow(/can no longer be undone/)
    expect(handed.map((h) => h.file)).toEqual([path.join(root, ...(IDS[0] as string).split('/'))])
    expect(appTrash(root)).toEqual([])
    await gallery.close()
  })

  it('hands every delete still undoable to the system trash when the app closes', async () => {
    const { root, gallery, handed, osTrash } = await setup()
    const first = await gallery.delete([IDS[0] as string])
    const second = await gallery.delete([IDS[1] as string])
    expect(appTrash(root)).toEqual([`${first.undoToken}/${IDS[0]}`, `${second.undoToken}/${IDS[1]}`].sort())
    await gallery.close()
    expect(handed.map((h) => h.file)).toEqual(IDS.map((id) => path.join(root, ...id.split('/'))))
    expect(fs.readdirSync(osTrash).sort()).toEqual(IDS.map((id) => path.basename(id)))
    expect(filesIn(root)).toEqual([])
    expect(appTrash(root)).toEqual([])
  })

  it('keeps what the system trash refuses in the app trash, with a warning; the next open retries', async () => {
    const refused = await setup({ refuse: true })
    const { undoToken } = await refused.gallery.delete([IDS[0] as string])
    await refused.gallery.close()
    expect(refused.handed).toHaveLength(1)
    // Not left in the gallery (it was put back only to be handed over), nor lost: in the app's trash.
    expect(filesIn(refused.root)).toEqual([IDS[1]])
    expect(appTrash(refused.root)).toEqual([`${undoToken}/${IDS[0]}`])
    expect(refused.logs.join('\n')).toMatch(
      /warn: could not move .* to the system trash \(no trash on this volume\)/,
    )

    // The next session finds the lapsed delete when it opens the folder, and hands it over then.
    const entry = path.join(galleryPaths(refused.root).trash, undoToken)
    const old = new Date(Date.now() - SYSTEM_TRASH_UNDO_MS - MINUTE)
    fs.utimesSync(entry, old, old)
    const next = await setup({ root: refused.root })
    expect(next.handed.map((h) => h.file)).toEqual([
      path.join(refused.root, ...(IDS[0] as string).split('/')),
    ])
    expect(fs.readdirSync(next.osTrash)).toEqual([path.basename(IDS[0] as string)])
    expect(appTrash(refused.root)).toEqual([])
    expect((await next.gallery.list({})).items.map((i) => i.id)).toEqual([IDS[1]])
    await next.gallery.close()
  })

  it('leaves a delete whose undo still lasts alone when its folder is opened again', async () => {
    const { root, gallery, handed, useFolder } = await setup()
    const { undoToken } = await gallery.delete([IDS[0] as string])
    useFolder(tempDir('systrash-other'))
    await gallery.list({})
    // Back to the first folder: opening it sweeps the trash, which must not take the pending delete.
    useFolder(root)
    await gallery.list({})
    expect(handed).toEqual([])
    expect(appTrash(root)).toEqual([`${undoToken}/${IDS[0]}`])
    expect((await gallery.undoDelete(undoToken)).map((i) => i.id)).toEqual([IDS[0]])
    await gallery.close()
    expect(handed).toEqual([])
  })
})
