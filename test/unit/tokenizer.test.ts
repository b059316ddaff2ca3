import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type PromptCheck, promptNotes } from '../../common/prompt.ts'
import {
  loadTokenizer,
  MAX_NEAREST_LENGTH,
  MAX_NEAREST_LOOKUPS,
  normalizeWords,
  SPECIAL_TOKENS,
  type WordTokenizer,
} from '../../main/engine/text/tokenizer.ts'

/** models/spec/tokenizer-vectors.json, written by `cd models && /usr/bin/python3 -m ddpipe.tokenizer_vectors`. */
interface TokenizerVectors {
  tokenizer: Record<string, unknown> & { maxTokens: number; words: string[] }
  vectors: { case: string; prompt: string; words: string[]; ids: number[] }[]
}

const ROOT = path.join(import.meta.dirname, '../..')
const VECTORS = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'models/spec/tokenizer-vectors.json'), 'utf8'),
) as TokenizerVectors
const SPEC = loadTokenizer(VECTORS.tokenizer, 'tokenizer-vectors.json')

/** A tokenizer over `words` (after the special tokens), as a pack would ship it. */
const tokenizerOf = (words: string[], maxTokens = 8): WordTokenizer =>
  loadTokenizer(
    {
      format: 'dd-studio-word-tokenizer',
      version: 1,
      maxTokens,
      special: { pad: 0, null: 1, bos: 2, unk: 3 },
      words: [...SPECIAL_TOKENS, ...words],
    },
    'test tokenizer.json',
  )

describe('the shared vectors (same ids as models/ddpipe/text.py)', () => {
  it('has the vocabulary and limit of the file', () => {
    expect(SPEC.maxTokens).toBe(8)
    expect(SPEC.vocabulary).toEqual(VECTORS.tokenizer.words)
    expect(VECTORS.vectors.length).toBeGreaterThanOrEqual(30)
  })

  it.each(VECTORS.vectors.map((v) => [v.case, v] as const))('%s', (_case, vector) => {
    const maxWords = SPEC.maxTokens - 1
    expect(normalizeWords(vector.prompt)).toEqual(vector.words)
    expect(SPEC.encode(vector.prompt)).toEqual(vector.ids)
    const check = SPEC.check(vector.prompt)
    expect(check.ids).toEqual(vector.ids)
    expect(check.words).toEqual(vector.words.slice(0, maxWords))
    expect(check.truncated).toEqual(vector.words.slice(maxWords))
    expect(check.empty).toBe(vector.words.length === 0)
    expect(check.maxWords).toBe(maxWords)
  })
})

