/**
 * The word tokenizer of text packs (models/PACK_FORMAT.md, "Revision 1.3: text packs"). It must give exactly the
 * ids the pipeline's tokenizer gave during training (models/ddpipe/text.py): both sides are checked against the
 * shared vectors in models/spec/tokenizer-vectors.json.
 *
 * Encoding: Unicode NFKD, combining marks removed, lower case; every run of characters outside a-z0-9 separates
 * words; BOS then the words' ids (UNK for unknown words), at most maxTokens - 1 of them, padded with PAD. A prompt
 * without words is the null prompt: NULL then PAD.
 *
 * "Combining mark" means what Python's unicodedata.combining() means: canonical combining class above 0. That is
 * not \p{M}: some marks have class 0 (spacing marks such as U+0903, enclosing marks such as the keycap U+20E3,
 * variation selectors such as U+FE0F) and Python keeps them, so they separate words. JavaScript exposes no
 * combining class, so it is read off canonical ordering instead (see `isCombining` in common/textFold.ts).
 */
import { z } from 'zod'
import type { PromptCheck } from '../../../common/prompt.ts'
import { AppError } from '../../../common/result.ts'
import { foldText } from '../../../common/textFold.ts'

export const TOKENIZER_FORMAT = 'dd-studio-word-tokenizer'
export const TOKENIZER_VERSION = 1
export const SPECIAL_TOKENS = ['<pad>', '<null>', '<bos>', '<unk>'] as const
export const PAD = 0
export const NULL = 1
export const BOS = 2
export const UNK = 3
const FIRST_WORD = SPECIAL_TOKENS.length

/** Unknown words that get a nearest known word; the rest are listed with nearest null. */
export const MAX_NEAREST_LOOKUPS = 3
/** Longer unknown words get no nearest word: nothing in a caption vocabulary is that long. */
export const MAX_NEAREST_LENGTH = 32
const MAX_ISSUES = 5

const WORD = /^[a-z0-9]+$/

const describeInput = (input: unknown): string =>
  input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input

const TokenizerFileSchema = z.object(
  {
    format: z.literal(TOKENIZER_FORMAT, {
      error: `must be "${TOKENIZER_FORMAT}": this is not a word tokenizer file`,
    }),
    version: z.literal(TOKENIZER_VERSION, {
      error: (issue) =>
        typeof issue.input === 'number' && issue.input > TOKENIZER_VERSION
          ? `version ${issue.input} is newer than this app reads (${TOKENIZER_VERSION})`
          : `must be ${TOKENIZER_VERSION}`,
    }),
    /** Informational fields the pipeline writes. */
    kind: z.literal('words', { error: 'must be "words"' }).optional(),
    normalization: z.string().max(1000).optional(),
    maxTokens: z
      .number({ error: 'must be an integer from 2 to 256' })
      .int({ error: 'must be an integer from 2 to 256' })
      .min(2, { error: 'must be an integer from 2 to 256 (BOS and at least one word)' })
      .max(256, { error: 'must be an integer from 2 to 256' }),
    special: z.object(
      {
        pad: z.literal(PAD, { error: `must be ${PAD}` }),
        null: z.literal(NULL, { error: `must be ${NULL}` }),
        bos: z.literal(BOS, { error: `must be ${BOS}` }),
        unk: z.literal(UNK, { error: `must be ${UNK}` }),
      },
      { error: 'must be an object {pad: 0, null: 1, bos: 2, unk: 3}' },
    ),
    words: z
      .array(z.string({ error: (issue) => `must be a string, not ${describeInput(issue.input)}` }), {
        error: 'must be an array of words',
      })
      .max(1_000_000, { error: 'has more than 1,000,000 words' })
      .superRefine((words, ctx) => {
        const issue = (path: number[], message: string) => {
          if (ctx.issues.length < MAX_ISSUES) ctx.addIssue({ code: 'custom', path, message })
        }
        const specials = SPECIAL_TOKENS.join(', ')
        if (words.length <= FIRST_WORD) {
          issue([], `has ${words.length} entries: it must hold the special tokens ${specials} and then words`)
        }
        SPECIAL_TOKENS.forEach((token, id) => {
          if (id < words.length && words[id] !== token) {
            issue([id], `must be "${token}": the vocabulary starts with the special tokens ${specials}`)
          }
        })
        const seen = new Map<string, number>()
        words.forEach((word, id) => {
          if (id < FIRST_WORD) return
          if (!WORD.test(word)) {
            issue([id], `${JSON.stringify(word)} is not a normalised word (lower-case a-z and 0-9 only)`)
          }
          const first = seen.get(word)
          if (first !== undefined) issue([id], `duplicate word "${word}" (also at ${first})`)
          else seen.set(word, id)
        })
      }),
  },
  { error: (issue) => `must be a JSON object, not ${describeInput(issue.input)}` },
)

export type TokenizerFile = z.infer<typeof TokenizerFileSchema>

/**
 * Validates a parsed tokenizer.json; `where` names the file in the error (e.g. "pack 'x': tokenizer.json").
 * Throws an AppError ('unavailable': the pack that holds the file cannot be used) listing the problems.
 */
