import { describe, expect, it } from 'vitest'
import { GenerateRequestSchema, modelSteps, SINGLE_MODES, type SingleMode } from '../../common/generation.ts'
import {
  type DdStudioMetadata,
  formatParameters,
  parseMetadata,
  parseParameters,
  SAMPLER_NAMES,
  settingsFromA1111,
  settingsFromMetadata,
} from '../../common/parameters.ts'

/** Metadata as main/engine/generate.ts writes it, for a pack of 64 tokens. */
function metadataOf(overrides: Partial<DdStudioMetadata> = {}): DdStudioMetadata {
  return {
    app: 'DD Studio',
    appVersion: '0.1.0',
    pack: {
      id: 'emoji32',
      version: '1.2.0',
      manifestSha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    },
    mode: '2step',
    class: { index: 5, name: 'noto / animals' },
    seed: 123,
    jobSeed: 122,
    index: 1,
    noise: 'dd-noise-v1',
    tList: [0, 16],
    splitT: 8,
    hybrid: { start: 4, end: 12 },
    teacher: { cfgScale: 3, temperature: 1, topK: 512, topP: 0.95 },
    providers: { generator: 'cpu', decoder: 'cpu' },
    timingsMs: { tokenMs: 1.5, decodeMs: 2, otherMs: 0.25, totalMs: 3.75 },
    ...overrides,
  }
}

/** The DD trajectory the engine records for each mode (ddTListOf, or the job's list). */
function metadataForMode(mode: SingleMode): DdStudioMetadata {
  const tList = mode === '1step' ? [0] : mode === 'custom' ? [0, 8, 24, 40] : [0, 16]
  return metadataOf({ mode, tList })
}

const TOKENS = 64

describe('formatParameters', () => {
  it('writes the class name as the prompt and A1111 keys, then DD keys, on the settings line', () => {
    expect(formatParameters(metadataOf(), { width: 32, height: 32, tokens: TOKENS })).toBe(
      'noto / animals\n' +
        'Steps: 2, Sampler: DD 2-step, CFG scale: 3, Seed: 123, Size: 32x32, Model hash: 0123456789, ' +
        'Model: emoji32, Mode: 2step, Class index: 5, T list: "0, 16", Split t: 8, Hybrid: 4-12, ' +
        'Temperature: 1, Top k: 512, Top p: 0.95, Noise: dd-noise-v1, Pack version: 1.2.0, Version: DD Studio 0.1.0',
    )
  })

  it.each(SINGLE_MODES)('%s: Steps are the model passes of the mode, Sampler names it', (mode) => {
    const metadata = metadataForMode(mode)
    const { settings } = parseParameters(formatParameters(metadata, { tokens: TOKENS }))
    const expected = modelSteps(mode, TOKENS, {
      twoStepTList: metadata.tList,
      tList: metadata.tList,
      hybrid: metadata.hybrid,
    })
    expect(settings.Steps).toBe(String(expected))
    expect(settings.Sampler).toBe(SAMPLER_NAMES[mode])
    expect(settings.Mode).toBe(mode)
  })

  it('leaves out what the metadata alone does not say: Size, and Steps of the teacher modes', () => {
    const exact = parseParameters(formatParameters(metadataOf({ mode: 'exact' }))).settings
    expect(exact.Steps).toBeUndefined()
    expect(exact.Size).toBeUndefined()
    expect(
      parseParameters(formatParameters(metadataOf({ mode: 'exact' }), { tokens: 256 })).settings.Steps,
    ).toBe('256')
    expect(parseParameters(formatParameters(metadataOf({ mode: 'hybrid' }))).settings.Steps).toBe('10')
  })

  it('quotes values with commas, colons or quotes, and they parse back unchanged', () => {
    const tricky = 'v1, "beta": 2\nnext'
    const text = formatParameters(
      metadataOf({ appVersion: 'x:y', pack: { id: 'p', version: tricky, manifestSha256: 'ab' } }),
    )
    expect(text).toContain(`Pack version: ${JSON.stringify(tricky)}`)
    expect(text.split('\n')).toHaveLength(2) // the line break inside the value is escaped
    const { settings } = parseParameters(text)
    expect(settings['Pack version']).toBe(tricky)
    expect(settings.Version).toBe('DD Studio x:y')
    expect(settings['Model hash']).toBe('ab')
  })

  it('round-trips through parseParameters for every mode', () => {
    for (const mode of SINGLE_MODES) {
      const metadata = metadataForMode(mode)
      const parsed = parseParameters(formatParameters(metadata, { width: 48, height: 24, tokens: TOKENS }))
      expect(parsed.prompt).toBe('noto / animals')
      expect(parsed.negativePrompt).toBe('')
      expect(parsed.settings).toMatchObject({
        Seed: '123',
        Size: '48x24',
        'CFG scale': '3',
        Model: 'emoji32',
        'T list': metadata.tList.join(', '),
        Hybrid: '4-12',
        'Top p': '0.95',
      })
    }
  })
})

