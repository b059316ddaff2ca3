/**
 * The prompt box's own word finder (renderer) against the engine's tokenizer: the same words for every shared
 * tokenizer vector, so the word counter and "replace with the nearest word" see what the model will see.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { normalizeWords } from '../../main/engine/text/tokenizer.ts'
import { replaceWord, wordCount, wordRuns } from '../../renderer/src/components/generate/promptWords.ts'

const VECTORS = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, '../../models/spec/tokenizer-vectors.json'), 'utf8'),
) as { vectors: { case: string; prompt: string }[] }

describe('wordRuns', () => {
  it.each(VECTORS.vectors.map((v) => [v.case, v.prompt] as const))(
    '%s: the tokenizer’s words',
    (_, prompt) => {
      expect(wordRuns(prompt).map((r) => r.word)).toEqual(normalizeWords(prompt))
      expect(wordCount(prompt)).toBe(normalizeWords(prompt).length)
    },
  )

  it('points into the typed text, so a word can be replaced in place', () => {
    const text = 'Café 😀 RED  cat, red'
    expect(wordRuns(text).map((r) => text.slice(r.start, r.end))).toEqual(['Café', 'RED', 'cat', 'red'])
    expect(replaceWord(text, 'red', 'blue')).toBe('Café 😀 blue  cat, blue')
    expect(replaceWord(text, 'dog', 'cat')).toBe(text)
  })
})
