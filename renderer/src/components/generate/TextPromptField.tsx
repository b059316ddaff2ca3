/**
 * The prompt of a text pack, the form's main input: a multi-line box where Enter generates and Shift+Enter
 * starts a new line, with its word count against what the pack reads ("7 / 15 words"), and under it what the
 * pack's tokenizer makes of it (PromptNotes: unknown words with the nearest known one to click, words cut off,
 * ignored characters, what an empty prompt means). ↑ and ↓ in an empty box go through the pack's earlier
 * prompts, which the History list also offers; Surprise me puts in one of the pack's example prompts. A pack
 * that takes a negative prompt gets a second box for it, with its own count and notes.
 */
import type { KeyboardEvent } from 'react'
import { useState } from 'react'
import type { PackSummary } from '../../../../common/generation.ts'
import { PromptHistoryMenu } from './PromptHistoryMenu.tsx'
import { PromptNotes } from './PromptNotes.tsx'
import type { PromptHistory } from './promptHistory.ts'
import { replaceWord, wordCount } from './promptWords.ts'
import { control, fieldError, fieldLabel, hint, smallButton } from './ui.ts'
import { usePromptCheck } from './usePromptCheck.ts'

/** What a text pack's prompt reads; PackSummary.text of a text pack. */
export type TextInfo = NonNullable<PackSummary['text']>

interface Props {
  pack: PackSummary
  text: TextInfo
  prompt: string
  onPromptChange(prompt: string): void
  negativePrompt: string
  onNegativeChange(prompt: string): void
  /** Enter in either box. */
  onGenerate(): void
  history: PromptHistory
  /** The form's problem with each box (too long), and whether the server's refusal is about it. */
  errors: { prompt?: string | undefined; negativePrompt?: string | undefined }
  serverField: 'prompt' | 'negativePrompt' | null
}

/** A random example prompt other than `current`; null when there is none. */
export function surprisePrompt(examples: readonly string[], current: string): string | null {
  const others = [...new Set(examples)].filter((p) => p.trim() !== current.trim() && p.trim() !== '')
  if (others.length === 0) return null
  return others[Math.floor(Math.random() * others.length)] ?? null
}

/** Enter without Shift (or Ctrl/Cmd, which the window's shortcut handles), outside an IME composition. */
function isPlainEnter(e: KeyboardEvent): boolean {
  return (
    e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey && !e.nativeEvent.isComposing
  )
}