describe('parseParameters reads AUTOMATIC1111 text', () => {
  it('a full example: multi-line prompt and negative prompt, quoted values, CRLF and trailing spaces', () => {
    const text = [
      'masterpiece, a red fox in the snow,  ',
      '  (detailed fur:1.2), <lora:foxes:0.8>',
      'Negative prompt: blurry, lowres,',
      'text, watermark   ',
      'Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, ' +
        'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, ' +
        'Lora hashes: "foxes: 1a2b3c4d5e6f, \\"quoted\\": 99", Hires upscaler: 4x-UltraSharp, ' +
        'Version: v1.6.0-2-g4afaaf8a   ',
      '',
    ].join('\r\n')
    expect(parseParameters(text)).toEqual({
      prompt: 'masterpiece, a red fox in the snow,\n(detailed fur:1.2), <lora:foxes:0.8>',
      negativePrompt: 'blurry, lowres,\ntext, watermark',
      settings: {
        Steps: '28',
        Sampler: 'DPM++ 2M Karras',
        'CFG scale': '6.5',
        Seed: '3141592653',
        Size: '512x768',
        'Model hash': '6ce0161689',
        Model: 'v1-5-pruned-emaonly',
        'Denoising strength': '0.45',
        'Lora hashes': 'foxes: 1a2b3c4d5e6f, "quoted": 99',
        'Hires upscaler': '4x-UltraSharp',
        Version: 'v1.6.0-2-g4afaaf8a',
      },
    })
  })

  it('no negative prompt, an empty prompt, or only the settings line', () => {
    expect(parseParameters('a cat\nSteps: 20, Sampler: Euler a, Seed: 1')).toEqual({
      prompt: 'a cat',
      negativePrompt: '',
      settings: { Steps: '20', Sampler: 'Euler a', Seed: '1' },
    })
    expect(parseParameters('Steps: 20, Sampler: Euler a, Seed: 1\n\n')).toEqual({
      prompt: '',
      negativePrompt: '',
      settings: { Steps: '20', Sampler: 'Euler a', Seed: '1' },
    })
    expect(parseParameters('\nNegative prompt: ugly\nSteps: 20, Sampler: Euler, Seed: 2')).toMatchObject({
      prompt: '',
      negativePrompt: 'ugly',
    })
  })

  it('colons inside unquoted values, spaces around separators, a repeated key (the last wins)', () => {
    const { settings } = parseParameters(
      'x\nTime taken: 1:23 , Seed:7,Steps :  3, Seed: 8, Emphasis: Original',
    )
    expect(settings).toEqual({ 'Time taken': '1:23', Seed: '8', Steps: '3', Emphasis: 'Original' })
  })

  it('a quoted value that is not valid JSON keeps the text between the quotes', () => {
    expect(parseParameters('p\nSteps: 1, Seed: 2, Note: "a \\q b"').settings.Note).toBe('a \\q b')
  })

  it('refuses text that is not in the format, saying why', () => {
    expect(() => parseParameters('')).toThrow('the parameters text is empty')
    expect(() => parseParameters(' \n\t')).toThrow('the parameters text is empty')
    expect(() => parseParameters('{"prompt": {"3": {"class_type": "KSampler"}}}')).toThrow(
      /is JSON, not AUTOMATIC1111-style/,
    )
    expect(() => parseParameters('just a prompt, nothing else')).toThrow(
      /has no settings line: its last line should be comma-separated "Key: value" pairs .*found "just a prompt, nothing else"/,
    )
    // Two pairs are not enough: A1111 itself would read such a line as part of the prompt.
    expect(() => parseParameters('a cat\nSteps: 20, Seed: 1')).toThrow(/has no settings line/)
    expect(() => parseParameters(42 as unknown as string)).toThrow('parameters must be text, got number')
  })
})

