/**
 * Stage 1 of the model pipeline: renders the emoji training set.
 *
 *   node models/dataset/render.ts --out <dir> [--max-per-class N] [--seed S] [--tones K]
 *
 * Four emoji sets from npm (Iconify JSON packages) draw the same concepts in four styles. A concept is an icon
 * name spelled identically in all four sets (plus skin-tone variants, whose spelling differs between Fluent and
 * Noto/Twemoji and is mapped here). Each concept gets one of 9 categories, taken from Fluent Flat's metadata and
 * applied by name to every style, so a class (style x category) means the same thing in every style.
 *
 * Output, both written under a temporary name and renamed when complete:
 *   <dir>/images.u8   N x 32 x 32 x 3 uint8, row-major RGB, alpha already composited onto BACKGROUND
 *   <dir>/index.json  labels, names, flip safety, sources with licences and attribution
 *
 * Deterministic: the same packages, seed and options give byte-identical files (no timestamps, a stable sort,
 * choices made by hashing names with the seed rather than by a stateful RNG).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { parseArgs } from 'node:util'

const require = createRequire(import.meta.url)
// resvg-js is CommonJS with a native addon; require() avoids relying on ESM named-export detection.
const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js')

const FORMAT = 'ddstudio-emoji-dataset'
const FORMAT_VERSION = 1
const SIZE = 32
/**
 * A light grey rather than pure white: white parts of emoji (eyes, clouds, white squares, the white flag)
 * keep a visible edge, and the image still reads as "emoji on a white page".
 */
const BACKGROUND: readonly [number, number, number] = [240, 240, 240]

/** Styles in their fixed label order (style id = index). */
interface StyleSource {
  id: string
  pkg: string
  /** How this set spells a skin-tone variant of a base name. */
  toneName: (base: string, tone: Tone) => string
  /** Credit line shown wherever images derived from this set are shown. */
  attribution: string
}

const TONES = ['light', 'medium-light', 'medium', 'medium-dark', 'dark'] as const
type Tone = (typeof TONES)[number]

const fluentTone = (base: string, tone: Tone): string => `${base}-${tone}`
const unicodeTone = (base: string, tone: Tone): string => `${base}-${tone}-skin-tone`

const STYLES: readonly StyleSource[] = [
  {
    id: 'fluent-flat',
    pkg: '@iconify-json/fluent-emoji-flat',
    toneName: fluentTone,
    attribution: 'Fluent Emoji (flat) by Microsoft Corporation, MIT licence',
  },
  {
    id: 'fluent-3d',
    pkg: '@iconify-json/fluent-emoji',
    toneName: fluentTone,
    attribution: 'Fluent Emoji (3D) by Microsoft Corporation, MIT licence',
  },
  {
    id: 'noto',
    pkg: '@iconify-json/noto',
    toneName: unicodeTone,
    attribution: 'Noto Emoji by Google Inc., Apache License 2.0',
  },
  {
    id: 'twemoji',
    pkg: '@iconify-json/twemoji',
    toneName: unicodeTone,
    attribution: 'Twemoji by Twitter, Inc and other contributors, CC-BY 4.0',
  },
]

/** The set whose metadata assigns categories; its names are applied to all four styles. */
const CATEGORY_SOURCE = '@iconify-json/fluent-emoji-flat'

/** Category labels in Unicode's group order (category id = index). The source must have exactly these. */
const CATEGORIES = [
  'Smileys & Emotion',
  'People & Body',
  'Animals & Nature',
  'Food & Drink',
  'Travel & Places',
  'Activities',
  'Objects',
  'Symbols',
  'Flags',
] as const

/**
 * Emoji whose meaning is text (letters, digits, CJK characters): at 32 px the glyphs turn to noise and a model
 * would learn blurry lettering. Matched on the concept name.
 */
const TEXT_LIKE_EXACT = new Set([
  'atm-sign',
  'back-arrow',
  'circled-m',
  'cl-button',
  'cool-button',
  'copyright',
  'end-arrow',
  'free-button',
  'heavy-dollar-sign',
  'hundred-points',
  'id-button',
  'information',
  'new-button',
  'ng-button',
  'no-one-under-eighteen',
  'ok-button',
  'on-arrow',
  'p-button',
  'registered',
  'repeat-single-button',
  'soon-arrow',
  'sos-button',
  'top-arrow',
  'trade-mark',
  'up-button',
  'vs-button',
  'water-closet',
  'zzz',
])
const TEXT_LIKE_PATTERNS: readonly RegExp[] = [
  /^keycap-/, // digits, #, *
  /^input-/, // ABCD, abcd, 1234, symbols
  /-blood-type$/, // A, B, AB, O buttons
  /^japanese-.*-button$/, // CJK ideographs in a square
]

