/**
 * Collects the licences of everything DD Studio ships: the runtime dependencies (from package-lock.json), the
 * packages bundled into the renderer and the data files taken from other packages (models/data). The About dialog shows the result; model and data licences join it
 * from each model pack's manifest.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface Notice {
  name: string
  version: string
  license: string
  text: string
  /** 'code' ships inside the app; 'data' is artwork the default model pack was trained on. */
  kind: 'code' | 'data'
}

/**
 * Emoji sets whose images trained the built-in model packs, and the emoji names and keywords that captioned them
 * for the text pack (the packs' manifests carry the same credits).
 */
const TRAINING_DATA: { name: string; credit: string }[] = [
  {
    name: '@iconify-json/fluent-emoji-flat',
    credit: 'Fluent Emoji (flat) by Microsoft Corporation, MIT licence.',
  },
  { name: '@iconify-json/fluent-emoji', credit: 'Fluent Emoji (3D) by Microsoft Corporation, MIT licence.' },
  { name: '@iconify-json/noto', credit: 'Noto Emoji by Google Inc., Apache License 2.0.' },
  {
    name: '@iconify-json/twemoji',
    credit:
      'Twemoji by Twitter, Inc and other contributors, licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/).',
  },
  {
    name: 'emojibase-data',
    credit:
      "Emoji names and keywords by Miles Johnson, MIT licence, built on the Unicode CLDR annotations (Unicode License v3). They caption the text pack's training images.",
  },
]

/**
 * Data files that ship with the app, each with a `source` (the package it was taken from, version, licence) and
 * the licence text beside it (`<name>.LICENSE`).
 */
const DATA_FILES = [{ file: 'models/data/imagenet1k-classes.json', title: 'ImageNet-1k class names' }]

interface DataSource {
  description: string
  package: string
  registry: string
  version: string
  license: string
  homepage: string
  wordnet?: string
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
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as {
      version?: string
      license?: string
      main?: string
    }
    const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f))
    notices.push({
      name,
      version: pkg.version ?? 'unknown',
      license: pkg.license ?? 'see text',
      text: licenseFile
        ? fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim()
        : reconstructedLicense(dir, pkg.license, pkg.main),
      kind: 'code',
    })
  }
  for (const { file, title } of DATA_FILES) {
    const full = path.join(root, file)
    if (!fs.existsSync(full)) continue
    const { source } = JSON.parse(fs.readFileSync(full, 'utf8')) as { source: DataSource }
    const licenseFile = full.replace(/\.json$/, '.LICENSE')
    const credit = [
      `${file}: ${source.description}`,
      `Taken from ${source.package} ${source.version} (${source.registry}, ${source.license}), ${source.homepage}.`,
      source.wordnet,
    ]
    notices.push({
      name: `${title} (${source.package})`,
      version: source.version,
      license: source.license,
      text: [
        credit.filter((line) => line !== undefined).join('\n'),
        fs.existsSync(licenseFile) ? fs.readFileSync(licenseFile, 'utf8').trim() : '',
      ]
        .filter((part) => part !== '')
        .join('\n\n'),
      kind: 'code',
    })
  }
  for (const { name, credit } of TRAINING_DATA) {
    const pkgFile = path.join(root, 'node_modules', name, 'package.json')
    if (!fs.existsSync(pkgFile)) continue
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version?: string; license?: string }
    notices.push({
      name,
      version: pkg.version ?? 'unknown',
      license: pkg.license ?? 'see text',
      text: credit,
      kind: 'data',
    })
  }
  return notices
}

/**
 * Some packages (onnxruntime's npm packages among them) ship no licence file. For MIT, the licence text is
 * standard; the copyright line comes from the header of the package's own entry file.
 */
function reconstructedLicense(dir: string, license: string | undefined, main: string | undefined): string {
  const entry = path.join(dir, main ?? 'index.js')
  const header = fs.existsSync(entry) ? fs.readFileSync(entry, 'utf8').slice(0, 2000) : ''
  const copyright = /Copyright \(c\)[^\n*]*/i.exec(header)?.[0]?.trim()
  if (license !== 'MIT' || !copyright)
    return `Licensed under ${license ?? 'an unstated licence'}; the package ships no licence text.`
  return `MIT License

${copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`
}
