/**
 * What the pack's tokenizer makes of a prompt, asked of main (`prompts.check`) once typing pauses for 150 ms.
 * The answer is kept with the text and pack it is for, so a late answer to an earlier text is never taken for
 * the current one; until the new answer comes, the last one stays shown (notes that flicker away at every key
 * would be harder to read). A prompt longer than main takes is not sent: the form says what is wrong with it.
 */
import { useEffect, useState } from 'react'
import { MAX_PROMPT_CHARS } from '../../../../common/generation.ts'
import type { PromptCheck } from '../../../../common/prompt.ts'
import { client } from '../../transport/client.ts'

/** How long typing must pause before the prompt is checked. */
export const CHECK_DELAY_MS = 150

export interface CheckedPrompt {
  packId: string
  text: string
  /** Null when main could not check it; `error` then says why. */
  check: PromptCheck | null
  error: string | null
}

/** The latest check of `text` for the pack (null before the first answer, and without a pack). */
export function usePromptCheck(packId: string | null, text: string): CheckedPrompt | null {
  const [checked, setChecked] = useState<CheckedPrompt | null>(null)
  useEffect(() => {
    if (!packId) return
    if (text.length > MAX_PROMPT_CHARS) {
      setChecked({ packId, text, check: null, error: null })
      return
    }
    let current = true
    const timer = setTimeout(() => {
      void client.prompts.check({ packId, prompt: text }).then((answer) => {
        if (!current) return
        setChecked(
          answer.ok
            ? { packId, text, check: answer.value, error: null }
            : { packId, text, check: null, error: answer.error.message },
        )
      })
    }, CHECK_DELAY_MS)
    return () => {
      current = false
      clearTimeout(timer)
    }
  }, [packId, text])
  return checked && checked.packId === packId ? checked : null
}