function isTextLike(name: string): boolean {
  return TEXT_LIKE_EXACT.has(name) || TEXT_LIKE_PATTERNS.some((re) => re.test(name))
}

/**
 * A horizontal flip is a valid augmentation only where the mirror image is the same concept. It is not for
 * anything with a direction (arrows, left/right, clockwise, play/rewind, rising/falling charts, clock hands,
 * moon phases), with lettering or digits (buildings with signs, calendars, medals), or with a fixed
 * orientation by convention (flags, zodiac and religious symbols, check marks, gender signs).
 */
const NO_FLIP_WORDS: readonly string[] = [
  'left',
  'right',
  'arrow',
  'clockwise',
  'play',
  'reverse',
  'forward',
  'track',
  'rewind',
  'chart',
  'oclock',
  'thirty',
  'moon',
  'flag',
  'flags',
  'check',
  'sign',
  'calendar',
  'newspaper',
  'medal',
  'badge',
  'hospital',
  'bank',
  'hotel',
  'school',
  'post-office',
  'store',
  'keyboard',
  'ticket',
  'currency',
  'exclamation',
  'question',
  'curly-loop',
  'part-alternation',
  'wavy-dash',
  'yin-yang',
  'star-and-crescent',
  'om',
  'recycling',
  'aries',
  'taurus',
  'gemini',
  'cancer',
  'leo',
  'virgo',
  'libra',
  'scorpio',
  'sagittarius',
  'capricorn',
  'aquarius',
  'pisces',
  'ophiuchus',
]

function isFlippable(name: string): boolean {
  const parts = name.split('-')
  return !NO_FLIP_WORDS.some((word) =>
    // Multi-word entries match as a substring; single words match whole name parts only, so that
    // "om" does not hit "tomato" and "leo" does not hit "leopard".
    word.includes('-') ? name.includes(word) : parts.includes(word),
  )
}

// ---- Iconify JSON --------------------------------------------------------------------------------------------

interface IconBox {
  left?: number
  top?: number
  width?: number
  height?: number
}
interface IconTransforms {
  hFlip?: boolean
  vFlip?: boolean
  rotate?: number
}
interface IconifyIcon extends IconBox, IconTransforms {
  body: string
}
interface IconifyAlias extends IconBox, IconTransforms {
  parent: string
}
interface IconifySet extends IconBox {
  prefix: string
  icons: Record<string, IconifyIcon>
  aliases?: Record<string, IconifyAlias>
}
interface IconifyInfo {
  name: string
  author: { name: string; url?: string }
  license: { title: string; spdx?: string; url?: string }
}
interface IconifyMetadata {
  categories?: Record<string, string[]>
}

interface LoadedSet {
  style: StyleSource
  data: IconifySet
  version: string
  info: IconifyInfo
  names: Set<string>
}

function packageDir(pkg: string): string {
  return path.dirname(require.resolve(`${pkg}/package.json`))
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T
}

function loadSet(style: StyleSource): LoadedSet {
  const dir = packageDir(style.pkg)
  const data = readJson<IconifySet>(path.join(dir, 'icons.json'))
  const version = readJson<{ version: string }>(path.join(dir, 'package.json')).version
  const info = readJson<IconifyInfo>(path.join(dir, 'info.json'))
  const names = new Set([...Object.keys(data.icons), ...Object.keys(data.aliases ?? {})])
  return { style, data, version, info, names }
}

/** An icon with aliases followed: its body, its final box and the flips to apply. */
interface ResolvedIcon {
  body: string
  left: number
  top: number
  width: number
  height: number
  hFlip: boolean
  vFlip: boolean
}

/**
 * Follows the alias chain the way Iconify defines it: a child's box values override its parent's, and flips
 * and rotations accumulate (two flips cancel).
 */
