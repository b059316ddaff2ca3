import { describe, expect, it } from 'vitest'
import { buildClient } from '../../common/client.ts'
import { contract, eventNames, invokeNames, type MethodName } from '../../common/contract.ts'

describe('the IPC contract', () => {
  it('names every entry namespace.member, and every event namespace.onX', () => {
    for (const name of Object.keys(contract)) expect(name).toMatch(/^[a-z]+\.[a-zA-Z]+$/)
    for (const name of eventNames) expect(name.split('.')[1]).toMatch(/^on[A-Z]/)
    for (const name of invokeNames) expect(name.split('.')[1]).not.toMatch(/^on[A-Z]/)
  })

  it("each invoke entry's example passes its own schema", () => {
    for (const name of invokeNames) {
      const entry = contract[name]
      expect(entry.input.safeParse(entry.example).success, name).toBe(true)
    }
  })

  it('builds one named function per entry and nothing generic', () => {
    const calls: string[] = []
    const client = buildClient({
      invoke: async (name) => {
        calls.push(name)
        return { ok: true, value: null }
      },
      subscribe: (name) => {
        calls.push(name)
        return () => undefined
      },
    })
    const exposed = Object.entries(client).flatMap(([ns, members]) =>
      Object.keys(members as object).map((m) => `${ns}.${m}`),
    )
    expect(exposed.sort()).toEqual(Object.keys(contract).sort())
    expect(client).not.toHaveProperty('invoke')
    expect(client).not.toHaveProperty('send')
    expect(client).not.toHaveProperty('on')

    void client.system.info({})
    client.host.onState(() => undefined)
    expect(calls).toEqual(['system.info', 'host.onState'] satisfies MethodName[])
  })
})
