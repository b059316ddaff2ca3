/** Modules generated at build time by plugins in electron.vite.config.ts. */
declare module 'virtual:third-party-notices' {
  const notices: { name: string; version: string; license: string; text: string; kind: 'code' | 'data' }[]
  export default notices
}
