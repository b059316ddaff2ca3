/**
 * Runs the model pipeline's Python with the right interpreter and PYTHONPATH=models.
 * Interpreter: $DDSTUDIO_PYTHON, else Debian's /usr/bin/python3 when present (it has the distribution's torch;
 * a pyenv or venv python3 earlier on PATH may not), else python3 on PATH.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const python =
  process.env.DDSTUDIO_PYTHON ??
  (process.platform !== 'win32' && fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')
const env = {
  ...process.env,
  PYTHONPATH: [path.join(root, 'models'), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
  PYTHONDONTWRITEBYTECODE: '1',
}
const result = spawnSync(python, process.argv.slice(2), { stdio: 'inherit', env, cwd: root })
if (result.error) {
  console.error(
    `could not run ${python}: ${result.error.message}. Set DDSTUDIO_PYTHON to a Python with torch.`,
  )
  process.exit(1)
}
process.exit(result.status ?? 1)
