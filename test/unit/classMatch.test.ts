import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type ClassEntry,
  classFromText,
  describeMatch,
  matchClasses,
  normaliseWords,
  prepareClasses,
  searchClasses,
  wordKey,
} from '../../common/classMatch.ts'
import imagenet from '../../models/data/imagenet1k-classes.json'

const root = path.resolve(import.meta.dirname, '../..')
const classes: ClassEntry[] = imagenet.classes
const prepared = prepareClasses(classes)

const top = (text: string): number | undefined => matchClasses(prepared, text).matches[0]?.index

describe('imagenet1k-classes.json', () => {
  it('lists the 1000 classes in index order with their synonyms, the first being the name', () => {
    expect(imagenet.classes).toHaveLength(1000)
    imagenet.classes.forEach((c, i) => {
      expect(c.index).toBe(i)
      expect(c.synonyms[0]).toBe(c.name)
      expect(c.synonyms.every((s) => s.trim() === s && s.length > 0)).toBe(true)
      expect(c.wnid).toMatch(/^n\d{8}$/)
    })
    expect(new Set(imagenet.classes.map((c) => c.wnid)).size).toBe(1000)
    expect(imagenet.classes[0]?.synonyms).toEqual(['tench', 'Tinca tinca'])
    expect(imagenet.classes[1]?.synonyms).toEqual(['goldfish', 'Carassius auratus'])
    expect(imagenet.classes[207]?.name).toBe('golden retriever')
    expect(imagenet.classes[281]?.synonyms).toEqual(['tabby', 'tabby cat'])
    expect(imagenet.classes[999]?.synonyms).toEqual(['toilet tissue', 'toilet paper', 'bathroom tissue'])
    expect(imagenet.source).toMatchObject({ package: 'timm', license: 'Apache-2.0' })
  })
})

describe('normaliseWords and wordKey', () => {
  it('drop accents, case, punctuation and articles', () => {
    expect(normaliseWords('The Golden Retrievers!')).toEqual(['golden', 'retrievers'])
    expect(normaliseWords('Crème brûlée')).toEqual(['creme', 'brulee'])
    expect(normaliseWords("jack-o'-lantern")).toEqual(['jack', 'o', 'lantern'])
    expect(normaliseWords('  a  an the ')).toEqual([])
  })

  it('give singular and plural the same key', () => {
    const pairs = [
      ['retriever', 'retrievers'],
      ['puppy', 'puppies'],
      ['potpie', 'potpies'],
      ['box', 'boxes'],
      ['glass', 'glasses'],
      ['horse', 'horses'],
      ['wolf', 'wolves'],
      ['bee', 'bees'],
    ]
    for (const [one, many] of pairs)
      expect(wordKey(many as string), `${one}/${many}`).toBe(wordKey(one as string))
    expect(wordKey('bus')).toBe('bus')
    expect(wordKey('glass')).not.toBe(wordKey('gla'))
  })
})

