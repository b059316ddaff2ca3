/**
 * What one autoregressive step of a pack is. A 'llamagen' pack makes one token per step (raster order); a 'var'
 * pack one scale per step, its tokens stored scale after scale (models/PACK_FORMAT.md, revision 1.2). Every t,
 * split_t, t_list entry and hybrid bound of a pack counts these steps; the graphs and the noise work on token
 * positions. These helpers turn the one into the other.
 */
import type { StepUnits } from '../../common/generation.ts'
import type { PackManifest } from './packs/manifest.ts'

/** The pack's steps: `count` tokens (llamagen) or scales (var); the teacher takes `count` steps. */
export function stepUnitsOf(manifest: PackManifest): StepUnits {
  const scales = manifest.tokens.scales
  if (manifest.family === 'var' && scales) return { unit: 'scale', count: scales.length }
  return { unit: 'token', count: manifest.tokens.count }
}

/**
 * Token offsets of the steps: step k holds tokens offsets[k]..offsets[k + 1] - 1, and offsets[count] is the
 * token count. For llamagen offsets[k] = k.
 */
export function stepOffsets(manifest: PackManifest): number[] {
  const scales = manifest.tokens.scales
  if (manifest.family === 'var' && scales) {
    const offsets = [0]
    for (const side of scales) offsets.push((offsets.at(-1) as number) + side * side)
    return offsets
  }
  return Array.from({ length: manifest.tokens.count + 1 }, (_, k) => k)
}

/**
 * The token positions a token agreement map covers: all of them for llamagen (the square token grid); for var
 * the last scale only, whose side is the image's token grid, so the map lays over the image like LlamaGen's.
 * Coarser scales have no place of their own on the image.
 */
export function agreementWindow(manifest: PackManifest): { from: number; length: number } {
  const scales = manifest.tokens.scales
  if (manifest.family === 'var' && scales) {
    const last = scales.at(-1) as number
    return { from: manifest.tokens.count - last * last, length: last * last }
  }
  return { from: 0, length: manifest.tokens.count }
}
