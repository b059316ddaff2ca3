import fs from 'node:fs'
import path from 'node:path'
import { productName, version } from '../../package.json'

export const APP_NAME: string = productName
export const APP_VERSION: string = version

/** The app's root folder: the nearest folder above this module with a package.json (source and bundles alike). */
export function appRoot(from: string = import.meta.dirname): string {
  let dir = from
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) return process.cwd()
    dir = parent
  }
  return dir
}

/** The embedded packs: models/packs of the app; DDSTUDIO_PACKS_DIR overrides it for packaged layouts. */
export const BUILT_IN_PACKS_DIR: string =
  process.env.DDSTUDIO_PACKS_DIR ?? path.join(appRoot(), 'models', 'packs')