describe('check()', () => {
  const tok = tokenizerOf(['dragon', 'red', 'blue', 'cat', 'bat', 'face', 'with', 'eyes', 'a'])

  it('reports unknown words once each, with the nearest known word', () => {
    const check = tok.check('a dragn with blu eyes, dragn')
    expect(check.ids).toEqual([2, 12, 3, 10, 3, 11, 3, 0])
    expect(check.unknown).toEqual([
      { word: 'dragn', nearest: 'dragon' },
      { word: 'blu', nearest: 'blue' },
    ])
    expect(promptNotes(check)).toEqual([
      "not in this model's vocabulary: dragn, blu; nearest known: dragn → dragon, blu → blue",
    ])
    expect(promptNotes(tok.check('red dragn'))).toEqual([
      "not in this model's vocabulary: dragn; nearest known: dragon",
    ])
  })

  it('breaks ties in edit distance towards the lower id (the more frequent word)', () => {
    expect(tok.check('xat').unknown).toEqual([{ word: 'xat', nearest: 'cat' }])
    expect(tokenizerOf(['bat', 'cat']).check('xat').unknown).toEqual([{ word: 'xat', nearest: 'bat' }])
    // closer beats lower id
    expect(tokenizerOf(['cat', 'dragon']).check('dragons').unknown[0]?.nearest).toBe('dragon')
  })

  it('gives no nearest word when nothing is close, the word is too long, or past the first lookups', () => {
    expect(tok.check('qqqqqqq').unknown).toEqual([{ word: 'qqqqqqq', nearest: null }])
    const long = `dragon${'x'.repeat(MAX_NEAREST_LENGTH)}`
    expect(tok.check(long).unknown).toEqual([{ word: long, nearest: null }])
    const check = tok.check('rad cet bla dragn fase')
    expect(check.unknown.map((u) => u.nearest)).toEqual([
      ...['red', 'cat', 'blue'].slice(0, MAX_NEAREST_LOOKUPS),
      null,
      null,
    ])
    expect(promptNotes(check)[0]).toBe(
      "not in this model's vocabulary: rad, cet, bla, dragn, fase; nearest known: rad → red, cet → cat, bla → blue",
    )
  })

  it('reports the words cut off beyond maxTokens - 1', () => {
    const check = tokenizerOf(['a', 'red', 'cat'], 4).check('a red cat with blue eyes')
    expect(check.ids).toEqual([2, 4, 5, 6])
    expect(check.words).toEqual(['a', 'red', 'cat'])
    expect(check.truncated).toEqual(['with', 'blue', 'eyes'])
    expect(check.unknown).toEqual([]) // words cut off are not encoded, so not reported as unknown
    expect(check.maxWords).toBe(3)
    expect(promptNotes(check)).toEqual(['prompt too long: 3 words at most; cut off: with blue eyes'])
  })

  it('reports distinct dropped characters, not punctuation, whitespace, accents or invisible ones', () => {
    const ignored = (prompt: string) => tok.check(prompt).ignored
    expect(ignored('red😀cat ★ 猫, cat! 😀 (dog) — “quoted” café…')).toEqual(['😀', '★', '猫'])
    expect(ignored('👨‍👩‍👧 and 👍🏽')).toEqual(['👨‍👩‍👧', '👍🏽']) // one entry per emoji sequence
    expect(ignored('Straße')).toEqual(['ß'])
    expect(ignored('한국')).toEqual(['한', '국'])
    // these all give letters or digits, or are spaces and punctuation in another width
    expect(ignored('1️⃣ ½ ﬁsh Ｋ x² \u00a0cat\u3000！ ab\u0903cd ca\u0301t cat\u200dface İ')).toEqual([])
    expect(ignored('a, b; c: d. (e) [f] {g} "h" \'i\' \t\n\r ~!@#$%^&*_+=|\\/<>?`')).toEqual([])
  })

  it('reads an empty or wordless prompt as the null prompt', () => {
    for (const prompt of ['', '   ', '\t\n', '!?', '😀']) {
      const check = tok.check(prompt)
      expect(check.ids).toEqual([1, 0, 0, 0, 0, 0, 0, 0])
      expect(check.empty).toBe(true)
      expect(check.words).toEqual([])
    }
    expect(promptNotes(tok.check(''))).toEqual([])
    expect(promptNotes(tok.check('😀 ★'))).toEqual([
      'ignored characters: 😀 ★',
      'no words left: the prompt counts as empty',
    ])
  })

  it('has nothing to say about a clean prompt', () => {
    const check: PromptCheck = tok.check('A red dragon with blue eyes')
    expect(check.unknown).toEqual([])
    expect(promptNotes(check)).toEqual([])
  })

  it('finds the nearest of a 5000-word vocabulary in well under 5 ms per word', () => {
    let state = 12345
    const random = () => {
      // xorshift32: a fixed vocabulary on every run
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return (state >>> 0) / 4_294_967_296
    }
    const letters = 'abcdefghijklmnopqrstuvwxyz'
    const words = new Set<string>()
    while (words.size < 5000) {
      const length = 2 + Math.floor(random() * 12)
      words.add(Array.from({ length }, () => letters[Math.floor(random() * 26)]).join(''))
    }
    const big = tokenizerOf([...words], 16)
    // unknown words of several lengths, far from everything (the slowest case: no early stop)
    const prompts = ['zzqzzqzzq qxqxqxqxqxqxqx jjjjj', 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq abcdefghijklmnopq xq']
    big.check(prompts[0] as string) // warm up
    const started = performance.now()
    let lookups = 0
    for (let i = 0; i < 10; i++) {
      for (const prompt of prompts) lookups += big.check(prompt).unknown.filter((u) => u.word).length
    }
    const perWord = (performance.now() - started) / lookups
    console.log(`nearest word in 5000: ${perWord.toFixed(3)} ms per unknown word`)
    expect(perWord).toBeLessThan(5)
  })
})

describe('loadTokenizer rejects bad files with a message naming the file and the problem', () => {
  const good = {
    format: 'dd-studio-word-tokenizer',
    version: 1,
    maxTokens: 8,
    special: { pad: 0, null: 1, bos: 2, unk: 3 },
    words: [...SPECIAL_TOKENS, 'cat', 'red'],
  }
  const rejects = (file: unknown, message: RegExp) =>
    expect(() => loadTokenizer(file, 'pack x: tokenizer.json')).toThrow(message)

  it('accepts a good file', () => {
    expect(loadTokenizer(good, 'x').vocabulary).toEqual(good.words)
  })

  it('names each problem', () => {
    rejects(null, /^pack x: tokenizer\.json: must be a JSON object, not null$/)
    rejects([], /must be a JSON object, not an array/)
    rejects({ ...good, format: 'bpe' }, /tokenizer\.json: format: must be "dd-studio-word-tokenizer"/)
    rejects({ ...good, version: 2 }, /version: version 2 is newer than this app reads \(1\)/)
    rejects({ ...good, maxTokens: 1 }, /maxTokens: must be an integer from 2 to 256/)
    rejects({ ...good, maxTokens: 257 }, /maxTokens: must be an integer from 2 to 256/)
    rejects({ ...good, maxTokens: 7.5 }, /maxTokens: must be an integer from 2 to 256/)
    rejects({ ...good, maxTokens: '8' }, /maxTokens: must be an integer from 2 to 256/)
    rejects({ ...good, special: { pad: 0, null: 1, bos: 3, unk: 2 } }, /special\.bos: must be 2/)
    rejects({ ...good, special: undefined }, /special: must be an object/)
    rejects({ ...good, words: ['cat', 'red'] }, /words: has 2 entries: it must hold the special tokens/)
    rejects({ ...good, words: ['<pad>', '<null>', 'cat', '<unk>', 'red'] }, /words\.2: must be "<bos>"/)
    rejects({ ...good, words: [...SPECIAL_TOKENS] }, /words: has 4 entries/)
    rejects({ ...good, words: [...good.words, 'cat'] }, /words\.6: duplicate word "cat" \(also at 4\)/)
    rejects({ ...good, words: [...good.words, 7] }, /words\.6: must be a string, not number/)
    rejects({ ...good, words: [...good.words, 'Red'] }, /words\.6: "Red" is not a normalised word/)
    rejects({ ...good, words: [...good.words, 'caf\u00e9'] }, /words\.6: "café" is not a normalised word/)
    rejects({ ...good, words: [...good.words, '<unk>'] }, /words\.6: "<unk>" is not a normalised word/)
    rejects({ ...good, words: 'cat red' }, /words: must be an array of words/)
  })

  it('lists several problems at once', () => {
    rejects({ ...good, format: 'x', maxTokens: 0 }, /format: .*; maxTokens: /)
  })
})

/** Real packs here: the shipped ones and those the pipeline built into models/.cache/packs. */
function textPackDirs(): string[] {
  return ['models/packs', 'models/.cache/packs'].flatMap((parent) => {
    const dir = path.join(ROOT, parent)
    if (!fs.existsSync(dir)) return []
    return fs
      .readdirSync(dir)
      .map((name) => path.join(dir, name))
      .filter((pack) => fs.existsSync(path.join(pack, 'tokenizer.json')))
  })
}

describe('the tokenizers of real text packs', () => {
  const dirs = textPackDirs()
  it.runIf(dirs.length === 0)(
    '(none here: no models/packs/* or models/.cache/packs/* has tokenizer.json)',
    () => {
      console.warn('no text pack with tokenizer.json here; the real-tokenizer checks are skipped')
    },
  )
  it.each(dirs)('%s loads, fits its manifest and knows every word of its example prompts', (dir) => {
    const file = path.join(dir, 'tokenizer.json')
    const tok = loadTokenizer(JSON.parse(fs.readFileSync(file, 'utf8')), file)
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      conditioning: { maxTokens?: number; examplePrompts?: string[] }
    }
    expect(tok.maxTokens).toBe(manifest.conditioning.maxTokens)
    const prompts = manifest.conditioning.examplePrompts ?? []
    for (const prompt of prompts) expect(tok.check(prompt).unknown, prompt).toEqual([])
    console.log(
      `${file}: ${tok.vocabulary.length} words, maxTokens ${tok.maxTokens}, ${prompts.length} examples`,
    )
  })
})
