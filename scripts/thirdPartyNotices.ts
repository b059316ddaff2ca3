/**
 * Collects the licences of everything DD Studio ships: the runtime dependencies (from package-lock.json) and
 * the packages bundled into the renderer. The About dialog shows the result; model and data licences join it
 * from each model pack's manifest.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface Notice {
  name: string
  version: string
  license: string
  text: string
}

/** Build-time packages whose code ends up inside the shipped bundles. */
const BUNDLED = ['react', 'react-dom', 'scheduler', 'tailwindcss', 'electron']

interface LockEntry {
  version?: string
  dev?: boolean
  license?: string
}

export function collectNotices(root: string): Notice[] {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>
  }
  const names = new Set<string>(BUNDLED)
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || entry.dev) continue
    names.add(key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length))
  }
  const notices: Notice[] = []
  for (const name of [...names].sort()) {
    const dir = path.join(root, 'node_modules', name)
    const pkgFile = path.join(dir, 'package.json')
    if (!fs.existsSync(pkgFile)) continue
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version?: string; license?: string }
    const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f))
    notices.push({
      name,
      version: pkg.version ?? 'unknown',
      license: pkg.license ?? 'see text',
      text: licenseFile
        ? fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim()
        : '(no licence file in the package)',
    })
  }
  return notices
}
