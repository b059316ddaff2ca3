/**
 * What the pack's tokenizer makes of a prompt, in a few lines under its box: words it does not know, each with
 * the nearest word it knows as a button that puts that word in its place; words cut off because the prompt is
 * too long; characters it ignores (emoji, symbols, other scripts); and what an empty prompt means for this pack.
 * The wording follows common/prompt.ts (promptNotes), which the result view shows after a run.
 */
import type { ReactNode } from 'react'
import type { PromptCheck } from '../../../../common/prompt.ts'
import type { CheckedPrompt } from './usePromptCheck.ts'

export type NoteKind = 'unknown' | 'truncated' | 'ignored' | 'empty' | 'error'

interface Props {
  /** The list's id, which the box names in aria-describedby. */
  id: string
  testId: string
  /** The latest check (maybe of a slightly older text, until the new answer comes). */
  checked: CheckedPrompt | null
  /** The line about an empty prompt, worked out by the box from the text itself; null when it has words. */
  empty: { text: string; error: boolean } | null
  /** Puts `nearest` wherever the prompt has `word`. */
  onReplace(word: string, nearest: string): void
}

const nearestButton =
  'rounded px-1 font-medium text-indigo-700 underline decoration-dotted underline-offset-2 hover:bg-indigo-50 ' +
  'focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300 dark:hover:bg-indigo-950'

export function PromptNotes({ id, testId, checked, empty, onReplace }: Props) {
  const check = checked?.check ?? null
  const lines: { kind: NoteKind; body: ReactNode; error: boolean }[] = []
  if (checked?.error) lines.push({ kind: 'error', body: checked.error, error: true })
  if (check) {
    if (check.unknown.length > 0)
      lines.push({
        kind: 'unknown',
        body: <UnknownWords check={check} onReplace={onReplace} />,
        error: false,
      })
    if (check.truncated.length > 0)
      lines.push({
        kind: 'truncated',
        body: `prompt too long: ${check.maxWords} words at most; cut off: ${check.truncated.join(' ')}`,
        error: true,
      })
    if (check.ignored.length > 0)
      lines.push({ kind: 'ignored', body: `ignored characters: ${check.ignored.join(' ')}`, error: false })
  }
  if (empty) lines.push({ kind: 'empty', body: empty.text, error: empty.error })
  // Always in the page, so screen readers hear the notes as they change.
  return (
    <ul id={id} data-testid={testId} aria-live="polite" className="flex flex-col gap-0.5 text-xs">
      {lines.map((line) => (
        <li
          key={line.kind}
          data-testid="prompt-note"
          data-kind={line.kind}
          className={line.error ? 'text-red-600 dark:text-red-400' : 'text-amber-800 dark:text-amber-300'}
        >
          {line.body}
        </li>
      ))}
    </ul>
  )
}

/**
 * "not in this model's vocabulary: dragn; nearest known: dragon", with each nearest word a button. Several
 * words: "…: dragn, ctt; nearest known: dragn → dragon, ctt → cat".
 */
function UnknownWords({
  check,
  onReplace,
}: {
  check: PromptCheck
  onReplace(word: string, nearest: string): void
}) {
  const near = check.unknown.filter((u): u is { word: string; nearest: string } => u.nearest !== null)
  const single = check.unknown.length === 1 && near.length === 1
  return (
    <>
      not in this model's vocabulary: {check.unknown.map((u) => u.word).join(', ')}
      {near.length > 0 && '; nearest known: '}
      {near.map((u, i) => (
        <span key={u.word}>
          {i > 0 && ', '}
          {!single && `${u.word} → `}
          <button
            type="button"
            data-testid="prompt-nearest"
            data-word={u.word}
            onClick={() => onReplace(u.word, u.nearest)}
            aria-label={`Use “${u.nearest}” instead of “${u.word}”`}
            title={`Put “${u.nearest}” in place of “${u.word}”`}
            className={nearestButton}
          >
            {u.nearest}
          </button>
        </span>
      ))}
    </>
  )
}
