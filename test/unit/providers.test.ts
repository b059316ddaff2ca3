import { describe, expect, it } from 'vitest'
import { buildProbeModel } from '../../main/engine/onnx/probeGraph.ts'
import {
  chooseProvider,
  probeProvider,
  probeProviders,
  providerCandidates,
} from '../../main/engine/providers.ts'

describe('execution provider table', () => {
  it('tries the platform GPU providers first and always ends with cpu', () => {
    expect(providerCandidates('win32', false)).toEqual(['dml', 'webgpu', 'cpu'])
    expect(providerCandidates('darwin', false)).toEqual(['coreml', 'webgpu', 'cpu'])
    expect(providerCandidates('linux', false)).toEqual(['webgpu', 'cpu'])
    expect(providerCandidates('linux', true)).toEqual(['webgpu', 'cuda', 'cpu'])
    expect(providerCandidates('freebsd', true)).toEqual(['cpu'])
  })

  it('chooses the preferred provider only when it works', () => {
    const probes = [
      { name: 'webgpu' as const, available: false, error: 'no adapter', probeMs: null },
      { name: 'cpu' as const, available: true, error: null, probeMs: 3 },
    ]
    expect(chooseProvider(probes, 'auto')).toBe('cpu')
    expect(chooseProvider(probes, 'webgpu')).toBe('cpu')
    expect(chooseProvider(probes, 'cpu')).toBe('cpu')
    expect(chooseProvider(probes.slice(0, 1), 'auto')).toBeNull()
  })
})

describe('probing with real onnxruntime sessions', () => {
  it('builds a valid ONNX model in code', () => {
    const bytes = buildProbeModel()
    expect(bytes.length).toBeGreaterThan(40)
    expect(bytes[0]).toBe(0x08) // field 1 (ir_version), varint
  })

  it('cpu works and reports its timing', async () => {
    const probe = await probeProvider('cpu')
    expect(probe).toMatchObject({ name: 'cpu', available: true, error: null })
    expect(probe.probeMs).toBeGreaterThan(0)
  })

  it('a provider that cannot load is reported with the runtime reason, and cpu still works after it', async () => {
    // dml is a Windows provider: on this platform onnxruntime-node rejects it, and the probe must say so.
    const candidates = process.platform === 'win32' ? (['coreml', 'cpu'] as const) : (['dml', 'cpu'] as const)
    const [bad, cpu] = await probeProviders([...candidates])
    expect(bad?.available).toBe(false)
    expect(bad?.error).toMatch(/\S/)
    expect(cpu?.available).toBe(true)
  })
})
