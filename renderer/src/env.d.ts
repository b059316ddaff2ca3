/// <reference types="vite/client" />
import type { Client } from '../../common/client.ts'

declare global {
  interface Window {
    /** Present only inside the Electron shell (exposed by the preload). */
    ddstudio?: Client
  }
}