function resolveIcon(set: IconifySet, name: string): ResolvedIcon {
  const box: IconBox = {}
  let hFlip = false
  let vFlip = false
  let rotate = 0
  let current = name
  for (let depth = 0; depth < 16; depth++) {
    const alias = set.aliases?.[current]
    const entry: (IconBox & IconTransforms) | undefined = alias ?? set.icons[current]
    if (!entry) throw new Error(`${set.prefix}: no icon or alias named "${current}" (resolving "${name}")`)
    box.left ??= entry.left
    box.top ??= entry.top
    box.width ??= entry.width
    box.height ??= entry.height
    hFlip = hFlip !== (entry.hFlip ?? false)
    vFlip = vFlip !== (entry.vFlip ?? false)
    rotate += entry.rotate ?? 0
    if (!alias) {
      // Quarter-turn rotations do not occur in these sets; refuse rather than render them wrongly.
      if (rotate % 4 !== 0) throw new Error(`${set.prefix}:${name}: rotated icons are not supported`)
      return {
        body: (entry as IconifyIcon).body,
        left: box.left ?? set.left ?? 0,
        top: box.top ?? set.top ?? 0,
        // Iconify's default size is 16 when neither the icon nor the set gives one.
        width: box.width ?? set.width ?? 16,
        height: box.height ?? set.height ?? 16,
        hFlip,
        vFlip,
      }
    }
    current = alias.parent
  }
  throw new Error(`${set.prefix}:${name}: alias chain too deep`)
}

/**
 * Icons on which resvg-js 2.6.2 panics at any size, a native abort that no try/catch can stop. Each carries
 * leftover artwork beyond its artboard, including an element with group opacity lying wholly outside the
 * view box, and resvg fails to size that empty layer. For these icons the top-level elements whose bounding
 * box misses the view box are removed before rendering (they are invisible anyway). The list comes from
 * rendering every icon of the four sets; after a package update, a run that dies with "panicked at" can be
 * repeated with DD_RENDER_TRACE=1, which prints each icon before rendering it, to find the next one.
 */
const OFF_CANVAS_DEBRIS = new Set(['noto:package', 'noto:rainbow-flag'])

/** Splits SVG markup into its top-level elements (Iconify bodies: no comments, no ">" inside attributes). */
function topLevelElements(markup: string): string[] {
  const tag = /<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g
  const elements: string[] = []
  let depth = 0
  let start = 0
  for (let m = tag.exec(markup); m !== null; m = tag.exec(markup)) {
    if (m[1]) {
      depth--
      if (depth === 0) elements.push(markup.slice(start, tag.lastIndex))
    } else if (m[3]) {
      if (depth === 0) elements.push(markup.slice(m.index, tag.lastIndex))
    } else {
      if (depth === 0) start = m.index
      depth++
    }
  }
  if (depth !== 0 || elements.join('') !== markup) throw new Error('cannot split the SVG body into elements')
  return elements
}

/** Removes the top-level drawable elements of `icon` that lie wholly outside its view box. */
function withoutOffCanvasDebris(icon: ResolvedIcon): ResolvedIcon {
  const { left, top, width, height } = icon
  const elements = topLevelElements(icon.body)
  const isDefinition = (e: string): boolean =>
    /^<(defs|linearGradient|radialGradient|clipPath|mask|filter|pattern|symbol)\b/.test(e)
  // Each drawable element is measured with all definitions present, so that references resolve.
  const definitions = elements.filter(isDefinition).join('')
  const kept = elements.filter((e) => {
    if (isDefinition(e)) return true
    const probe =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ' +
      `width="${width}" height="${height}" viewBox="${left} ${top} ${width} ${height}">${definitions}${e}</svg>`
    const box = new Resvg(probe).getBBox() // user units; undefined when nothing is visible
    return (
      box !== undefined &&
      box.x < left + width &&
      box.y < top + height &&
      box.x + box.width > left &&
      box.y + box.height > top
    )
  })
  return { ...icon, body: kept.join('') }
}

/**
 * Rendering happens at SUPERSAMPLE times the final size and is box-filtered down. Two reasons: resvg 0.x
 * (inside resvg-js 2.6.2) panics, aborting the process, on some Fluent 3D filter chains (tiny blurred
 * highlights) when rendered directly at 32 px; and averaging 4 x 4 samples gives smoother edges and keeps
 * sub-pixel details such as highlights as a tint instead of dropping or aliasing them.
 */
const SUPERSAMPLE = 4
const RENDER_SIZE = SIZE * SUPERSAMPLE

/**
 * The icon as a standalone SVG of RENDER_SIZE pixels square. The viewBox is the icon's own box; a non-square
 * box is centred by SVG's default preserveAspectRatio (xMidYMid meet).
 */
