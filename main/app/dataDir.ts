/** Where the app keeps settings, the default gallery and models when Electron's userData is not available. */
import os from 'node:os'
import path from 'node:path'

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const home = os.homedir()
  if (platform === 'win32')
    return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'DD Studio')
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'DD Studio')
  return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'dd-studio')
}