describe('matchClasses with ImageNet-1k', () => {
  it('finds classes by name and synonym', () => {
    expect(top('golden retriever')).toBe(207)
    expect(top('tabby')).toBe(281)
    expect(top('Tinca')).toBe(0)
    expect(top('toilet paper')).toBe(999)
    expect(top('goldfish')).toBe(1)
  })

  it('ignores case, accents, articles and plurals', () => {
    expect(top('Golden Retrievers')).toBe(207)
    expect(top('GÓLDEN RETRÍEVER')).toBe(207)
    expect(top('a tabby cat')).toBe(281)
    expect(top('the toilet papers')).toBe(999)
  })

  it('says which synonym matched and how', () => {
    const r = matchClasses(prepared, 'Golden Retrievers')
    expect(r.matches[0]).toMatchObject({ index: 207, kind: 'exact', synonym: 'golden retriever' })
    expect(r.reason).toBe("class 207, golden retriever (matched 'golden retriever')")
    const paper = matchClasses(prepared, 'toilet paper').matches[0]
    expect(paper).toMatchObject({ index: 999, name: 'toilet tissue', synonym: 'toilet paper', kind: 'exact' })
    expect(describeMatch(paper as NonNullable<typeof paper>)).toBe(
      "class 999, toilet tissue (matched 'toilet paper')",
    )
    expect(matchClasses(prepared, 'Tinca').matches[0]).toMatchObject({
      synonym: 'Tinca tinca',
      kind: 'phrase',
    })
  })

  it('ranks exact, then whole words, then prefixes, then parts of words', () => {
    const retrievers = matchClasses(prepared, 'retriever', { limit: 10 }).matches
    expect(retrievers.every((m) => m.kind === 'phrase')).toBe(true)
    expect(retrievers.map((m) => m.index).sort((a, b) => a - b)).toEqual([205, 206, 207, 208, 209])
    expect(matchClasses(prepared, 'golden retr').matches[0]).toMatchObject({ index: 207, kind: 'prefix' })
    expect(matchClasses(prepared, 'triever').matches[0]).toMatchObject({ kind: 'substring' })
    expect(matchClasses(prepared, 'tabbycat').matches[0]).toMatchObject({ index: 281, kind: 'exact' })
    const crane = matchClasses(prepared, 'crane').matches.map((m) => m.index)
    expect(crane.slice(0, 2)).toEqual([134, 517])
  })

  it('picks a class out of a longer prompt', () => {
    expect(matchClasses(prepared, 'a photo of a golden retriever in the park').matches[0]).toMatchObject({
      index: 207,
      kind: 'phrase',
    })
    expect(top('photo of a tiger cat sleeping')).toBe(282)
    const weak = matchClasses(prepared, 'my cat on a sofa').matches[0]
    expect(weak?.kind).toBe('partial')
    expect(matchClasses(prepared, 'my cat on a sofa', { minKind: 'substring' }).matches).toEqual([])
  })

  it('returns no matches, with a reason, for text that matches nothing', () => {
    const r = matchClasses(prepared, 'xyzzy qwertyuiop')
    expect(r.matches).toEqual([])
    expect(r.reason).toBe(
      "no class name or synonym matches 'xyzzy qwertyuiop' (as words, word starts or parts of words)",
    )
    const empty = matchClasses(prepared, '  the ... ')
    expect(empty.matches).toEqual([])
    expect(empty.reason).toMatch(/no words/)
  })

  it('honours the limit', () => {
    expect(matchClasses(prepared, 'dog', { limit: 3 }).matches).toHaveLength(3)
    expect(matchClasses(prepared, 'dog', { limit: 0 }).matches).toEqual([])
  })

  it('finds every class by each of its synonyms', () => {
    for (const c of classes)
      for (const synonym of c.synonyms ?? []) {
        const m = matchClasses(prepared, synonym, { limit: 10 }).matches.find((x) => x.index === c.index)
        expect(m?.kind, `${c.index} ${synonym}`).toBe('exact')
        // Spellings that normalise alike ('tree-frog', 'kingsnake') match as one: the first is reported.
        expect(c.synonyms).toContain(m?.synonym)
      }
  })

  it('matches 1000 queries over 1000 classes well under a second', () => {
    // A mix of what the UI sees: whole names, words being typed, and prompts with extra words and plurals.
    const queries = classes.map((c, i) =>
      i % 3 === 0 ? c.name.slice(0, 4) : i % 3 === 1 ? `a photo of two ${c.name}s in the snow` : c.name,
    )
    matchClasses(prepared, 'warm up')
    const start = performance.now()
    let found = 0
    for (const q of queries) if (matchClasses(prepared, q).matches.length > 0) found++
    const elapsed = performance.now() - start
    const prepStart = performance.now()
    prepareClasses(classes)
    const prepMs = performance.now() - prepStart
    console.log(
      `classMatch: ${queries.length} queries over ${classes.length} classes in ${elapsed.toFixed(1)} ms ` +
        `(${found} with matches); prepareClasses ${prepMs.toFixed(1)} ms`,
    )
    expect(found).toBe(queries.length)
    expect(elapsed).toBeLessThan(1000)
  })
})

describe('matchClasses with the emoji32 pack', () => {
  const manifest = JSON.parse(
    fs.readFileSync(path.join(root, 'models/packs/emoji32/manifest.json'), 'utf8'),
  ) as { conditioning: { classes: ClassEntry[] } }
  const emoji = prepareClasses(manifest.conditioning.classes)

  it('finds "noto / Animals & Nature" from "noto animals"', () => {
    const r = matchClasses(emoji, 'noto animals')
    expect(r.matches[0]).toMatchObject({ name: 'noto / Animals & Nature', kind: 'phrase' })
    expect(matchClasses(emoji, 'Twemoji flags').matches[0]?.name).toBe('twemoji / Flags')
    expect(matchClasses(emoji, 'animals noto').matches[0]).toMatchObject({
      name: 'noto / Animals & Nature',
      kind: 'words',
    })
  })
})

