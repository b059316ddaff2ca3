import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { invokeNames } from '../../common/contract.ts'
import { createServeServer } from '../../main/serve/httpServer.ts'
import { fuzzCorpus, toJsonBody } from '../support/fuzzCorpus.ts'
import { memoryTransport } from '../support/memoryTransport.ts'
import { createTestApp, REPO_ROOT } from '../support/testApp.ts'

type TestApp = Awaited<ReturnType<typeof createTestApp>>

let app: TestApp
let base: string
const token = 'fuzz-token'
let server: ReturnType<typeof createServeServer>

beforeAll(async () => {
  app = await createTestApp()
  server = createServeServer({
    dispatch: app.dispatch,
    events: app.events,
    token,
    staticDir: `${REPO_ROOT}/out/renderer`,
    galleryDir: () => app.settings.get().galleryDir,
    loopbackOnly: true,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await app.close()
})

interface Envelope {
  ok: boolean
  error?: { code: string; message: string }
}

async function httpCall(name: string, body: string): Promise<{ status: number; envelope: Envelope }> {
  const response = await fetch(`${base}/api/call/${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  })
  return { status: response.status, envelope: (await response.json()) as Envelope }
}

function expectNamedRejection(envelope: Envelope, field: string, label: string): void {
  expect(envelope.ok, label).toBe(false)
  expect(envelope.error?.code, label).toBe('invalid_input')
  expect(envelope.error?.message, label).toContain(field)
  expect(envelope.error?.message.length, label).toBeLessThan(1000)
}

describe.each(invokeNames)('fuzzing %s', (name) => {
  const corpus = fuzzCorpus(name)

  it('has a corpus covering its fields', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(11)
  })

  it('over the in-memory (structuredClone) transport: every bad input is refused, naming the field', async () => {
    const { call } = memoryTransport(app.dispatch, app.events)
    for (const c of corpus) {
      expectNamedRejection((await call(name, c.input)) as Envelope, c.field, c.label)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('over HTTP: every bad input is refused with 400, naming the field', async () => {
    for (const c of corpus) {
      const { body, field } = toJsonBody(c.input)
      const { status, envelope } = await httpCall(name, body)
      expect(status, c.label).toBe(400)
      expectNamedRejection(envelope, field ?? c.field, c.label)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('after the fuzzing', () => {
  it('unknown and prototype-named methods are refused', async () => {
    const { call } = memoryTransport(app.dispatch, app.events)
    for (const bogus of ['__proto__', 'constructor', 'toString', 'system.info.extra', '', 42, null]) {
      const envelope = (await call(bogus, {})) as Envelope
      expect(envelope.error?.code).toBe('unknown_method')
    }
    const { status, envelope } = await httpCall('hasOwnProperty', '{}')
    expect(status).toBe(404)
    expect(envelope.error?.code).toBe('unknown_method')
  })

  it('the app still answers every method correctly over both transports', async () => {
    const { client } = memoryTransport(app.dispatch, app.events)
    const info = await client.system.info({})
    expect(info.ok && info.value.activeProvider).toBe('cpu')
    const settings = await client.settings.update({ theme: 'light' })
    expect(settings.ok && settings.value.theme).toBe('light')
    const { status, envelope } = await httpCall('host.status', '{}')
    expect(status).toBe(200)
    expect(envelope).toMatchObject({ ok: true, value: { state: 'ready' } })
    expect(app.host.status().restarts).toBe(0)
  })
})