export function loadTokenizer(json: unknown, where: string): WordTokenizer {
  const parsed = TokenizerFileSchema.safeParse(json)
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, MAX_ISSUES)
      .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    throw new AppError('unavailable', `${where}: ${problems.join('; ')}`)
  }
  return new WordTokenizer(parsed.data.words, parsed.data.maxTokens)
}

// ---------------------------------------------------------------- normalisation

/** The words of a prompt, as models/ddpipe/text.py normalize_words gives them. */
export function normalizeWords(text: string): string[] {
  return foldText(text)
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0)
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })
const MAKES_TEXT = /[a-z0-9]/
const ASCII_ONLY = /^\p{ASCII}*$/u
/** Dropped without a word: spaces, punctuation, invisible characters and controls are not worth reporting. */
const SILENT = /^[\p{White_Space}\p{P}\p{Default_Ignorable_Code_Point}\p{Cc}]$/u
const MARK = /^\p{M}$/u

/**
 * The characters of a prompt that the encoding drops and the user may want to know about, distinct, as written.
 * The unit is the grapheme cluster, so an emoji sequence (skin tone, ZWJ family, keycap) is one entry. A cluster
 * that also gave letters (a letter with an enclosing circle) reports only its visible dropped characters, not marks.
 * NFKD works character by character (reordering touches only the removed marks), so folding each character
 * alone says exactly what became of it in the whole prompt.
 */
function ignoredCharacters(prompt: string): string[] {
  const ignored = new Set<string>()
  for (const { segment } of graphemes.segment(prompt)) {
    if (ASCII_ONLY.test(segment)) continue
    let madeText = false
    const dropped: string[] = []
    for (const ch of segment) {
      const folded = foldText(ch)
      if (MAKES_TEXT.test(folded)) madeText = true
      else if (folded !== '' && !SILENT.test(ch) && !ASCII_ONLY.test(folded)) dropped.push(ch)
    }
    if (dropped.length === 0) continue
    const entry = madeText ? dropped.filter((ch) => !MARK.test(ch)).join('') : segment
    if (entry !== '') ignored.add(entry)
  }
  return [...ignored]
}

// ---------------------------------------------------------------- nearest word

/** Levenshtein distance of a and b, or limit + 1 as soon as it must exceed limit. */
function boundedDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let prev = new Int32Array(b.length + 1)
  let row = new Int32Array(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    row[0] = i
    let rowMin = i
    const ca = a.charCodeAt(i - 1)
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1
      const value = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      )
      row[j] = value
      if (value < rowMin) rowMin = value
    }
    if (rowMin > limit) return limit + 1
    ;[prev, row] = [row, prev]
  }
  return prev[b.length] as number
}

// ---------------------------------------------------------------- tokenizer

export class WordTokenizer {
  /** Prompt slots T: BOS (or NULL) plus at most T - 1 words. */
  readonly maxTokens: number
  /** The whole vocabulary, id = index: the special tokens, then the words, most frequent first. */
  readonly vocabulary: readonly string[]
  private readonly ids: Map<string, number>

  /** `words` must be valid (loadTokenizer checks them). */
  constructor(words: readonly string[], maxTokens: number) {
    this.vocabulary = Object.freeze([...words])
    this.maxTokens = maxTokens
    this.ids = new Map(words.map((word, id) => [word, id]))
    for (const token of SPECIAL_TOKENS) this.ids.delete(token)
  }

  /** The ids text_encoder.onnx gets for a prompt, exactly as the pipeline encodes it. */
  encode(prompt: string): number[] {
    return this.check(prompt).ids
  }

  check(prompt: string): PromptCheck {
    const all = normalizeWords(prompt)
    const maxWords = this.maxTokens - 1
    const words = all.slice(0, maxWords)
    const ids = words.length === 0 ? [NULL] : [BOS, ...words.map((word) => this.ids.get(word) ?? UNK)]
    while (ids.length < this.maxTokens) ids.push(PAD)
    const unknownWords = [...new Set(words.filter((word) => !this.ids.has(word)))]
    return {
      ids,
      words,
      unknown: unknownWords.map((word, i) => ({
        word,
        nearest: i < MAX_NEAREST_LOOKUPS ? this.nearest(word) : null,
      })),
      truncated: all.slice(maxWords),
      ignored: ignoredCharacters(prompt),
      empty: words.length === 0,
      maxWords,
    }
  }

  /**
   * The known word closest to `word` by edit distance, ties to the lower id (the more frequent word); null when
   * none is within half the word's length (at least 1) or the word is too long to bother.
   */
  nearest(word: string): string | null {
    if (word.length > MAX_NEAREST_LENGTH) return null
    let limit = Math.max(1, Math.ceil(word.length / 2))
    let best: string | null = null
    for (let id = FIRST_WORD; id < this.vocabulary.length && limit > 0; id++) {
      const candidate = this.vocabulary[id] as string
      if (candidate === word) continue
      const distance = boundedDistance(word, candidate, limit)
      if (distance <= limit) {
        best = candidate
        limit = distance - 1 // later ids must be strictly closer
      }
    }
    return best
  }
}