function toSvg(icon: ResolvedIcon): string {
  const { left, top, width, height } = icon
  let body = icon.body
  if (icon.hFlip || icon.vFlip) {
    // Mirror inside the same box: x' = 2*left + width - x (and likewise for y).
    const tx = icon.hFlip ? 2 * left + width : 0
    const ty = icon.vFlip ? 2 * top + height : 0
    const sx = icon.hFlip ? -1 : 1
    const sy = icon.vFlip ? -1 : 1
    body = `<g transform="translate(${tx} ${ty}) scale(${sx} ${sy})">${body}</g>`
  }
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ' +
    `width="${RENDER_SIZE}" height="${RENDER_SIZE}" viewBox="${left} ${top} ${width} ${height}">${body}</svg>`
  )
}

/** Renders to SIZE x SIZE RGB on BACKGROUND, written into `out` at `offset`. */
function renderInto(svg: string, out: Uint8Array, offset: number): void {
  const image = new Resvg(svg, { fitTo: { mode: 'original' } }).render()
  if (image.width !== RENDER_SIZE || image.height !== RENDER_SIZE) {
    throw new Error(`rendered ${image.width}x${image.height}, expected ${RENDER_SIZE}x${RENDER_SIZE}`)
  }
  const rgba = image.pixels
  const samples = SUPERSAMPLE * SUPERSAMPLE
  const full = 255 * samples
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      // Sum the block's premultiplied colour and alpha. resvg's pixels are premultiplied RGBA, so the box
      // average is a plain mean, and "over" the background is colour + background * (1 - alpha):
      //   out = (sumC * 255 + bg * (255 * samples - sumA)) / (255 * samples)
      // in integers, rounded half up, so the output is identical on every machine.
      let sumR = 0
      let sumG = 0
      let sumB = 0
      let sumA = 0
      for (let dy = 0; dy < SUPERSAMPLE; dy++) {
        let i = ((y * SUPERSAMPLE + dy) * RENDER_SIZE + x * SUPERSAMPLE) * 4
        for (let dx = 0; dx < SUPERSAMPLE; dx++, i += 4) {
          sumR += rgba[i] as number
          sumG += rgba[i + 1] as number
          sumB += rgba[i + 2] as number
          sumA += rgba[i + 3] as number
        }
      }
      const o = offset + (y * SIZE + x) * 3
      const sums = [sumR, sumG, sumB]
      for (let c = 0; c < 3; c++) {
        const value = Math.floor(
          ((sums[c] as number) * 255 + (BACKGROUND[c] as number) * (full - sumA) + full / 2) / full,
        )
        out[o + c] = Math.min(255, value)
      }
    }
  }
}

// ---- Concepts --------------------------------------------------------------------------------------------------

/** A thing drawn in all four styles: a base name or one skin-tone variant of it. */
interface Concept {
  /** Canonical name (Unicode CLDR-like spelling, as Noto and Twemoji use). */
  name: string
  /** The name in each style's set, in STYLES order. */
  iconNames: string[]
  category: number
  flippable: boolean
  /** The base name for skin-tone variants, else undefined. */
  toneOf?: string
}

/** A stable pseudo-random rank for `name` under `seed`: sorting by it gives a seeded, order-free shuffle. */
function rank(seed: number, name: string): string {
  return createHash('sha256').update(`${seed}\0${name}`).digest('hex')
}

function byRank(seed: number): (a: { name: string }, b: { name: string }) => number {
  return (a, b) => compareStrings(rank(seed, a.name), rank(seed, b.name))
}

/** Code-unit order, independent of locale (localeCompare would make output depend on the machine's ICU). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Category of every name in the category source, following aliases to their parent when unlisted. */
function categoryLookup(sets: readonly LoadedSet[]): (name: string) => number | undefined {
  const source = sets.find((s) => s.style.pkg === CATEGORY_SOURCE)
  if (!source) throw new Error(`category source ${CATEGORY_SOURCE} is not among the styles`)
  const metadata = readJson<IconifyMetadata>(path.join(packageDir(CATEGORY_SOURCE), 'metadata.json'))
  const categories = metadata.categories ?? {}
  const found = Object.keys(categories).sort(compareStrings)
  const expected = [...CATEGORIES].sort(compareStrings)
  if (found.join('|') !== expected.join('|')) {
    throw new Error(
      `${CATEGORY_SOURCE} categories changed: expected ${expected.join(', ')}; found ${found.join(', ')}`,
    )
  }
  const byName = new Map<string, number>()
  for (const [label, names] of Object.entries(categories)) {
    const id = CATEGORIES.indexOf(label as (typeof CATEGORIES)[number])
    for (const name of names) byName.set(name, id)
  }
  const aliases = source.data.aliases ?? {}
  return (name) => {
    let current: string | undefined = name
    for (let depth = 0; current !== undefined && depth < 16; depth++) {
      const id = byName.get(current)
      if (id !== undefined) return id
      current = aliases[current]?.parent
    }
    return undefined
  }
}

