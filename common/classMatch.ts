/**
 * Matching free text to a class-conditional pack's classes (the 1000 ImageNet-1k classes with their WordNet
 * synonyms, or a small pack's own names): ranking for "which class did the user mean" and a filter for a class
 * explorer. Pure and browser-safe. Normalised forms are computed once by `prepareClasses`, so matching 1000
 * classes on every keystroke is cheap.
 *
 * Normalisation, applied to both sides: accents removed (NFKD), lower case, apostrophes dropped, any other
 * punctuation a word break, the articles a/an/the dropped. Whole words are compared by a key that ignores the
 * plural ("Golden Retrievers" is "golden retriever"); prefixes and parts of words use the words as written, so
 * a word being typed ("lady" of "ladybug") still matches.
 */

/** A class as a pack lists it; `synonyms` (e.g. WordNet lemmas) are optional and include or follow the name. */
export interface ClassEntry {
  index: number
  name: string
  synonyms?: readonly string[]
}

/**
 * How a class matched, best first: the whole text equals a name or synonym; the text is a run of whole words of
 * a synonym (or a synonym is a run of whole words of the text); all its words are words of a synonym, in any
 * order; a synonym starts a word with the text; the text is part of a word; only some of its words matched.
 */
export type MatchKind = 'exact' | 'phrase' | 'words' | 'prefix' | 'substring' | 'partial'

export const MATCH_KINDS: readonly MatchKind[] = [
  'exact',
  'phrase',
  'words',
  'prefix',
  'substring',
  'partial',
]

export interface ClassMatch {
  index: number
  /** The class's display name. */
  name: string
  kind: MatchKind
  /** The name or synonym that matched, as the pack spells it. */
  synonym: string
  /** The text's words (normalised) that the synonym accounts for: all of them unless the kind is 'partial'. */
  matchedWords: string[]
  /** "matched 'golden retriever'", with the kind of match where it was not exact. */
  reason: string
}

export interface ClassMatchResult {
  query: string
  /** Best first; empty when nothing matched. */
  matches: ClassMatch[]
  /** Why the first match won, or why there are none. */
  reason: string
}

export interface ClassSearchHit {
  index: number
  name: string
  synonyms: readonly string[]
  /**
   * How the class matched the search text: 'index' for a number that is the class's index; 'words' also when
   * the words are spread over several synonyms (then `synonym` is null); null when the text was empty.
   */
  kind: MatchKind | 'index' | null
  /** The name or synonym that matched best, when one did. */
  synonym: string | null
}

/** A text's normalised forms: `raw*` for prefixes and parts of words, `key*` for whole-word comparisons. */
interface Forms {
  /** Normalised words as written (no plural handling): prefixes and parts of words are found in these. */
  raw: string
  /** `raw` without spaces ("man eater" -> "maneater"). */
  compact: string
  /** The words' keys (`wordKey`), so plurals and singulars compare equal. */
  keys: string[]
  keyText: string
  /** `keyText` padded with spaces, so runs of whole words are found with a plain `includes`. */
  keyPadded: string
  /** The key of the whole text as one word ("tabby cats" and "tabbycat" meet here). */
  compactKey: string
}

interface PreparedSynonym extends Forms {
  original: string
  /** Position among the class's synonyms; 0 is the name. */
  position: number
  keySet: Set<string>
}

interface PreparedClass {
  index: number
  name: string
  synonyms: string[]
  forms: PreparedSynonym[]
  /** Every word of every synonym, as written and as a key: the explorer finds words spread over synonyms here. */
  words: string
}

/** A pack's classes with their normalised forms; build once per pack with `prepareClasses`. */
export interface PreparedClasses {
  readonly classes: readonly PreparedClass[]
  readonly byIndex: ReadonlyMap<number, PreparedClass>
  /** Indexes that narrow a query to the classes it can match (positions in `classes`). */
  readonly index: CandidateIndex
}

/** A text scanned with one `indexOf` per needle: its lines, each mapped to the classes that hold it. */
interface LineCorpus {
  text: string
  /** Where each line starts in `text`, ascending. */
  starts: number[]
  classesOf: number[][]
}

