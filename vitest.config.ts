import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file in its own process: the host and serve tests spawn children and own ports.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Electron-free code only: tests import main/, common/ and the engine directly.
    environment: 'node',
    reporters: ['default'],
  },
})
