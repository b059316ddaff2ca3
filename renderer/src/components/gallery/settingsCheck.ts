/**
 * Whether an image's settings can go into the Generate form here: they must read, and name a pack that is
 * installed and usable. Used by the lightbox and the dropped-PNG dialog, which disable "Use these settings"
 * and say why when not.
 */
import type { GenerateRequest, PackSummary } from '../../../../common/generation.ts'
import { settingsFromMetadata } from '../../../../common/parameters.ts'

export type Usable = { ok: true; request: GenerateRequest } | { ok: false; reason: string }

/** The pack a request names (the default pack when it names none), or why it cannot be used. */
export function packProblem(packId: string | undefined, packs: PackSummary[] | null): string | null {
  if (packs === null) return 'The model packs are still loading.'
  const pack = packId === undefined ? packs.find((p) => p.isDefault) : packs.find((p) => p.id === packId)
  if (!pack) return `It was made with the pack “${packId}”, which is not installed here.`
  if (pack.status !== 'ready')
    return `The pack “${pack.id}” cannot be used: ${pack.problems[0] ?? 'it is broken'}.`
  return null
}

/** The settings of one of our images (its `dd-studio` metadata), checked against the installed packs. */
export function usableSettings(metadata: string | null, packs: PackSummary[] | null): Usable {
  if (metadata === null) return { ok: false, reason: 'This image has no DD Studio settings.' }
  let request: GenerateRequest
  try {
    request = settingsFromMetadata(metadata)
  } catch (error) {
    return { ok: false, reason: `Its settings cannot be read: ${(error as Error).message}.` }
  }
  const problem = packProblem(request.packId, packs)
  return problem ? { ok: false, reason: problem } : { ok: true, request }
}