interface CandidateIndex {
  /** Word key -> classes with a synonym that has the word. */
  byKey: Map<string, number[]>
  /** A whole synonym's compact key -> classes. */
  byCompactKey: Map<string, number[]>
  /** Every distinct word (as written and as a key), one a line: words that contain the text. */
  vocabulary: LineCorpus
  /** Every synonym's compact form, one a line: texts that run across word breaks ("maneat"). */
  compacts: LineCorpus
  /** Classes with a synonym made only of filler words, which the indexes above would not offer. */
  fillerOnly: number[]
}

function lineCorpus(lines: Map<string, Set<number>>): LineCorpus {
  const starts: number[] = []
  const classesOf: number[][] = []
  let offset = 0
  for (const [line, classes] of lines) {
    starts.push(offset)
    offset += line.length + 1
    classesOf.push([...classes])
  }
  return { text: [...lines.keys()].join('\n'), starts, classesOf }
}

/** Adds to `out` the classes of every line of `corpus` that contains `needle`. */
function scan(corpus: LineCorpus, needle: string, out: Set<number>): void {
  const { text, starts, classesOf } = corpus
  let at = text.indexOf(needle)
  while (at >= 0) {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((starts[mid] as number) <= at) lo = mid
      else hi = mid - 1
    }
    for (const c of classesOf[lo] as number[]) out.add(c)
    const next = starts[lo + 1]
    at = next === undefined ? -1 : text.indexOf(needle, next)
  }
}

function addTo<K>(map: Map<K, Set<number>>, key: K, value: number): void {
  const set = map.get(key)
  if (set === undefined) map.set(key, new Set([value]))
  else set.add(value)
}

const ARTICLES = new Set(['a', 'an', 'the'])

/**
 * Words that alone do not pick a class from free text ("a photo of my cat"): ignored when counting which of the
 * text's words a synonym has ('words' and 'partial'), never in exact or whole-phrase matches.
 */
const FILLER = new Set(
  [
    'of',
    'in',
    'on',
    'at',
    'by',
    'for',
    'with',
    'and',
    'or',
    'to',
    'from',
    'my',
    'your',
    'his',
    'her',
    'its',
    'our',
    'their',
    'this',
    'that',
    'some',
    'is',
    'are',
    'photo',
    'photograph',
    'picture',
    'image',
  ].map(wordKey),
)

/**
 * A word's matching key: singular and plural forms share one ("retrievers"/"retriever", "puppies"/"puppy",
 * "boxes"/"box", "potpies"/"potpie", "wolves"/"wolf"). A crude stemmer, but the same on both sides; it never
 * cuts a word below three letters ("bus", "bees"/"bee").
 */
export function wordKey(word: string): string {
  let w = word
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1)
  if (w.length > 3 && w.endsWith('e')) w = w.slice(0, -1)
  if (w.endsWith('y')) w = `${w.slice(0, -1)}i`
  else if (w.length > 3 && w.endsWith('v')) w = `${w.slice(0, -1)}f`
  return w
}