export function TextPromptField({
  pack,
  text,
  prompt,
  onPromptChange,
  negativePrompt,
  onNegativeChange,
  onGenerate,
  history,
  errors,
  serverField,
}: Props) {
  const checked = usePromptCheck(pack.id, prompt)
  const negativeChecked = usePromptCheck(text.negativePrompt ? pack.id : null, negativePrompt)
  // Going through the history with the arrow keys: which entry is shown, and the text to come back to.
  const [browsing, setBrowsing] = useState<{ at: number; draft: string } | null>(null)
  const inHistory = browsing !== null && history.entries[browsing.at] === prompt ? browsing : null

  const maxWords = text.maxTokens - 1
  const words = wordCount(prompt)
  const noWords = words === 0
  const empty = noWords
    ? {
        text:
          prompt.trim() === ''
            ? text.unconditional
              ? 'empty prompt: an unconditional image'
              : 'this pack needs a prompt: it has no unconditional mode'
            : text.unconditional
              ? 'no words left: the prompt counts as empty, so an unconditional image'
              : 'no words left: this pack needs a prompt (it has no unconditional mode)',
        error: !text.unconditional,
      }
    : null
  const negativeEmpty =
    negativePrompt.trim() !== '' && wordCount(negativePrompt) === 0
      ? { text: 'no words left: the negative prompt counts as empty', error: false }
      : null

  function onPromptKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (isPlainEnter(e)) {
      e.preventDefault()
      onGenerate()
      return
    }
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return
    const entries = history.entries
    if (e.key === 'ArrowUp' && entries.length > 0 && (prompt === '' || inHistory)) {
      e.preventDefault()
      const at = inHistory ? Math.min(inHistory.at + 1, entries.length - 1) : 0
      setBrowsing({ at, draft: inHistory?.draft ?? prompt })
      onPromptChange(entries[at] as string)
    } else if (e.key === 'ArrowDown' && inHistory) {
      e.preventDefault()
      if (inHistory.at === 0) {
        setBrowsing(null)
        onPromptChange(inHistory.draft)
      } else {
        setBrowsing({ ...inHistory, at: inHistory.at - 1 })
        onPromptChange(entries[inHistory.at - 1] as string)
      }
    }
  }

  function surprise() {
    const next = surprisePrompt(text.examplePrompts, prompt)
    if (next === null) return
    setBrowsing(null)
    onPromptChange(next)
    document.getElementById('field-prompt')?.focus()
  }

  // An empty prompt's error is already the empty note's.
  const promptError = empty?.error ? undefined : errors.prompt
  const describedBy = [
    'prompt-count',
    'prompt-notes',
    promptError ? 'prompt-error' : null,
    serverField === 'prompt' ? 'server-input-error' : null,
    'prompt-keys',
  ]
    .filter(Boolean)
    .join(' ')
  const surpriseOff = surprisePrompt(text.examplePrompts, prompt) === null

  return (
    <div className="flex flex-col gap-1">
      <div className="flex items-baseline justify-between gap-2">
        <label htmlFor="field-prompt" className={fieldLabel}>
          Prompt
        </label>
        <WordCount id="prompt-count" words={words} maxWords={maxWords} />
      </div>
      <textarea
        id="field-prompt"
        data-testid="prompt-input"
        rows={3}
        value={prompt}
        onChange={(e) => {
          setBrowsing(null)
          onPromptChange(e.target.value)
        }}
        onKeyDown={onPromptKey}
        aria-describedby={describedBy}
        aria-invalid={promptError || serverField === 'prompt' || (empty?.error ?? false) ? true : undefined}
        aria-keyshortcuts="Enter"
        placeholder={text.examplePrompts[0] ? `e.g. ${text.examplePrompts[0]}` : 'What to make'}
        spellCheck={false}
        className={`${control} resize-y`}
      />
      <div className="flex flex-wrap items-center gap-1.5">
        <PromptHistoryMenu
          history={history}
          onPick={(p) => {
            setBrowsing(null)
            onPromptChange(p)
            document.getElementById('field-prompt')?.focus()
          }}
        />
        <button
          type="button"
          data-testid="prompt-surprise"
          onClick={surprise}
          disabled={surpriseOff}
          title="One of the prompts this pack was trained on"
          className={smallButton}
        >
          Surprise me
        </button>
        <span id="prompt-keys" className="ml-auto text-[11px] text-zinc-500 dark:text-zinc-400">
          Enter generates · Shift+Enter new line · ↑ earlier prompts
        </span>
      </div>
      {promptError && (
        <p id="prompt-error" className={fieldError}>
          {promptError}
        </p>
      )}
      <PromptNotes
        id="prompt-notes"
        testId="prompt-notes"
        checked={checked}
        empty={empty}
        onReplace={(word, nearest) => onPromptChange(replaceWord(prompt, word, nearest))}
      />
      {text.negativePrompt && (
        <div className="mt-2 flex flex-col gap-1">
          <div className="flex items-baseline justify-between gap-2">
            <label htmlFor="field-negativePrompt" className={fieldLabel}>
              Negative prompt
            </label>
            <WordCount id="negative-count" words={wordCount(negativePrompt)} maxWords={maxWords} />
          </div>
          <textarea
            id="field-negativePrompt"
            data-testid="negative-prompt-input"
            rows={2}
            value={negativePrompt}
            onChange={(e) => onNegativeChange(e.target.value)}
            onKeyDown={(e) => {
              if (!isPlainEnter(e)) return
              e.preventDefault()
              onGenerate()
            }}
            aria-describedby={[
              'negative-count',
              'negative-notes',
              errors.negativePrompt ? 'negativePrompt-error' : null,
              serverField === 'negativePrompt' ? 'server-input-error' : null,
              'negative-hint',
            ]
              .filter(Boolean)
              .join(' ')}
            aria-invalid={errors.negativePrompt || serverField === 'negativePrompt' ? true : undefined}
            aria-keyshortcuts="Enter"
            placeholder="What to steer away from (optional)"
            spellCheck={false}
            className={`${control} resize-y`}
          />
          {errors.negativePrompt && (
            <p id="negativePrompt-error" className={fieldError}>
              {errors.negativePrompt}
            </p>
          )}
          <PromptNotes
            id="negative-notes"
            testId="negative-notes"
            checked={negativePrompt.trim() === '' ? null : negativeChecked}
            empty={negativeEmpty}
            onReplace={(word, nearest) => onNegativeChange(replaceWord(negativePrompt, word, nearest))}
          />
          <p id="negative-hint" className={hint}>
            Guidance steers away from it instead of from an empty prompt. Only the original model’s modes
            (Hybrid, Original AR, Exact teacher) use it, with guidance on (Advanced, CFG scale).
          </p>
        </div>
      )}
    </div>
  )
}

function WordCount({ id, words, maxWords }: { id: string; words: number; maxWords: number }) {
  const over = words > maxWords
  return (
    <span
      id={id}
      data-testid={id}
      className={`text-[11px] tabular-nums ${over ? 'font-medium text-red-600 dark:text-red-400' : 'text-zinc-500 dark:text-zinc-400'}`}
    >
      {words} / {maxWords} words
    </span>
  )
}
