import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  type DdStudioMetadata,
  formatParameters,
  METADATA_KEY,
  PARAMETERS_KEY,
  settingsFromMetadata,
} from '../../common/parameters.ts'
import { crc32, PngTextError, readDroppedImageParameters, readPngTextChunks } from '../../common/pngText.ts'
import { encodePng, readPngText } from '../../main/engine/output/png.ts'

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1')

function rgbOf(width: number, height: number): Uint8Array {
  return Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) & 0xff)
}

/** A chunk as another tool would write it, with its CRC from zlib. */
function rawChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([latin1(type), data])
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(zlib.crc32(body) >>> 0, 8 + data.length)
  return out
}

/** The PNG with extra chunks right after IHDR (signature 8 bytes, IHDR 25). */
function withChunks(png: Uint8Array, ...chunks: Buffer[]): Buffer {
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)])
}

const tEXt = (key: string, text: string): Buffer =>
  rawChunk('tEXt', Buffer.concat([latin1(key), Buffer.of(0), latin1(text)]))
const zTXt = (key: string, text: string): Buffer =>
  rawChunk('zTXt', Buffer.concat([latin1(key), Buffer.of(0, 0), zlib.deflateSync(latin1(text))]))
const compressedITXt = (key: string, text: string, language = '', translated = ''): Buffer =>
  rawChunk(
    'iTXt',
    Buffer.concat([
      latin1(key),
      Buffer.of(0, 1, 0),
      latin1(language),
      Buffer.of(0),
      Buffer.from(translated, 'utf8'),
      Buffer.of(0),
      zlib.deflateSync(Buffer.from(text, 'utf8')),
    ]),
  )

/** Chunk types in file order, read by a minimal walker of the test's own. */
function chunkTypes(png: Uint8Array): string[] {
  const view = Buffer.from(png.buffer, png.byteOffset, png.byteLength)
  const types: string[] = []
  for (let offset = 8; offset < view.length; offset += 12 + view.readUInt32BE(offset)) {
    types.push(view.toString('latin1', offset + 4, offset + 8))
  }
  return types
}

/** What A1111 writes: prompt, negative prompt, settings (with a quoted value). */
const A1111_TEXT =
  'portrait of an old sailor, oil painting, (weathered face:1.3)\n' +
  'Negative prompt: cartoon, blurry\n' +
  'Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 2657403541, Size: 512x640, ' +
  'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "sailor: 0a1b2c3d4e5f", Version: v1.7.0'

function metadata(): DdStudioMetadata {
  return {
    app: 'DD Studio',
    appVersion: '0.1.0',
    pack: { id: 'smoke', version: '0.0.1', manifestSha256: 'fedcba9876543210'.repeat(4) },
    mode: 'hybrid',
    class: { index: 2, name: 'noto / animals' },
    seed: 4294967295,
    jobSeed: 4294967294,
    index: 1,
    noise: 'dd-noise-v1',
    tList: [0, 8],
    splitT: 4,
    hybrid: { start: 2, end: 6 },
    teacher: { cfgScale: 2.5, temperature: 0.9, topK: 100, topP: 0.9 },
    providers: { generator: 'cpu', teacherStep: 'cpu', decoder: 'cpu' },
    timingsMs: { tokenMs: 1, decodeMs: 1, otherMs: 1, totalMs: 3 },
  }
}

/** Our PNG as the engine writes it: iTXt Software and dd-studio, tEXt parameters. */
function ourPng(meta = metadata()): Buffer {
  return encodePng(
    rgbOf(8, 8),
    8,
    8,
    { Software: 'DD Studio 0.1.0', [METADATA_KEY]: JSON.stringify(meta) },
    { [PARAMETERS_KEY]: formatParameters(meta, { width: 8, height: 8, tokens: 16 }) },
  )
}

async function errorOf(promise: Promise<unknown>): Promise<PngTextError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof PngTextError) return error
    throw error
  }
  throw new Error('expected a PngTextError')
}

