/**
 * `npm run setup:cuda`: opt-in download of onnxruntime-node's CUDA 12 provider libraries (NVIDIA GPUs on Linux
 * x64, with CUDA 12 and cuDNN 9 installed; onnxruntime-node 1.30 offers no CUDA download for other platforms). The default install skips it: CPU and WebGPU need nothing
 * extra. Afterwards the app lists `cuda` among the providers it tries.
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `setup:cuda: onnxruntime-node offers its CUDA 12 libraries for Linux x64 only (this is ${process.platform}/${process.arch}); on Windows, DirectML uses the GPU.`,
  )
  process.exit(1)
}
const require = createRequire(import.meta.url)
const pkgDir = path.dirname(require.resolve('onnxruntime-node/package.json'))
console.log('Downloading the CUDA 12 execution provider for onnxruntime-node…')
const result = spawnSync(process.execPath, [path.join(pkgDir, 'script', 'install.js')], {
  cwd: pkgDir,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
})
if (result.status !== 0) {
  console.error('setup:cuda: the download failed (see above). The app keeps working on CPU/WebGPU.')
  process.exit(result.status ?? 1)
}
console.log(
  'Done. Restart DD Studio; the About dialog shows whether the cuda provider loads on this machine.',
)
