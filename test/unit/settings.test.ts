import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Settings } from '../../common/types.ts'
import { writeFileAtomic } from '../../main/app/atomicWrite.ts'
import { SettingsService } from '../../main/services/settingsService.ts'
import { tempDir } from '../support/testApp.ts'

const defaults: Settings = {
  theme: 'dark',
  galleryDir: '/tmp/gallery',
  modelsDir: '/tmp/models',
  executionProvider: 'auto',
  defaultMode: '1step',
}

describe('settings', () => {
  it('start from defaults, persist updates, and read them back', async () => {
    const file = path.join(tempDir('settings'), 'settings.json')
    const first = await SettingsService.open(file, defaults, () => undefined)
    expect(first.get()).toEqual(defaults)
    await first.update({ theme: 'light', executionProvider: 'cpu' })
    const again = await SettingsService.open(file, defaults, () => undefined)
    expect(again.get()).toEqual({ ...defaults, theme: 'light', executionProvider: 'cpu' })
  })

  it('an older file without the newer keys loads, each missing key at its default', async () => {
    const file = path.join(tempDir('settings'), 'settings.json')
    const older = { theme: 'light', galleryDir: '/srv/g', modelsDir: '/srv/m', executionProvider: 'cpu' }
    fs.writeFileSync(file, JSON.stringify(older))
    const warnings: string[] = []
    const service = await SettingsService.open(file, defaults, (m) => warnings.push(m))
    expect(service.get()).toEqual({ ...older, defaultMode: '1step' })
    expect(warnings).toEqual([])
    await service.update({ defaultMode: 'hybrid' })
    const again = await SettingsService.open(file, defaults, () => undefined)
    expect(again.get()).toEqual({ ...older, defaultMode: 'hybrid' })
  })

  it('a damaged file is kept aside with a warning, never overwritten silently', async () => {
    const dir = tempDir('settings')
    const file = path.join(dir, 'settings.json')
    for (const damaged of ['{ not json', '{"theme": "purple"}', '{"defaultMode": "compare"}', '[]']) {
      fs.writeFileSync(file, damaged)
      const warnings: string[] = []
      const service = await SettingsService.open(file, defaults, (m) => warnings.push(m))
      expect(service.get()).toEqual(defaults)
      expect(warnings[0]).toContain('unreadable')
      const aside = fs.readdirSync(dir).filter((f) => f.startsWith('settings.json.damaged-'))
      expect(aside.length).toBeGreaterThan(0)
      expect(fs.existsSync(file)).toBe(false)
      for (const f of aside) fs.rmSync(path.join(dir, f))
    }
  })

  it('concurrent updates all land and the file is always complete JSON', async () => {
    const file = path.join(tempDir('settings'), 'settings.json')
    const service = await SettingsService.open(file, defaults, () => undefined)
    await Promise.all([
      service.update({ theme: 'light' }),
      service.update({ executionProvider: 'cpu' }),
      service.update({ galleryDir: '/srv/images' }),
    ])
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      ...defaults,
      theme: 'light',
      executionProvider: 'cpu',
      galleryDir: '/srv/images',
    })
  })
})

describe('atomic writes', () => {
  it('replace the whole file and leave no temporary files behind', async () => {
    const dir = tempDir('atomic')
    const file = path.join(dir, 'data.json')
    await writeFileAtomic(file, 'first')
    await writeFileAtomic(file, 'second')
    expect(fs.readFileSync(file, 'utf8')).toBe('second')
    expect(fs.readdirSync(dir)).toEqual(['data.json'])
  })
})