describe('crc32', () => {
  it('matches the standard check value and zlib', () => {
    expect(crc32(latin1('123456789'))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    const bytes = rgbOf(100, 40)
    expect(crc32(bytes)).toBe(zlib.crc32(bytes) >>> 0)
    expect(crc32(bytes, 10, 500)).toBe(zlib.crc32(bytes.subarray(10, 500)) >>> 0)
  })
})

describe('encodePng writes latin1Text as tEXt', () => {
  it('a Latin-1 parameters text is one tEXt chunk, after the iTXt entries and before IDAT', async () => {
    const text = 'Café «crème» ±1\nSteps: 1, Seed: 2, Sampler: x'
    const png = encodePng(rgbOf(2, 2), 2, 2, { own: '🙂' }, { [PARAMETERS_KEY]: text })
    expect(chunkTypes(png)).toEqual(['IHDR', 'iTXt', 'tEXt', 'IDAT', 'IEND'])
    const info = await readPngTextChunks(png)
    expect(info.entries.map((e) => [e.chunk, e.keyword, e.text])).toEqual([
      ['iTXt', 'own', '🙂'],
      ['tEXt', PARAMETERS_KEY, text],
    ])
    expect(readPngText(png)).toEqual({ own: '🙂', [PARAMETERS_KEY]: text })
  })

  it('text outside Latin-1 goes into iTXt under the same keyword, unchanged', async () => {
    const text = '猫 🐱\nSteps: 1, Seed: 2, Sampler: x'
    const png = encodePng(rgbOf(2, 2), 2, 2, undefined, { [PARAMETERS_KEY]: text })
    expect(chunkTypes(png)).toEqual(['IHDR', 'iTXt', 'IDAT', 'IEND'])
    expect((await readPngTextChunks(png)).text).toEqual({ [PARAMETERS_KEY]: text })
    expect(readPngText(png)).toEqual({ [PARAMETERS_KEY]: text })
  })

  it('refuses a keyword given in both maps, and checks latin1Text like text', () => {
    expect(() => encodePng(rgbOf(1, 1), 1, 1, { k: 'a' }, { k: 'b' })).toThrow(
      'encodePng: text key "k" is given twice',
    )
    expect(() => encodePng(rgbOf(1, 1), 1, 1, undefined, { 'bad\tkey': 'b' })).toThrow(
      /is not printable Latin-1/,
    )
    expect(() => encodePng(rgbOf(1, 1), 1, 1, undefined, { k: 'a\0b' })).toThrow(/contains a NUL character/)
    expect(() => encodePng(rgbOf(1, 1), 1, 1, undefined, 'x' as unknown as Record<string, string>)).toThrow(
      'encodePng: latin1Text must be an object of strings',
    )
  })
})

describe('readPngTextChunks', () => {
  it('reads tEXt, zTXt, uncompressed and compressed iTXt, with the image size', async () => {
    const png = withChunks(
      encodePng(rgbOf(5, 3), 5, 3, { own: 'ü 🙂' }),
      tEXt('Title', 'Café'),
      zTXt('Comment', '«zipped» '.repeat(500)),
      compressedITXt('Description', '圧縮されたテキスト 🗜️', 'ja', '説明'),
      rawChunk('tIME', Buffer.of(0x07, 0xe9, 1, 2, 3, 4, 5)),
    )
    const info = await readPngTextChunks(png)
    expect([info.width, info.height]).toEqual([5, 3])
    expect(info.entries).toEqual([
      {
        chunk: 'tEXt',
        keyword: 'Title',
        text: 'Café',
        compressed: false,
        offset: 33,
        language: '',
        translatedKeyword: '',
      },
      expect.objectContaining({ chunk: 'zTXt', keyword: 'Comment', compressed: true }),
      expect.objectContaining({
        chunk: 'iTXt',
        keyword: 'Description',
        language: 'ja',
        translatedKeyword: '説明',
      }),
      expect.objectContaining({ chunk: 'iTXt', keyword: 'own', text: 'ü 🙂', compressed: false }),
    ])
    expect(info.text).toEqual({
      Title: 'Café',
      Comment: '«zipped» '.repeat(500),
      Description: '圧縮されたテキスト 🗜️',
      own: 'ü 🙂',
    })
  })

  it('decodes tEXt bytes 0x80-0x9F as Latin-1 (U+0080-U+009F), not windows-1252', async () => {
    const raw = Buffer.concat([latin1('k'), Buffer.of(0, 0x80, 0x93, 0x9f, 0xe9)])
    const png = withChunks(encodePng(rgbOf(1, 1), 1, 1), rawChunk('tEXt', raw))
    expect((await readPngTextChunks(png)).text.k).toBe('\u0080\u0093\u009fé')
  })

  it('accepts an ArrayBuffer, and ignores bytes after IEND', async () => {
    const png = Buffer.concat([encodePng(rgbOf(1, 1), 1, 1, { k: 'v' }), latin1('trailing junk')])
    const copy = new Uint8Array(png).buffer
    expect((await readPngTextChunks(copy)).text).toEqual({ k: 'v' })
  })

  it('a PNG without text has no entries', async () => {
    const info = await readPngTextChunks(encodePng(rgbOf(4, 4), 4, 4))
    expect(info).toEqual({ width: 4, height: 4, entries: [], text: {} })
  })

  it('refuses non-PNGs, truncated and corrupt files, naming the chunk and byte', async () => {
    const png = encodePng(rgbOf(4, 4), 4, 4, undefined, { [PARAMETERS_KEY]: A1111_TEXT })
    const notPng = await errorOf(readPngTextChunks(latin1('GIF89a\x01\x00\x01\x00 definitely not a png')))
    expect([notPng.kind, notPng.message]).toEqual(['not-png', 'not a PNG file (bad signature)'])
    expect((await errorOf(readPngTextChunks(new Uint8Array(0)))).kind).toBe('not-png')

    const cut = await errorOf(readPngTextChunks(png.subarray(0, 8)))
    expect([cut.kind, cut.message]).toEqual([
      'truncated',
      'truncated PNG: the file ends at byte 8, before any chunk',
    ])
    expect((await errorOf(readPngTextChunks(png.subarray(0, png.length - 12)))).message).toMatch(
      /^truncated PNG: the file ends at byte \d+, before the IEND chunk$/,
    )
    expect((await errorOf(readPngTextChunks(png.subarray(0, 60)))).message).toMatch(
      /^truncated PNG: chunk tEXt at byte 33 claims \d+ bytes, past the end of the file \(60 bytes\)$/,
    )

    const flipped = Buffer.from(png)
    flipped[33 + 8 + 20] = (flipped[33 + 8 + 20] as number) ^ 0x01
    const corrupt = await errorOf(readPngTextChunks(flipped))
    expect(corrupt.kind).toBe('corrupt')
    expect(corrupt.message).toMatch(
      /^chunk tEXt at byte 33 is corrupt \(CRC mismatch: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/,
    )
    const badIdat = Buffer.from(png)
    badIdat[badIdat.length - 12 - 6] = (badIdat[badIdat.length - 12 - 6] as number) ^ 0xff
    expect((await errorOf(readPngTextChunks(badIdat))).message).toMatch(
      /^chunk IDAT at byte \d+ is corrupt \(CRC/,
    )
  })

  it('refuses malformed text chunks, naming them', async () => {
    const base = encodePng(rgbOf(1, 1), 1, 1)
    const cases: [Buffer, RegExp][] = [
      [rawChunk('tEXt', latin1('no separator')), /^tEXt chunk at byte 33 has no valid keyword/],
      [
        rawChunk('zTXt', Buffer.concat([latin1('key'), Buffer.of(0, 0), latin1('not zlib')])),
        /^zTXt chunk "key" at byte 33 has compressed text that is not valid zlib data$/,
      ],
      [rawChunk('zTXt', Buffer.concat([latin1('key'), Buffer.of(0, 7, 1)])), /unknown compression method/],
      [
        rawChunk('iTXt', Buffer.concat([latin1('key'), Buffer.of(0, 0, 0, 0, 0, 0xc3, 0x28)])),
        /not valid UTF-8/,
      ],
      [
        rawChunk('iTXt', Buffer.concat([latin1('key'), Buffer.of(0, 0, 0)])),
        /^iTXt chunk "key" at byte 33 is truncated$/,
      ],
    ]
    for (const [chunk, message] of cases) {
      const error = await errorOf(readPngTextChunks(withChunks(base, chunk)))
      expect(error.kind).toBe('malformed')
      expect(error.message).toMatch(message)
      expect(() => readPngText(withChunks(base, chunk))).toThrow() // main's reader refuses them too
    }
  })
})

describe('main and common readers agree', () => {
  const files: [string, Buffer][] = [
    ['our engine PNG', ourPng()],
    ['no text', encodePng(rgbOf(3, 3), 3, 3)],
    ['A1111 tEXt', encodePng(rgbOf(3, 3), 3, 3, undefined, { [PARAMETERS_KEY]: A1111_TEXT })],
    ['A1111 zTXt', withChunks(encodePng(rgbOf(3, 3), 3, 3), zTXt(PARAMETERS_KEY, A1111_TEXT))],
    [
      'every kind, a repeated keyword, Latin-1 high bytes',
      withChunks(
        encodePng(rgbOf(6, 2), 6, 2, { k: 'last', emoji: '👩‍👩‍👧' }),
        tEXt('k', 'first'),
        tEXt('Title', 'Ÿ¡ \u0085 ÿ'),
        zTXt('Comment', 'x'.repeat(100_000)),
        compressedITXt('Description', 'description 📜', 'en-GB', 'Beschreibung'),
        compressedITXt('empty', ''),
      ),
    ],
  ]

  it.each(files)('%s: the same text', async (_name, png) => {
    expect((await readPngTextChunks(png)).text).toEqual(readPngText(png))
  })

  it('both refuse every truncation and every single flipped byte of a small file', async () => {
    const png = withChunks(encodePng(rgbOf(2, 1), 2, 1, { k: 'v' }), zTXt('z', 'zz'), tEXt('t', 'tt'))
    for (let length = 0; length < png.length; length++) {
      const cut = png.subarray(0, length)
      await expect(readPngTextChunks(cut), `cut at ${length}`).rejects.toBeInstanceOf(PngTextError)
      expect(() => readPngText(cut), `cut at ${length}`).toThrow()
    }
    for (let at = 0; at < png.length; at++) {
      const copy = Buffer.from(png)
      copy[at] = (copy[at] as number) ^ 0x04
      await expect(readPngTextChunks(copy), `byte ${at}`).rejects.toBeInstanceOf(PngTextError)
      expect(() => readPngText(copy), `byte ${at}`).toThrow()
    }
  })
})

describe('readDroppedImageParameters', () => {
  it('our PNG: the exact settings from dd-studio, the text from parameters', async () => {
    const png = ourPng()
    const result = await readDroppedImageParameters(png)
    expect(result.source).toBe('dd-studio')
    if (result.source !== 'dd-studio') return
    expect(result.settings).toEqual(settingsFromMetadata(metadata()))
    expect(result.settings).toMatchObject({ packId: 'smoke', mode: 'hybrid', class: 2, seed: 4294967295 })
    expect(result.text).toBe(readPngText(png)[PARAMETERS_KEY])
    expect(result.text).toContain('Seed: 4294967295, Size: 8x8')
    expect(result.problems).toEqual([])
  })

  it('our PNG from before the parameters chunk: the text is written from the metadata', async () => {
    const png = encodePng(rgbOf(8, 4), 8, 4, { [METADATA_KEY]: JSON.stringify(metadata()) })
    const result = await readDroppedImageParameters(png)
    expect(result.source).toBe('dd-studio')
    expect(result.text).toBe(formatParameters(metadata(), { width: 8, height: 4 }))
  })

  it.each([
    ['tEXt', encodePng(rgbOf(3, 3), 3, 3, undefined, { [PARAMETERS_KEY]: A1111_TEXT })],
    ['zTXt', withChunks(encodePng(rgbOf(3, 3), 3, 3), zTXt(PARAMETERS_KEY, A1111_TEXT))],
    ['compressed iTXt', withChunks(encodePng(rgbOf(3, 3), 3, 3), compressedITXt(PARAMETERS_KEY, A1111_TEXT))],
    ['a capitalised keyword', withChunks(encodePng(rgbOf(3, 3), 3, 3), tEXt('Parameters', A1111_TEXT))],
  ])('an A1111 PNG with parameters in %s: what maps, and what does not apply', async (_name, png) => {
    const result = await readDroppedImageParameters(png)
    expect(result.source).toBe('a1111')
    if (result.source !== 'a1111') return
    expect(result.text).toBe(A1111_TEXT)
    expect(result.settings).toMatchObject({
      fromDdStudio: false,
      prompt: 'portrait of an old sailor, oil painting, (weathered face:1.3)',
      negativePrompt: 'cartoon, blurry',
      size: { width: 512, height: 640 },
      request: { seed: 2657403541, teacher: { cfgScale: 7 } },
      notApplicable: ['Steps', 'Sampler', 'Model hash', 'Model', 'Lora hashes', 'Version'],
    })
    expect(result.problems).toEqual([])
  })

  it('damaged dd-studio metadata: says so, and falls back to the parameters', async () => {
    const broken = { ...metadata(), teacher: { cfgScale: 2, temperature: 1, topK: 5, topP: 7 } }
    const png = encodePng(
      rgbOf(2, 2),
      2,
      2,
      { [METADATA_KEY]: JSON.stringify(broken) },
      { [PARAMETERS_KEY]: formatParameters(metadata()) },
    )
    const result = await readDroppedImageParameters(png)
    expect(result.source).toBe('a1111')
    expect(result.problems).toEqual([
      'The DD Studio metadata in this image is unusable: dd-studio metadata: teacher.topP: must be <= 1.',
    ])
    if (result.source === 'a1111') expect(result.settings.request).toEqual(settingsFromMetadata(metadata()))

    const alone = await readDroppedImageParameters(
      encodePng(rgbOf(1, 1), 1, 1, { [METADATA_KEY]: '{"seed"' }),
    )
    expect(alone.source).toBe('none')
    expect(alone.problems).toEqual([
      expect.stringMatching(
        /^The DD Studio metadata in this image is unusable: dd-studio metadata is not valid JSON/,
      ),
    ])
  })

  it('friendly messages for PNGs without settings and for files that cannot be read', async () => {
    const none = async (bytes: Uint8Array) => {
      const result = await readDroppedImageParameters(bytes)
      expect(result.source).toBe('none')
      expect(result.settings).toBeNull()
      return result
    }
    expect((await none(encodePng(rgbOf(2, 2), 2, 2))).problems).toEqual([
      'This PNG carries no generation settings: it has no text metadata at all.',
    ])
    expect((await none(encodePng(rgbOf(2, 2), 2, 2, { Software: 'GIMP', Comment: 'hi' }))).problems).toEqual([
      'This PNG carries no generation settings DD Studio can read (its text entries: Software, Comment).',
    ])
    const comfy = await none(
      encodePng(rgbOf(2, 2), 2, 2, { parameters: '{"3": {"class_type": "KSampler"}}' }),
    )
    expect(comfy.text).toBe('{"3": {"class_type": "KSampler"}}')
    expect(comfy.problems).toEqual([
      expect.stringMatching(/^The image's parameters text is not in the AUTOMATIC1111 format: .*JSON/),
    ])

    expect((await none(latin1('\xff\xd8\xff\xe0 a JPEG'))).problems).toEqual([
      'This file is not a PNG image. Settings can be read from PNG files saved by DD Studio or by tools that write AUTOMATIC1111-style parameters.',
    ])
    const png = ourPng()
    expect((await none(png.subarray(0, 200))).problems).toEqual([
      expect.stringMatching(
        /^This PNG is incomplete \(the file was cut short\), so its settings cannot be read: truncated PNG: /,
      ),
    ])
    const damaged = Buffer.from(png)
    damaged[60] = (damaged[60] as number) ^ 0x20
    expect((await none(damaged)).problems).toEqual([
      expect.stringMatching(
        /^This PNG is damaged, so its settings cannot be trusted: chunk iTXt at byte 33 is corrupt \(CRC/,
      ),
    ])
  })
})
