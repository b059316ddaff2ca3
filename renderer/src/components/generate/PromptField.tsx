/**
 * The prompt box. A pack conditioned on classes cannot read text, so for it the prompt is mapped to one of its
 * classes as it is typed (common/classMatch.ts, classFromText): a clear best match becomes the chosen class and
 * the box says which and why ("Class 207 · golden retriever (matched 'golden retriever')"); tied matches are
 * listed to click; text that matches nothing says so. The class can still be chosen directly below; the
 * request only ever carries the class index. No pack at all leaves the box disabled, saying why. A text pack
 * has its own prompt box (TextPromptField), whose prompt goes to the model as it is.
 */
import { useMemo, useState } from 'react'
import { type ClassMatch, classFromText, type TextToClass } from '../../../../common/classMatch.ts'
import type { PackSummary } from '../../../../common/generation.ts'
import { classLabel, preparedClassesOf } from './classSearch.ts'
import { control, fieldLabel, hint } from './ui.ts'

interface Props {
  pack: PackSummary | null
  /** The class the form will use. */
  classIndex: number
  /** Makes `index` the chosen class (the prompt found it, or the user clicked one of its matches). */
  onPickClass(index: number): void
}

/** Why the box is disabled: no pack. Null for a class pack, whose prompt picks a class. */
export function whyNoPrompt(pack: PackSummary | null): string | null {
  return pack ? null : 'Choose a model pack first.'
}

const NONE: TextToClass = { kind: 'none', reason: '' }

export function PromptField({ pack, classIndex, onPickClass }: Props) {
  const [text, setText] = useState('')
  // The class the user clicked among tied matches, for the text it was clicked for.
  const [clicked, setClicked] = useState<{ text: string; index: number } | null>(null)
  const disabledWhy = whyNoPrompt(pack)
  const classes = pack?.classes ?? null
  const prepared = classes && disabledWhy === null ? preparedClassesOf(classes) : null
  const found = useMemo(
    () => (prepared && text.trim() !== '' ? classFromText(prepared, text) : NONE),
    [prepared, text],
  )

  function type(value: string) {
    setText(value)
    setClicked(null)
    if (!prepared || value.trim() === '') return
    const result = classFromText(prepared, value)
    if (result.kind === 'picked' && result.match.index !== classIndex) onPickClass(result.match.index)
  }

  function pick(index: number) {
    setClicked({ text, index })
    onPickClass(index)
  }

  const describedBy = 'prompt-hint'
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor="field-prompt" className={fieldLabel}>
        Prompt
      </label>
      <textarea
        id="field-prompt"
        data-testid="prompt-input"
        rows={2}
        value={disabledWhy === null ? text : ''}
        onChange={(e) => type(e.target.value)}
        disabled={disabledWhy !== null}
        aria-describedby={describedBy}
        placeholder={
          disabledWhy === null ? 'What to make, e.g. golden retriever' : 'A prompt, for packs that read text'
        }
        spellCheck={false}
        className={`${control} resize-none`}
      />
      {/* Always present, so screen readers hear what the prompt picked as it changes. */}
      <div id="prompt-hint" role="status" data-testid="prompt-status" className={hint}>
        {disabledWhy ?? (
          <PromptOutcome
            text={text}
            found={found}
            classIndex={classIndex}
            className={pack?.classes.find((c) => c.index === classIndex)?.name ?? null}
            classCount={pack?.classes.length ?? 0}
            clicked={clicked?.text === text ? clicked.index : null}
          />
        )}
      </div>
      {disabledWhy === null && <Candidates found={found} classIndex={classIndex} onPick={pick} />}
    </div>
  )
}

function PromptOutcome({
  text,
  found,
  classIndex,
  className,
  classCount,
  clicked,
}: {
  text: string
  found: TextToClass
  classIndex: number
  className: string | null
  classCount: number
  clicked: number | null
}) {
  if (text.trim() === '')
    return (
      <>
        Type what to make, such as “golden retriever”: the prompt picks the closest of the pack’s {classCount}{' '}
        classes. Or choose a class below.
      </>
    )
  const chosen = className !== null ? classLabel(classIndex, className) : `Class ${classIndex}`
  if (found.kind === 'none') return <>No class found: {found.reason}. Choose a class below.</>
  if (found.kind === 'picked') {
    const { match } = found
    if (match.index === classIndex)
      return (
        <>
          <span className="font-medium text-zinc-700 dark:text-zinc-300">
            {classLabel(match.index, match.name)}
          </span>{' '}
          ({reasonOf(match)})
        </>
      )
    return (
      <>
        The prompt matches {classLabel(match.index, match.name)} ({reasonOf(match)}), but {chosen} is chosen
        below.
      </>
    )
  }
  if (clicked === classIndex)
    return (
      <>
        <span className="font-medium text-zinc-700 dark:text-zinc-300">{chosen}</span> (chosen among the
        matches of the prompt)
      </>
    )
  return <>{capitalise(found.reason)}: choose one.</>
}

/** The classes to click: the tied best matches, or the match the prompt picked when another class is chosen. */
function Candidates({
  found,
  classIndex,
  onPick,
}: {
  found: TextToClass
  classIndex: number
  onPick(index: number): void
}) {
  let items: ClassMatch[] = []
  let label = ''
  if (found.kind === 'ambiguous') {
    items = found.candidates
    label = 'Classes that match the prompt'
  } else if (found.kind === 'picked' && found.match.index !== classIndex) {
    items = [found.match]
    label = 'The class the prompt matches'
  }
  if (items.length === 0) return null
  const more = found.kind === 'ambiguous' ? found.tied - items.length : 0
  return (
    <fieldset aria-label={label} data-testid="prompt-candidates" className="flex flex-wrap gap-1">
      {items.map((m) => (
        <button
          key={m.index}
          type="button"
          aria-pressed={m.index === classIndex}
          data-class-index={m.index}
          title={reasonOf(m)}
          onClick={() => onPick(m.index)}
          className="rounded-md border border-zinc-300 px-1.5 py-0.5 text-xs text-zinc-800 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 aria-pressed:border-indigo-500 aria-pressed:bg-indigo-50 aria-pressed:text-indigo-800 dark:border-zinc-700 dark:text-zinc-200 dark:hover:bg-zinc-800 dark:aria-pressed:bg-indigo-950 dark:aria-pressed:text-indigo-200"
        >
          {found.kind === 'picked' ? `Use ${classLabel(m.index, m.name)}` : classLabel(m.index, m.name)}
        </button>
      ))}
      {more > 0 && (
        <span className="self-center text-xs text-zinc-600 dark:text-zinc-400">
          and {more} more: search the classes below
        </span>
      )}
    </fieldset>
  )
}

/** "matched 'x' (whole words)" as "matched 'x', whole words", to sit inside the label's own brackets. */
function reasonOf(match: ClassMatch): string {
  return match.reason.replace(/ \(([^()]*)\)$/, ', $1')
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
