/** Picks the transport once at start: Electron's preload bridge when present, serve mode's HTTP otherwise. */
import { buildClient, type Client } from '../../../common/client.ts'
import { httpTransport } from './httpTransport.ts'

export type ShellKind = 'electron' | 'browser'

export const shellKind: ShellKind = window.ddstudio ? 'electron' : 'browser'

export const client: Client = window.ddstudio ?? buildClient(httpTransport())