interface ConceptReport {
  concepts: Concept[]
  droppedTextLike: string[]
  droppedNoCategory: string[]
  toneVariantsAvailable: number
}

function collectConcepts(sets: readonly LoadedSet[], seed: number, tonesPerBase: number): ConceptReport {
  const categoryOf = categoryLookup(sets)
  const [first, ...rest] = sets
  if (!first) throw new Error('no styles')
  const inAll = (iconNames: readonly string[]): boolean =>
    sets.every((s, i) => s.names.has(iconNames[i] ?? ''))

  // Base concepts: names spelled identically in all sets. Tone variants never qualify here, because
  // Fluent spells them "x-dark" and the others "x-dark-skin-tone".
  const baseNames = [...first.names].filter((n) => rest.every((s) => s.names.has(n))).sort(compareStrings)

  const concepts: Concept[] = []
  const droppedTextLike: string[] = []
  const droppedNoCategory: string[] = []
  let toneVariantsAvailable = 0
  for (const base of baseNames) {
    if (isTextLike(base)) {
      droppedTextLike.push(base)
      continue
    }
    const category = categoryOf(base)
    if (category === undefined) {
      droppedNoCategory.push(base)
      continue
    }
    const flippable = isFlippable(base)
    concepts.push({ name: base, iconNames: sets.map(() => base), category, flippable })

    const variants: Concept[] = []
    for (const tone of TONES) {
      const iconNames = sets.map((s) => s.style.toneName(base, tone))
      if (inAll(iconNames)) {
        variants.push({ name: unicodeTone(base, tone), iconNames, category, flippable, toneOf: base })
      }
    }
    toneVariantsAvailable += variants.length
    // Skin tones would otherwise make People most of the data: keep a seeded few per base, the same
    // few in every style so that the four styles stay aligned concept by concept.
    concepts.push(...variants.sort(byRank(seed)).slice(0, tonesPerBase))
  }
  concepts.sort((a, b) => compareStrings(a.name, b.name))
  return { concepts, droppedTextLike, droppedNoCategory, toneVariantsAvailable }
}

// ---- Main ------------------------------------------------------------------------------------------------------

interface Item {
  name: string
  style: number
  category: number
  flippable: boolean
  /** The icon's own name in its set (differs from `name` for Fluent skin tones). */
  icon: string
}

interface Options {
  out: string
  maxPerClass: number | undefined
  seed: number
  tones: number
}

/** Bad command-line input: reported with the usage line and exit status 2. */
class UsageError extends Error {}

const USAGE = 'usage: node models/dataset/render.ts --out <dir> [--max-per-class N] [--seed S] [--tones K]'

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      'max-per-class': { type: 'string' },
      seed: { type: 'string', default: '0' },
      tones: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    console.log('  --max-per-class N  at most N concepts per style x category class (a quick smoke set)')
    console.log('  --seed S           integer seed for the skin-tone and subset choices (default 0)')
    console.log('  --tones K          skin-tone variants kept per base emoji, 0..5 (default 1)')
    process.exit(0)
  }
  if (!values.out) throw new UsageError('--out <dir> is required')
  const integer = (flag: string, text: string, min: number, max: number): number => {
    if (!/^-?\d+$/.test(text)) throw new UsageError(`${flag} must be an integer, got "${text}"`)
    const value = Number(text)
    if (value < min || value > max) throw new UsageError(`${flag} must be in ${min}..${max}, got ${value}`)
    return value
  }
  const maxText = values['max-per-class']
  return {
    out: values.out,
    maxPerClass: maxText === undefined ? undefined : integer('--max-per-class', maxText, 1, 1_000_000),
    seed: integer('--seed', values.seed, 0, 2 ** 31 - 1),
    tones: integer('--tones', values.tones, 0, TONES.length),
  }
}