describe('searchClasses', () => {
  it('lists every class for empty text and filters on names and synonyms', () => {
    expect(searchClasses(prepared, '')).toHaveLength(1000)
    expect(searchClasses(prepared, '', { limit: 2 }).map((h) => h.index)).toEqual([0, 1])
    const tabby = searchClasses(prepared, 'tabby')
    expect(tabby[0]).toMatchObject({ index: 281, kind: 'exact', synonym: 'tabby' })
    expect(tabby[0]?.synonyms).toEqual(['tabby', 'tabby cat'])
    expect(searchClasses(prepared, 'auratus').map((h) => h.index)).toEqual([1])
    // Words spread over different synonyms still find the class.
    expect(searchClasses(prepared, 'tench tinca')[0]?.index).toBe(0)
    expect(searchClasses(prepared, 'goldfish carassius').map((h) => h.index)).toEqual([1])
    expect(searchClasses(prepared, 'xyzzy')).toEqual([])
  })

  it('finds a class by its index', () => {
    expect(searchClasses(prepared, '207')[0]).toMatchObject({ index: 207, kind: 'index' })
  })

  it('every word must match', () => {
    const hits = searchClasses(prepared, 'retriever gold')
    expect(hits.map((h) => h.index)).toEqual([207])
    expect(hits[0]?.kind).toBe('words')
  })
})

describe('classFromText (the prompt box of a class pack)', () => {
  it('picks the one best class and says why', () => {
    const golden = classFromText(prepared, 'golden retriever')
    expect(golden).toMatchObject({ kind: 'picked', match: { index: 207, kind: 'exact' } })
    expect(golden.reason).toBe("class 207, golden retriever (matched 'golden retriever')")
    expect(classFromText(prepared, 'a photo of two Golden Retrievers in the park')).toMatchObject({
      kind: 'picked',
      match: { index: 207, kind: 'phrase' },
    })
    expect(classFromText(prepared, 'tabby cat')).toMatchObject({ kind: 'picked', match: { index: 281 } })
  })

  it('follows the text while it is typed: a unique start of a word picks the class', () => {
    expect(classFromText(prepared, 'golden retr')).toMatchObject({
      kind: 'picked',
      match: { index: 207, kind: 'prefix' },
    })
    // Not yet unique: several classes start so.
    expect(classFromText(prepared, 'gol').kind).toBe('ambiguous')
  })

  it('lists tied matches instead of guessing, counting them all', () => {
    const crane = classFromText(prepared, 'crane')
    expect(crane).toMatchObject({
      kind: 'ambiguous',
      tied: 2,
      reason: "2 classes match 'crane' equally well",
    })
    if (crane.kind !== 'ambiguous') throw new Error('unreachable')
    expect(crane.candidates.slice(0, 2).map((m) => m.index)).toEqual([134, 517])
    const retriever = classFromText(prepared, 'Retrievers', { limit: 3 })
    expect(retriever).toMatchObject({ kind: 'ambiguous', tied: 5 })
    if (retriever.kind !== 'ambiguous') throw new Error('unreachable')
    expect(retriever.candidates).toHaveLength(3)
    expect(retriever.candidates.every((m) => m.kind === 'phrase')).toBe(true)
  })

  it('says when nothing matches', () => {
    expect(classFromText(prepared, 'xyzzy qwertyuiop')).toEqual({
      kind: 'none',
      reason: "no class name or synonym matches 'xyzzy qwertyuiop' (as words, word starts or parts of words)",
    })
    expect(classFromText(prepared, ' the ').kind).toBe('none')
  })

  it('maps a prompt fast on every keystroke: each prefix of 200 class names, under 5 ms each on average', () => {
    const prefixes = classes
      .filter((_, i) => i % 5 === 0)
      .flatMap((c) => Array.from({ length: c.name.length }, (_, n) => c.name.slice(0, n + 1)))
    const start = performance.now()
    for (const text of prefixes) classFromText(prepared, text)
    const elapsed = performance.now() - start
    console.log(`classFromText: ${prefixes.length} keystrokes in ${elapsed.toFixed(0)} ms`)
    expect(elapsed / prefixes.length).toBeLessThan(5)
  })
})