describe('settingsFromMetadata', () => {
  it('returns a request that passes the contract schema and remakes the image', () => {
    const metadata = metadataOf()
    const request = settingsFromMetadata(JSON.stringify(metadata))
    expect(request).toEqual({
      packId: 'emoji32',
      mode: '2step',
      class: 5,
      seed: 123,
      tList: [0, 16],
      hybrid: { start: 4, end: 12 },
      teacher: { cfgScale: 3, temperature: 1, topK: 512, topP: 0.95 },
    })
    expect(GenerateRequestSchema.safeParse(request).success).toBe(true)
    expect(settingsFromMetadata(metadata)).toEqual(request) // parsed JSON works too
  })

  it('carries a trajectory only for the modes that take one', () => {
    for (const mode of SINGLE_MODES) {
      const request = settingsFromMetadata(metadataForMode(mode))
      expect(request.mode).toBe(mode)
      expect(request.tList).toEqual(
        mode === '2step' ? [0, 16] : mode === 'custom' ? [0, 8, 24, 40] : undefined,
      )
    }
  })

  it('accepts fields it does not know (metadata from a later version)', () => {
    expect(settingsFromMetadata({ ...metadataOf(), future: { anything: true } }).seed).toBe(123)
    const {
      providers: _p,
      timingsMs: _t,
      jobSeed: _j,
      index: _i,
      noise: _n,
      app: _a,
      ...minimal
    } = metadataOf()
    expect(settingsFromMetadata(minimal).seed).toBe(123)
  })

  it('names the field that is wrong', () => {
    const broken = (patch: Record<string, unknown>): string => JSON.stringify({ ...metadataOf(), ...patch })
    expect(() => settingsFromMetadata('{"seed": 1')).toThrow(/^dd-studio metadata is not valid JSON/)
    expect(() => settingsFromMetadata(broken({ seed: -1 }))).toThrow('dd-studio metadata: seed: must be >= 0')
    expect(() => settingsFromMetadata(broken({ seed: 2 ** 32 }))).toThrow(/seed: must be at most 4294967295/)
    expect(() => settingsFromMetadata(broken({ seed: undefined }))).toThrow(/dd-studio metadata: seed: /)
    expect(() => settingsFromMetadata(broken({ mode: 'compare' }))).toThrow(/dd-studio metadata: mode: /)
    expect(() =>
      settingsFromMetadata(broken({ teacher: { cfgScale: 3, temperature: 1, topK: 5, topP: 2 } })),
    ).toThrow('dd-studio metadata: teacher.topP: must be <= 1')
    expect(() => settingsFromMetadata(broken({ pack: { id: 'x', version: '1' } }))).toThrow(
      /pack\.manifestSha256: /,
    )
    expect(() => settingsFromMetadata(broken({ class: { index: 1.5, name: 'a' } }))).toThrow(
      'dd-studio metadata: class.index: must be an integer',
    )
    expect(() => settingsFromMetadata(broken({ tList: [] }))).toThrow('tList: must not be empty')
    expect(() => settingsFromMetadata(null)).toThrow(/dd-studio metadata: \(top level\): /)
    // Valid as metadata, but not as a request: the contract's own rules name the field.
    expect(() =>
      settingsFromMetadata(broken({ pack: { id: 'Not A Pack', version: '1', manifestSha256: 'ab' } })),
    ).toThrow(/dd-studio metadata: packId: must be a pack id/)
    expect(() => parseMetadata(broken({ splitT: 'eight' }))).toThrow(/splitT: /)
  })
})