/** Writes `data` to `file` through a temporary sibling, so a reader never sees a half-written file. */
function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, data)
  fs.renameSync(tmp, file)
}

function main(): void {
  const options = parseOptions(process.argv.slice(2))
  const started = performance.now()
  const log = (message: string): void => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    process.stderr.write(`[render ${seconds}s] ${message}\n`)
  }

  const sets = STYLES.map((style) => {
    const set = loadSet(style)
    log(`loaded ${style.pkg}@${set.version}: ${set.names.size} names`)
    return set
  })
  const report = collectConcepts(sets, options.seed, options.tones)
  log(
    `${report.concepts.length} concepts (${report.toneVariantsAvailable} skin-tone variants available, ` +
      `${options.tones} kept per base); dropped ${report.droppedTextLike.length} text-like, ` +
      `${report.droppedNoCategory.length} without a category`,
  )

  // Items ordered by style, category, name. With --max-per-class the subset is chosen by the seeded rank of
  // the concept name, so the same concepts are picked in every style.
  const items: Item[] = []
  for (let style = 0; style < STYLES.length; style++) {
    for (let category = 0; category < CATEGORIES.length; category++) {
      let members = report.concepts.filter((c) => c.category === category)
      if (options.maxPerClass !== undefined) {
        members = members.sort(byRank(options.seed)).slice(0, options.maxPerClass)
        members.sort((a, b) => compareStrings(a.name, b.name))
      }
      for (const c of members) {
        const icon = c.iconNames[style] as string
        items.push({ name: c.name, style, category, flippable: c.flippable, icon })
      }
    }
  }

  const pixelsPerImage = SIZE * SIZE * 3
  const images = new Uint8Array(items.length * pixelsPerImage)
  const trace = process.env.DD_RENDER_TRACE === '1'
  const progressEvery = Math.max(1, Math.round(items.length / 20))
  items.forEach((item, i) => {
    const set = sets[item.style] as LoadedSet
    const key = `${set.style.id}:${item.icon}`
    if (trace) process.stderr.write(`render ${key}\n`)
    try {
      let icon = resolveIcon(set.data, item.icon)
      if (OFF_CANVAS_DEBRIS.has(key)) icon = withoutOffCanvasDebris(icon)
      renderInto(toSvg(icon), images, i * pixelsPerImage)
    } catch (error) {
      throw new Error(`rendering ${key} failed: ${(error as Error).message}`)
    }
    if ((i + 1) % progressEvery === 0 || i + 1 === items.length) {
      log(`rendered ${i + 1}/${items.length} (${set.style.id})`)
    }
  })

  const index = {
    format: FORMAT,
    version: FORMAT_VERSION,
    count: items.length,
    size: SIZE,
    channels: 3,
    layout: 'N x H x W x C, uint8, row-major (C order), RGB',
    background: [...BACKGROUND],
    imagesSha256: createHash('sha256').update(images).digest('hex'),
    options: { seed: options.seed, maxPerClass: options.maxPerClass ?? null, tonesPerBase: options.tones },
    styles: STYLES.map((s) => s.id),
    categories: [...CATEGORIES],
    categorySource: CATEGORY_SOURCE,
    sources: sets.map((s) => ({
      style: s.style.id,
      package: s.style.pkg,
      version: s.version,
      license: s.info.license.spdx ?? s.info.license.title,
      licenseUrl: s.info.license.url ?? null,
      author: s.info.author.name,
      attribution: s.style.attribution,
    })),
    dropped: { textLike: report.droppedTextLike, noCategory: report.droppedNoCategory },
    items,
  }

  fs.mkdirSync(options.out, { recursive: true })
  // images first, index last: an index.json that exists always describes complete images.
  writeAtomic(path.join(options.out, 'images.u8'), images)
  writeAtomic(path.join(options.out, 'index.json'), `${JSON.stringify(index, null, 1)}\n`)
  log(`wrote ${items.length} images to ${options.out}`)
}

try {
  main()
} catch (caught) {
  const error = caught as Error & { code?: unknown }
  // parseArgs reports unknown or malformed flags as errors with an ERR_PARSE_ARGS_* code.
  const isParseError = typeof error.code === 'string' && error.code.startsWith('ERR_PARSE_ARGS')
  if (error instanceof UsageError || isParseError) {
    console.error(`render: ${error.message}\n${USAGE}`)
    process.exit(2)
  }
  console.error(`render: ${error.stack ?? String(error)}`)
  process.exit(1)
}
