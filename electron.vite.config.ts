import path from 'node:path'
import tailwindcss from '@tailwindcss/vite'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'electron-vite'
import type { Plugin } from 'vite'
import { contentSecurityPolicy } from './main/security/csp.ts'
import { collectNotices } from './scripts/thirdPartyNotices.ts'

const root = import.meta.dirname

/** Puts the one Content-Security-Policy into index.html (relaxed only for the dev server's hot reload). */
function cspMetaTag(): Plugin {
  let dev = false
  return {
    name: 'dd-studio:csp',
    configResolved(config) {
      dev = config.command === 'serve'
    },
    transformIndexHtml() {
      return [
        {
          tag: 'meta',
          attrs: {
            'http-equiv': 'Content-Security-Policy',
            content: contentSecurityPolicy({ dev, delivery: 'meta' }),
          },
          injectTo: 'head-prepend',
        },
      ]
    },
  }
}

/** `virtual:third-party-notices`: the licences shown in the About dialog, gathered at build time. */
function thirdPartyNotices(): Plugin {
  const id = 'virtual:third-party-notices'
  return {
    name: 'dd-studio:notices',
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load: (resolved) =>
      resolved === `\0${id}` ? `export default ${JSON.stringify(collectNotices(root))}` : null,
  }
}

export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: {
          index: path.join(root, 'main/index.ts'),
          host: path.join(root, 'main/host/hostProcess.ts'),
          serve: path.join(root, 'main/serve/serveEntry.ts'),
          cli: path.join(root, 'main/cli/cliEntry.ts'),
          bench: path.join(root, 'main/bench/benchEntry.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload cannot require() packages: bundle everything, as CommonJS.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: path.join(root, 'preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: path.join(root, 'renderer'),
    plugins: [react(), tailwindcss(), cspMetaTag(), thirdPartyNotices()],
    build: {
      outDir: path.join(root, 'out/renderer'),
      rolldownOptions: { input: path.join(root, 'renderer/index.html') },
    },
  },
})