describe('settingsFromA1111', () => {
  const a1111 =
    'a red fox\nNegative prompt: blurry\n' +
    'Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, ' +
    'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2'

  it('maps seed, CFG scale, prompt and size, and lists the keys that do not apply to DD packs', () => {
    expect(settingsFromA1111(parseParameters(a1111))).toEqual({
      fromDdStudio: false,
      prompt: 'a red fox',
      negativePrompt: 'blurry',
      size: { width: 512, height: 768 },
      request: { seed: 3141592653, teacher: { cfgScale: 6.5 } },
      notApplicable: ['Steps', 'Sampler', 'Model hash', 'Model', 'Clip skip'],
      problems: [],
    })
  })

  it('reports values it cannot use, naming the key', () => {
    const result = settingsFromA1111(
      parseParameters('x\nSteps: 20, Seed: -1, CFG scale: seven, Size: big, Sampler: Euler'),
    )
    expect(result.request).toEqual({})
    expect(result.size).toBeNull()
    expect(result.problems).toEqual([
      'Seed: "-1" is not a whole number from 0 to 4294967295',
      'CFG scale: "seven" is not a number from 0 to 50',
      'Size: "big" is not a size like 512x512',
    ])
    const huge = settingsFromA1111(
      parseParameters('x\nSteps: 20, Seed: 18446744073709551615, Sampler: Euler'),
    )
    expect(huge.problems).toEqual(['Seed: "18446744073709551615" is not a whole number from 0 to 4294967295'])
  })

  it('our own parameters text alone gives the same settings as our metadata', () => {
    for (const mode of SINGLE_MODES) {
      const metadata = metadataForMode(mode)
      const result = settingsFromA1111(
        parseParameters(formatParameters(metadata, { width: 32, height: 32, tokens: TOKENS })),
      )
      expect(result.fromDdStudio).toBe(true)
      expect(result.request).toEqual(settingsFromMetadata(metadata))
      expect(result.size).toEqual({ width: 32, height: 32 })
      expect(result.notApplicable).toEqual([])
      expect(result.problems).toEqual([])
    }
  })

  it('our text with damaged DD values: the rest still maps, the damage is reported', () => {
    const text = formatParameters(metadataOf({ mode: 'custom', tList: [0, 8] }))
      .replace('T list: "0, 8"', 'T list: "0, x"')
      .replace('Class index: 5', 'Class index: five')
      .replace('Mode: custom, ', '')
    const result = settingsFromA1111(parseParameters(text))
    // The mode comes from the sampler name; the class from the prompt (the class name).
    expect(result.request).toMatchObject({ mode: 'custom', class: 'noto / animals', seed: 123 })
    expect(result.request.tList).toBeUndefined()
    expect(result.problems).toEqual([
      'Class index: "five" is not a whole number',
      'T list: "0, x" is not a list of whole numbers',
    ])
  })
})

describe("a text pack's image (revision 1.3)", () => {
  const textMeta = (negative: string | null) =>
    metadataOf({
      pack: { ...metadataOf().pack, id: 'emoji32-text' },
      class: null,
      prompt: { text: 'a red heart,\nnoto style', negative, ids: [2, 7, 39, 0] },
    })

  it('writes the prompt and the negative prompt as A1111 does, and Conditioning: text for the class index', () => {
    const text = formatParameters(textMeta('blue: sad'), { tokens: TOKENS })
    expect(text.split('\n').slice(0, 3)).toEqual(['a red heart,', 'noto style', 'Negative prompt: blue: sad'])
    const parsed = parseParameters(text)
    expect(parsed).toMatchObject({ prompt: 'a red heart,\nnoto style', negativePrompt: 'blue: sad' })
    expect(parsed.settings).toMatchObject({ Model: 'emoji32-text', Conditioning: 'text' })
    expect(parsed.settings['Class index']).toBeUndefined()
    expect(parseParameters(formatParameters(textMeta(null))).negativePrompt).toBe('')
  })

  it('gives back the prompt and negative prompt, not a class, for "Use these settings"', () => {
    expect(settingsFromMetadata(textMeta('blue'))).toEqual({
      packId: 'emoji32-text',
      mode: '2step',
      prompt: 'a red heart,\nnoto style',
      negativePrompt: 'blue',
      seed: 123,
      tList: [0, 16],
      hybrid: { start: 4, end: 12 },
      teacher: { cfgScale: 3, temperature: 1, topK: 512, topP: 0.95 },
    })
    expect(settingsFromMetadata(textMeta(null)).negativePrompt).toBeUndefined()
    const a1111 = settingsFromA1111(parseParameters(formatParameters(textMeta('blue'))))
    expect(a1111.request).toMatchObject({
      prompt: 'a red heart,\nnoto style',
      negativePrompt: 'blue',
      seed: 123,
    })
    expect(a1111.request.class).toBeUndefined()
    expect(a1111.notApplicable).not.toContain('Conditioning')
  })

  it('refuses metadata with neither a class nor a prompt', () => {
    expect(() => parseMetadata({ ...metadataOf(), class: null })).toThrow(
      'dd-studio metadata: class: is null, so the image needs a prompt',
    )
  })
})