/** The words of `text` as matching sees them: no accents, lower case, no articles (see the module comment). */
export function normaliseWords(text: string): string[] {
  const plain = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’‘`]/g, '')
  const words: string[] = []
  for (const word of plain.split(/[^\p{L}\p{N}]+/u)) if (word !== '' && !ARTICLES.has(word)) words.push(word)
  return words
}

function formsOf(text: string): Forms | null {
  const words = normaliseWords(text)
  if (words.length === 0) return null
  const keys = words.map(wordKey)
  const keyText = keys.join(' ')
  const compact = words.join('')
  return {
    raw: words.join(' '),
    compact,
    keys,
    keyText,
    keyPadded: ` ${keyText} `,
    compactKey: wordKey(compact),
  }
}

/** Normalises every class's name and synonyms once; pass the result to `matchClasses` and `searchClasses`. */
export function prepareClasses(classes: readonly ClassEntry[]): PreparedClasses {
  const prepared: PreparedClass[] = []
  const byIndex = new Map<number, PreparedClass>()
  const byKey = new Map<string, Set<number>>()
  const byCompactKey = new Map<string, Set<number>>()
  const vocabulary = new Map<string, Set<number>>()
  const compacts = new Map<string, Set<number>>()
  const fillerOnly: number[] = []
  for (const c of classes) {
    const synonyms = [c.name, ...(c.synonyms ?? []).filter((s) => s !== c.name)]
    const forms: PreparedSynonym[] = []
    const seen = new Set<string>()
    synonyms.forEach((original, position) => {
      const f = formsOf(original)
      if (f === null || seen.has(f.raw)) return
      seen.add(f.raw)
      forms.push({ ...f, original, position, keySet: new Set(f.keys) })
    })
    const entry: PreparedClass = {
      index: c.index,
      name: c.name,
      synonyms,
      forms,
      words: forms.map((f) => `${f.raw} ${f.keyText}`).join(' '),
    }
    const at = prepared.length
    for (const f of forms) {
      for (const k of f.keys) {
        addTo(byKey, k, at)
        addTo(vocabulary, k, at)
      }
      for (const w of f.raw.split(' ')) addTo(vocabulary, w, at)
      addTo(byCompactKey, f.compactKey, at)
      addTo(compacts, f.compact, at)
    }
    if (forms.some((f) => f.keys.every((k) => FILLER.has(k)))) fillerOnly.push(at)
    prepared.push(entry)
    if (!byIndex.has(c.index)) byIndex.set(c.index, entry)
  }
  const asArrays = (m: Map<string, Set<number>>) =>
    new Map<string, number[]>([...m].map(([k, v]) => [k, [...v]]))
  return {
    classes: prepared,
    byIndex,
    index: {
      byKey: asArrays(byKey),
      byCompactKey: asArrays(byCompactKey),
      vocabulary: lineCorpus(vocabulary),
      compacts: lineCorpus(compacts),
      fillerOnly,
    },
  }
}

interface PreparedQuery extends Forms {
  /** The normalised words, as written. */
  words: string[]
  /** `keys` less the filler words (all of `keys` when every one is filler), and those words as written. */
  content: string[]
  contentWords: string[]
}

function prepareQuery(text: string): PreparedQuery | null {
  const f = formsOf(text)
  if (f === null) return null
  const words = f.raw.split(' ')
  let content = f.keys.flatMap((k, i) => (FILLER.has(k) ? [] : [i]))
  if (content.length === 0) content = f.keys.map((_, i) => i)
  const contentKeys = content.map((i) => f.keys[i] as string)
  const contentWords = content.map((i) => words[i] as string)
  return {
    ...f,
    words,
    content: contentKeys,
    contentWords,
  }
}

/**
 * The classes (positions in `prepared.classes`, ascending) that the query can match at all. Every kind of match
 * implies one of: a content word's key is a word of the class (exact, phrase, words, partial), the whole text
 * has the class's compact key (exact), the text's longest word is part of one of the class's words (prefix,
 * part of a word; the explorer's spread words), the compact text is part of a compact synonym, or the class has
 * a synonym of filler words only (a synonym found inside the text).
 */
function candidates(prepared: PreparedClasses, q: PreparedQuery): number[] {
  const { byKey, byCompactKey, vocabulary, compacts, fillerOnly } = prepared.index
  const found = new Set<number>(fillerOnly)
  for (const k of q.content) for (const c of byKey.get(k) ?? []) found.add(c)
  for (const c of byCompactKey.get(q.compactKey) ?? []) found.add(c)
  const longest = q.words.reduce((a, b) => (b.length > a.length ? b : a))
  scan(vocabulary, longest, found)
  scan(compacts, q.compact, found)
  return [...found].sort((a, b) => a - b)
}

/** Sort key of one synonym's match: kind, then more matched words, fewer extra words, earlier synonym. */
interface Scored {
  tier: number
  matched: number
  extra: number
  form: PreparedSynonym
  matchedWords: string[]
}

function scored(
  tier: number,
  matched: number,
  extra: number,
  form: PreparedSynonym,
  words: string[],
): Scored {
  return { tier, matched, extra, form, matchedWords: words }
}

function scoreForm(q: PreparedQuery, f: PreparedSynonym, allowPartial: boolean): Scored | null {
  const n = q.keys.length
  if (f.keyText === q.keyText || f.compactKey === q.compactKey) return scored(0, n, 0, f, q.words)
  if (f.keyPadded.includes(q.keyPadded)) return scored(1, n, f.keys.length - n, f, q.words)
  if (q.keyPadded.includes(f.keyPadded))
    return scored(1, f.keys.length, n - f.keys.length, f, f.raw.split(' '))
  let hits = 0
  for (const k of q.content) if (f.keySet.has(k)) hits++
  if (hits === q.content.length) return scored(2, hits, f.keys.length - hits, f, q.contentWords)
  const at = f.raw.startsWith(q.raw) ? 0 : f.raw.indexOf(` ${q.raw}`)
  if (at >= 0) return scored(3, 0, at * 1000 + f.raw.length, f, q.words)
  let inside = f.raw.indexOf(q.raw)
  if (inside < 0) inside = f.compact.indexOf(q.compact)
  if (inside >= 0) return scored(4, 0, inside * 1000 + f.raw.length, f, q.words)
  if (!allowPartial || hits === 0) return null
  const words = q.contentWords.filter((_, i) => f.keySet.has(q.content[i] as string))
  return scored(5, hits, f.keys.length - hits, f, words)
}

function compareScored(a: Scored, b: Scored): number {
  return a.tier - b.tier || b.matched - a.matched || a.extra - b.extra || a.form.position - b.form.position
}

function bestForm(q: PreparedQuery, c: PreparedClass, allowPartial: boolean): Scored | null {
  let best: Scored | null = null
  for (const f of c.forms) {
    const s = scoreForm(q, f, allowPartial)
    if (s !== null && (best === null || compareScored(s, best) < 0)) best = s
  }
  return best
}

const KIND_NOTE: Record<MatchKind, string> = {
  exact: '',
  phrase: ' (whole words)',
  words: ' (all words)',
  prefix: ' (start of a word)',
  substring: ' (part of a word)',
  partial: '',
}

function reasonFor(kind: MatchKind, synonym: string, matchedWords: string[]): string {
  if (kind === 'partial') return `matched '${synonym}' (only '${matchedWords.join(' ')}' of the text)`
  return `matched '${synonym}'${KIND_NOTE[kind]}`
}

/** "class 207, golden retriever (matched 'golden retriever')". */
export function describeMatch(m: ClassMatch): string {
  return `class ${m.index}, ${m.name} (${m.reason})`
}

function toMatch(c: PreparedClass, s: Scored): ClassMatch {
  const kind = MATCH_KINDS[s.tier] as MatchKind
  return {
    index: c.index,
    name: c.name,
    kind,
    synonym: s.form.original,
    matchedWords: s.matchedWords,
    reason: reasonFor(kind, s.form.original, s.matchedWords),
  }
}

/**
 * Ranks the classes against free text ("golden retrievers", "a photo of a tabby cat") and returns the best
 * `limit` (default 5), each with the synonym that matched and why. Ties go to the lower class index.
 * `minKind` drops weaker matches (e.g. 'substring' leaves out 'partial').
 */
export function matchClasses(
  prepared: PreparedClasses,
  text: string,
  options: { limit?: number; minKind?: MatchKind } = {},
): ClassMatchResult {
  const limit = options.limit ?? 5
  const maxTier = MATCH_KINDS.indexOf(options.minKind ?? 'partial')
  const q = prepareQuery(text)
  if (q === null)
    return {
      query: text,
      matches: [],
      reason: 'the text has no words to match (only articles or punctuation)',
    }
  const scored: { c: PreparedClass; s: Scored }[] = []
  for (const i of candidates(prepared, q)) {
    const c = prepared.classes[i] as PreparedClass
    const s = bestForm(q, c, maxTier >= 5)
    if (s !== null && s.tier <= maxTier) scored.push({ c, s })
  }
  scored.sort((a, b) => compareScored(a.s, b.s) || a.c.index - b.c.index)
  const matches = scored.slice(0, Math.max(0, limit)).map(({ c, s }) => toMatch(c, s))
  const first = matches[0]
  return {
    query: text,
    matches,
    reason:
      first === undefined
        ? `no class name or synonym matches '${q.raw}' (as words, word starts or parts of words)`
        : describeMatch(first),
  }
}

/**
 * The class explorer's filter: every class whose names and synonyms contain each word of the text (as part of
 * a word, in any order and across synonyms), best matches first; a number also finds the class with that
 * index, first. Empty text lists every class in pack order.
 */
export function searchClasses(
  prepared: PreparedClasses,
  text: string,
  options: { limit?: number } = {},
): ClassSearchHit[] {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  const hit = (c: PreparedClass, kind: ClassSearchHit['kind'], synonym: string | null): ClassSearchHit => ({
    index: c.index,
    name: c.name,
    synonyms: c.synonyms,
    kind,
    synonym,
  })
  const q = prepareQuery(text)
  if (q === null) return prepared.classes.slice(0, limit).map((c) => hit(c, null, null))
  const out: ClassSearchHit[] = []
  const trimmed = text.trim()
  const byNumber = /^\d+$/.test(trimmed) ? prepared.byIndex.get(Number(trimmed)) : undefined
  if (byNumber !== undefined) out.push(hit(byNumber, 'index', null))
  const found: { c: PreparedClass; s: Scored | null }[] = []
  for (const i of candidates(prepared, q)) {
    const c = prepared.classes[i] as PreparedClass
    if (c === byNumber) continue
    const s = bestForm(q, c, false)
    if (s !== null || q.words.every((w) => c.words.includes(w))) found.push({ c, s })
  }
  // A class whose words are spread over its synonyms ranks after every single-synonym match.
  const tier = (s: Scored | null): number => (s === null ? MATCH_KINDS.length : s.tier)
  found.sort(
    (a, b) =>
      tier(a.s) - tier(b.s) ||
      (a.s !== null && b.s !== null ? compareScored(a.s, b.s) : 0) ||
      a.c.index - b.c.index,
  )
  for (const { c, s } of found) {
    if (out.length >= limit) break
    out.push(hit(c, s === null ? 'words' : (MATCH_KINDS[s.tier] as MatchKind), s?.form.original ?? null))
  }
  return out.slice(0, limit)
}

/**
 * What a prompt box makes of free text for a class-only pack: one class when a match is better than every other
 * (a kind of match, or more of the text's words, that no other class has), several to choose from when the best
 * matches tie ('retriever', 'crane'), or none. A prefix or a part of a word still picks a class when it is the
 * only one, so the choice follows the text while it is being typed ("golden retr").
 */
export type TextToClass =
  | {
      kind: 'picked'
      match: ClassMatch
      /** The next best matches (weaker ones), for "not this one?". */
      others: ClassMatch[]
      reason: string
    }
  | {
      kind: 'ambiguous'
      /** The tied best matches first, then weaker ones, up to the limit. */
      candidates: ClassMatch[]
      /** How many classes tie for the best match (may be more than `candidates` holds). */
      tied: number
      reason: string
    }
  | { kind: 'none'; reason: string }

export function classFromText(
  prepared: PreparedClasses,
  text: string,
  options: { limit?: number } = {},
): TextToClass {
  const limit = Math.max(1, options.limit ?? 5)
  // Every match is ranked anyway; taking them all lets the ties be counted.
  const result = matchClasses(prepared, text, { limit: Number.POSITIVE_INFINITY })
  const [first, second] = result.matches
  if (first === undefined) return { kind: 'none', reason: result.reason }
  const ties = (m: ClassMatch) => m.kind === first.kind && m.matchedWords.length === first.matchedWords.length
  if (second === undefined || !ties(second))
    return { kind: 'picked', match: first, others: result.matches.slice(1, limit), reason: result.reason }
  const tied = result.matches.filter(ties).length
  const words = normaliseWords(text).join(' ')
  return {
    kind: 'ambiguous',
    candidates: result.matches.slice(0, limit),
    tied,
    reason: `${tied} classes match '${words}' equally well`,
  }
}
