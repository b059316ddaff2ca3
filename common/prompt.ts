/**
 * What the word tokenizer of a text pack made of a prompt (main/engine/text/tokenizer.ts), and the lines the
 * app shows about it. Pure and browser-safe: the engine checks the prompt, the renderer only reads the result.
 */

export interface PromptCheck {
  /** What text_encoder.onnx gets, length maxTokens: BOS and the word ids then PAD, or NULL then PAD. */
  ids: number[]
  /** The normalised words kept, in order (after truncation). */
  words: string[]
  /**
   * Kept words missing from the vocabulary (encoded as UNK), each once, in prompt order. `nearest` is the known
   * word at the smallest edit distance (ties: the more frequent, i.e. the lower id); it is looked up for the first
   * 3 unknown words only and is null for the rest, for words over 32 letters and when no word is within half the
   * word's length (a suggestion that far off would not help).
   */
  unknown: { word: string; nearest: string | null }[]
  /** Words cut off beyond maxTokens - 1, in order. */
  truncated: string[]
  /**
   * Distinct non-text characters dropped (emoji, symbols, other scripts), as the prompt wrote them (a whole emoji
   * sequence is one entry). Not reported: punctuation, whitespace, invisible characters, accents and other
   * combining marks (removed on purpose: "café" is "cafe").
   */
  ignored: string[]
  /** No words at all: the null prompt (unconditional). */
  empty: boolean
  /** maxTokens - 1 */
  maxWords: number
}

/** Human lines about a checked prompt: unknown words, cut-off words and dropped characters; empty when all is well. */
export function promptNotes(check: PromptCheck): string[] {
  const notes: string[] = []
  if (check.unknown.length > 0) {
    const words = check.unknown.map((u) => u.word).join(', ')
    const near = check.unknown.filter((u) => u.nearest !== null)
    let line = `not in this model's vocabulary: ${words}`
    if (check.unknown.length === 1 && near.length === 1) line += `; nearest known: ${near[0]?.nearest}`
    else if (near.length > 0)
      line += `; nearest known: ${near.map((u) => `${u.word} → ${u.nearest}`).join(', ')}`
    notes.push(line)
  }
  if (check.truncated.length > 0) {
    notes.push(`prompt too long: ${check.maxWords} words at most; cut off: ${check.truncated.join(' ')}`)
  }
  if (check.ignored.length > 0) notes.push(`ignored characters: ${check.ignored.join(' ')}`)
  if (check.empty && check.ignored.length > 0) notes.push('no words left: the prompt counts as empty')
  return notes
}
