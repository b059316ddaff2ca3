/** Writes models/pack.schema.json (JSON Schema) from the app's zod manifest schema, for the Python pipeline. */
import fs from 'node:fs'
import path from 'node:path'
import { packManifestJsonSchema } from '../main/engine/packs/jsonSchema.ts'

const target = path.resolve(import.meta.dirname, '..', 'models', 'pack.schema.json')
fs.writeFileSync(target, `${JSON.stringify(packManifestJsonSchema(), null, 2)}\n`)
console.log(`wrote ${path.relative(process.cwd(), target)}`)
