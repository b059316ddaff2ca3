/**
 * The prompt box. Packs conditioned on classes cannot read text, so for them the box stays visible but
 * disabled, and says why and what to use instead; the same holds for a text pack, which this version of the
 * engine cannot run yet (the registry reports that on the pack).
 */
import type { PackSummary } from '../../../../common/generation.ts'
import { control, fieldLabel, hint } from './ui.ts'

interface Props {
  pack: PackSummary | null
}

export function whyNoPrompt(pack: PackSummary | null): string {
  if (!pack) return 'Choose a model pack first.'
  if (pack.conditioning === 'text')
    return `${pack.name ?? pack.id} is a text-to-image pack, which this version of DD Studio cannot run yet.`
  return `${pack.name ?? pack.id} makes images of its ${pack.classes.length} classes and does not read prompts: choose a class below.`
}

export function PromptField({ pack }: Props) {
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor="field-prompt" className={fieldLabel}>
        Prompt
      </label>
      <textarea
        id="field-prompt"
        rows={2}
        disabled
        aria-describedby="prompt-hint"
        placeholder="A prompt, for packs that read text"
        className={`${control} resize-none`}
      />
      <p id="prompt-hint" className={hint}>
        {whyNoPrompt(pack)}
      </p>
    </div>
  )
}
