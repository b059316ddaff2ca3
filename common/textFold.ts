/**
 * How a text pack's tokenizer folds text before it splits words (models/PACK_FORMAT.md, "text packs"): Unicode
 * NFKD, combining marks removed, lower case. The engine's tokenizer and the prompt box's word finder both use it,
 * so the box counts and replaces exactly the words the model reads.
 */

/** U+0345 has the highest canonical combining class (240), and it is the only character with it. */
const HIGHEST_CLASS_MARK = '\u0345'

/**
 * Python's unicodedata.combining(ch) != 0 for a character of NFKD output. Canonical ordering moves a mark of a
 * lower nonzero class in front of U+0345, and never moves a class-0 character, so NFD changes the pair exactly
 * when `ch` has a class from 1 to 239 (`ch` is already decomposed, so nothing else changes). No character below
 * U+0300 has a nonzero class. (`\p{M}` is not the same set: spacing marks, enclosing marks and variation
 * selectors have class 0.)
 */
function isCombining(ch: string): boolean {
  if (ch < '\u0300') return false
  if (ch === HIGHEST_CLASS_MARK) return true
  const pair = HIGHEST_CLASS_MARK + ch
  return pair.normalize('NFD') !== pair
}

/** NFKD, combining marks removed, lower case: the text whose a-z0-9 runs are the words. */
export function foldText(text: string): string {
  let kept = ''
  for (const ch of text.normalize('NFKD')) if (!isCombining(ch)) kept += ch
  return kept.toLowerCase()
}
