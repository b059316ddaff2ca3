import { z } from 'zod'
import { PackManifestSchema } from './manifest.ts'

/** The manifest schema as JSON Schema (draft 2020-12), which the Python pipeline validates its packs against. */
export function packManifestJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PackManifestSchema),
    title: 'DD Studio model pack manifest',
    description: 'Generated from main/engine/packs/manifest.ts by `npm run models:schema`; do not edit.',
  }
}
