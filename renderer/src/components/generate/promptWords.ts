/**
 * Where the words of a prompt are in the text the user typed, found by the text tokenizer's rule
 * (models/PACK_FORMAT.md, "text packs"): Unicode NFKD, combining marks removed, lower case, and every run of
 * characters outside a-z0-9 separates words. The engine encodes the prompt; this only lets the box count its
 * words as they are typed and put a suggested word in place of an unknown one, keeping the rest as typed.
 */

import { foldText } from '../../../../common/textFold.ts'

export interface WordRun {
  /** UTF-16 offsets of the word in the typed text, end exclusive. */
  start: number
  end: number
  /** The word as the tokenizer sees it. */
  word: string
}

const WORD = /^[a-z0-9]+$/

/** The words of `text`, in order. Worked out one code point at a time, so offsets point into `text` itself. */
export function wordRuns(text: string): WordRun[] {
  const runs: WordRun[] = []
  let current: WordRun | null = null
  let at = 0
  for (const char of text) {
    const start = at
    at += char.length
    const folded = foldText(char)
    if (folded === '') {
      // A combining mark: removed before words are split, so it joins the letters around it.
      if (current) current.end = at
      continue
    }
    if (WORD.test(folded)) {
      if (current) {
        current.word += folded
        current.end = at
      } else {
        current = { start, end: at, word: folded }
      }
      continue
    }
    // Separators, or a character that folds into letters and separators ("½" is "1⁄2"): its pieces of word
    // join the words before and after it.
    const pieces = folded.split(/[^a-z0-9]+/)
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string
      if (i > 0 && current) {
        runs.push(current)
        current = null
      }
      if (piece === '') continue
      if (current) {
        current.word += piece
        current.end = at
      } else {
        current = { start, end: at, word: piece }
      }
    }
  }
  if (current) runs.push(current)
  return runs
}

/** How many words the tokenizer will find in `text` (before it cuts off what does not fit). */
export function wordCount(text: string): number {
  return wordRuns(text).length
}

/** `text` with every occurrence of the word `word` (as the tokenizer sees it) replaced by `replacement`. */
export function replaceWord(text: string, word: string, replacement: string): string {
  let out = text
  for (const run of wordRuns(text).reverse()) {
    if (run.word === word) out = out.slice(0, run.start) + replacement + out.slice(run.end)
  }
  return out
}
