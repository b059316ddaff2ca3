/**
 * Text packs (models/PACK_FORMAT.md, revision 1.3) in the engine, on real onnxruntime sessions (cpu): every graph
 * reproduces PyTorch's fixtures, the samplers reproduce the pipeline's tokens from prompt ids and seeds, every mode
 * draws from a prompt, and the prompt path's edge cases (empty, negative, too long, unknown words, emoji, a
 * class where a prompt belongs) do what the app promises. Runs on the shipped text pack, or the development one
 * while there is none; fails when there is neither.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GenerateRequest } from '../../common/generation.ts'
import {
  PARAMETERS_KEY,
  parseMetadata,
  parseParameters,
  settingsFromA1111,
  settingsFromMetadata,
} from '../../common/parameters.ts'
import { AppError } from '../../common/result.ts'
import { generate, METADATA_KEY } from '../../main/engine/generate.ts'
import { decodePngRgb, readPngText } from '../../main/engine/output/png.ts'
import type { PackRuntime } from '../../main/engine/packRuntime.ts'
import { loadPack } from '../../main/engine/packs/loadPack.ts'
import type { GraphName } from '../../main/engine/packs/manifest.ts'
import { planGeneration } from '../../main/engine/plan.ts'
import { exactChooser, sampleDD, sampleTeacher } from '../../main/engine/sampling/samplers.ts'
import { BOS, NULL, PAD } from '../../main/engine/text/tokenizer.ts'
import { readPngFacts } from '../../main/gallery/pngInfo.ts'
import { COMMITTED_PACKS_DIR, textPackDir } from '../support/packs.ts'
import {
  cpuRuntimes,
  type ExactTeacherFixture,
  type Fixture,
  fixtureInput,
  maxAbsDiff,
  readParity,
  type StudentFixture,
  share,
  toOrt,
} from '../support/parity.ts'
import { tempDir } from '../support/testApp.ts'

const dir = textPackDir()
const { open, closeAll } = cpuRuntimes()
let rt: PackRuntime
beforeAll(async () => {
  rt = await open(dir)
})
afterAll(closeAll)

const context = { appVersion: '0.0.0-test', jobId: 'job-text' }

function plan(request: GenerateRequest) {
  return planGeneration(request, rt.manifest, 'test-hash', rt.tokenizer)
}

function refusal(request: GenerateRequest): string {
  try {
    plan(request)
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('invalid_input')
    return (err as AppError).message
  }
  throw new Error(`the request was accepted: ${JSON.stringify(request)}`)
}

/** A prompt whose words are all in the vocabulary: an example prompt the pack ships. */
function knownPrompt(): string {
  const c = rt.manifest.conditioning
  const prompt =
    c.kind === 'text' ? c.examplePrompts.find((p) => rt.tokenizer?.check(p).unknown.length === 0) : null
  if (!prompt) throw new Error(`${dir}: no example prompt made only of known words`)
  return prompt
}

describe(`the text pack ${path.basename(dir)}`, () => {
  it('loads: manifest rules, every sha256, and its tokenizer', async () => {
    const loaded = await loadPack(dir)
    expect(loaded.ok ? [] : loaded.problems).toEqual([])
    if (!loaded.ok) return
    expect(loaded.manifest.conditioning.kind).toBe('text')
    expect(loaded.tokenizer?.maxTokens).toBe(
      loaded.manifest.conditioning.kind === 'text' ? loaded.manifest.conditioning.maxTokens : -1,
    )
    expect(rt.tokenizer?.vocabulary.slice(0, 4)).toEqual(['<pad>', '<null>', '<bos>', '<unk>'])
  })

  it('is broken, naming tokenizer.json, when its tokenizer is not valid or disagrees with the manifest', async () => {
    const manifestText = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')
    const tokenizerText = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')
    const tokenizer = JSON.parse(tokenizerText) as { maxTokens: number; words: string[] }
    const cases: [string, string | RegExp][] = [
      ['{"format": "dd-studio-word-tokenizer",', /^tokenizer\.json: not valid JSON \(/],
      [
        JSON.stringify({ ...tokenizer, maxTokens: tokenizer.maxTokens - 1 }),
        `tokenizer.json: maxTokens is ${tokenizer.maxTokens - 1}, but the manifest's conditioning.maxTokens is ${tokenizer.maxTokens}`,
      ],
      [
        JSON.stringify({ ...tokenizer, words: tokenizer.words.slice(1) }),
        /^tokenizer\.json: words\.0: must be "<pad>"/,
      ],
    ]
    for (const [content, problem] of cases) {
      const copy = tempDir('textpack')
      for (const name of fs.readdirSync(dir))
        if (name !== 'manifest.json' && name !== 'tokenizer.json')
          fs.symlinkSync(path.join(dir, name), path.join(copy, name))
      fs.writeFileSync(path.join(copy, 'tokenizer.json'), content)
      const manifest = JSON.parse(manifestText) as {
        files: Record<string, { sha256: string; bytes: number }>
      }
      manifest.files['tokenizer.json'] = {
        sha256: createHash('sha256').update(content).digest('hex'),
        bytes: Buffer.byteLength(content),
      }
      fs.writeFileSync(path.join(copy, 'manifest.json'), JSON.stringify(manifest))
      const loaded = await loadPack(copy)
      expect(loaded.ok ? [] : loaded.problems).toEqual([expect.stringMatching(problem)])
      fs.rmSync(copy, { recursive: true, force: true })
    }
  })

  it("every graph reproduces PyTorch's fixture in the engine's sessions", async () => {
    const parity = readParity(dir)
    const graphs: Record<string, GraphName> = {
      text_encoder: 'textEncoder',
      generator: 'generator',
      decoder: 'decoder',
      teacher_prefill: 'teacherPrefill',
      teacher_step: 'teacherStep',
    }
    for (const [fixtureName, graph] of Object.entries(graphs)) {
      const fixture = parity[fixtureName] as Fixture | undefined
      expect(fixture, `parity.json has no ${fixtureName} fixture`).toBeDefined()
      if (!fixture) continue
      const feeds = Object.fromEntries(Object.entries(fixture.inputs).map(([k, v]) => [k, toOrt(v)]))
      const out = await rt.sessions.run(graph, feeds)
      for (const [name, expected] of Object.entries(fixture.outputs)) {
        const diff = maxAbsDiff(out[name] as ort.Tensor, expected)
        const limit = expected.dtype === 'uint8' ? 1 : expected.dtype === 'int64' ? 0 : parity.tolerance
        console.log(`${path.basename(dir)} ${fixtureName}.${name} max abs diff ${diff}`)
        expect(diff, `${fixtureName}.${name}`).toBeLessThanOrEqual(limit)
      }
    }
  })

  it("the exact teacher reproduces the pipeline's pairs from prompt ids and seeds (>= 99.9%)", async () => {
    const fixture = readParity(dir).sampling?.exactTeacher as ExactTeacherFixture | undefined
    if (!fixture?.promptIds) throw new Error(`${dir}: parity.json has no exactTeacher fixture with promptIds`)
    const input = await fixtureInput(rt, fixture)
    const teacher = plan({ mode: 'exact', prompt: '' }).teacher
    const ids = await sampleTeacher(rt, input, teacher, exactChooser(rt, input.noise))
    const agreement = share(ids, fixture.tokens)
    console.log(
      `${path.basename(dir)}: exact teacher vs pairs: ${(100 * agreement).toFixed(3)}% of ${fixture.tokens.flat().length} tokens`,
    )
    expect(agreement).toBeGreaterThanOrEqual(0.999)
  })

  it("DD 1-step and 2-step give PyTorch's ids for prompt ids and seeds", async () => {
    const fixture = readParity(dir).sampling?.student as StudentFixture | undefined
    if (!fixture?.promptIds) throw new Error(`${dir}: parity.json has no student fixture with promptIds`)
    const input = await fixtureInput(rt, fixture)
    const split = rt.manifest.sampling.splitT
    const one = await sampleDD(rt, input, [0], split)
    const two = await sampleDD(rt, input, plan({ mode: '2step', prompt: '' }).tList, split)
    // An argmax between two nearly equal logits may flip between PyTorch and onnxruntime: allow a rare one.
    expect(share(one.ids, fixture.ids1step)).toBeGreaterThanOrEqual(0.995)
    expect(share(two.ids, fixture.ids2step)).toBeGreaterThanOrEqual(0.995)
  })
})

describe('text generation jobs', () => {
  it('every mode draws from a prompt; the same seed and prompt give the same pixels again', async () => {
    const prompt = knownPrompt()
    const request: GenerateRequest = {
      mode: 'compare',
      prompt,
      seed: 77,
      compareModes: ['exact', '1step', '2step', 'custom', 'hybrid', 'ar'],
      tList: [0, 16, 40],
    }
    const first = await generate(rt, plan(request), context)
    expect(first.images.map((i) => i.mode)).toEqual(['exact', '1step', '2step', 'custom', 'hybrid', 'ar'])
    expect(first).toMatchObject({
      classIndex: null,
      className: null,
      prompt: { text: prompt, negative: null },
    })
    expect(first.promptNotes).toEqual([])
    const again = await generate(rt, plan(request), context)
    for (const [i, image] of first.images.entries()) {
      expect(again.images[i]?.ids, image.mode).toEqual(image.ids)
      expect(decodePngRgb(again.images[i]?.png ?? new Uint8Array()).rgb).toEqual(decodePngRgb(image.png).rgb)
      expect(new Set(decodePngRgb(image.png).rgb).size, image.mode).toBeGreaterThan(8)
    }
    // The prompt matters: another prompt on the same noise makes other tokens.
    const other = await generate(rt, plan({ mode: '1step', prompt: 'noto red heart', seed: 77 }), context)
    expect(other.images[0]?.ids).not.toEqual(first.images.find((i) => i.mode === '1step')?.ids)
  })

  it('image i of a batch is the single image of seed + i, for a prompt', async () => {
    const prompt = knownPrompt()
    for (const mode of ['1step', 'hybrid'] as const) {
      const batch = await generate(rt, plan({ mode, prompt, seed: 10, n: 3 }), context)
      const single = await generate(rt, plan({ mode, prompt, seed: 12 }), context)
      expect(single.images[0]?.ids, mode).toEqual(batch.images[2]?.ids)
    }
  })

  it('an empty prompt is the null prompt: an unconditional image, which guidance leaves as it is', async () => {
    const empty = plan({ mode: 'exact', prompt: '  ', seed: 5 })
    expect(empty.prompt?.ids).toEqual([
      NULL,
      ...new Array(empty.prompt ? empty.prompt.ids.length - 1 : 0).fill(PAD),
    ])
    expect(empty.prompt?.uncondIds).toEqual(empty.prompt?.ids)
    expect(empty.promptNotes).toEqual([])
    // cond = uncond, so u + s (c - u) = c: guidance has nothing to steer by.
    const guided = await generate(rt, empty, context)
    const plain = await generate(
      rt,
      plan({ mode: 'exact', prompt: '', seed: 5, teacher: { cfgScale: 1 } }),
      context,
    )
    expect(guided.images[0]?.ids).toEqual(plain.images[0]?.ids)
    const prompted = await generate(rt, plan({ mode: 'exact', prompt: knownPrompt(), seed: 5 }), context)
    expect(prompted.images[0]?.ids).not.toEqual(guided.images[0]?.ids)
  })

  it("a negative prompt changes the guided teacher's tokens, not the DD student's", async () => {
    const prompt = knownPrompt()
    const negative = 'noto red heart'
    const base = await generate(
      rt,
      plan({ mode: 'compare', compareModes: ['exact', '1step'], prompt, seed: 3 }),
      context,
    )
    const steered = plan({
      mode: 'compare',
      compareModes: ['exact', '1step'],
      prompt,
      negativePrompt: negative,
      seed: 3,
    })
    expect(steered.prompt?.uncondIds).toEqual(rt.tokenizer?.check(negative).ids)
    const withNegative = await generate(rt, steered, context)
    const ids = (result: typeof base, mode: string) => result.images.find((i) => i.mode === mode)?.ids
    expect(ids(withNegative, 'exact')).not.toEqual(ids(base, 'exact'))
    expect(ids(withNegative, '1step')).toEqual(ids(base, '1step'))
    expect(withNegative.prompt).toEqual({ text: prompt, negative })
    // Only DD modes: the negative prompt does nothing, and the notes say so.
    expect(plan({ mode: '1step', prompt, negativePrompt: negative }).promptNotes).toEqual([
      'negative prompt: only the teacher modes (hybrid, exact, ar) use it; DD steps do not',
    ])
    expect(
      plan({ mode: 'exact', prompt, negativePrompt: negative, teacher: { cfgScale: 1 } }).promptNotes,
    ).toEqual(['negative prompt: no effect at CFG scale 1 (no guidance)'])
    // An empty negative prompt is none.
    expect(plan({ mode: 'exact', prompt, negativePrompt: ' ' }).prompt).toMatchObject({
      negative: null,
      uncondIds: rt.tokenizer?.check('').ids,
    })
  })

  it('writes the prompt into the metadata and the A1111 parameters, and reads it back', async () => {
    const prompt = knownPrompt()
    const result = await generate(
      rt,
      plan({ mode: 'hybrid', prompt: `${prompt} 😀`, negativePrompt: 'noto red heart', seed: 9 }),
      context,
    )
    const image = result.images[0]
    if (!image) throw new Error('no image')
    const text = readPngText(image.png)
    const meta = parseMetadata(text[METADATA_KEY])
    expect(meta.class).toBeNull()
    expect(meta.prompt).toEqual({
      text: `${prompt} 😀`,
      negative: 'noto red heart',
      ids: rt.tokenizer?.check(prompt).ids,
    })
    expect(meta.providers).toMatchObject({ textEncoder: 'cpu', teacherPrefill: 'cpu', teacherStep: 'cpu' })
    const parameters = parseParameters(text[PARAMETERS_KEY] ?? '')
    expect(parameters.prompt).toBe(`${prompt} 😀`)
    expect(parameters.negativePrompt).toBe('noto red heart')
    expect(parameters.settings).toMatchObject({ Conditioning: 'text', Seed: '9', Sampler: 'DD hybrid' })
    expect(parameters.settings['Class index']).toBeUndefined()
    const again = settingsFromMetadata(text[METADATA_KEY])
    expect(again).toMatchObject({
      mode: 'hybrid',
      prompt: `${prompt} 😀`,
      negativePrompt: 'noto red heart',
      seed: 9,
    })
    expect(again.class).toBeUndefined()
    expect(settingsFromA1111(parameters).request).toMatchObject({
      prompt: `${prompt} 😀`,
      negativePrompt: 'noto red heart',
      seed: 9,
    })
    // The gallery reads the prompt from the PNG, for showing and searching.
    expect(readPngFacts(image.png, 'x.png')).toMatchObject({
      prompt: `${prompt} 😀`,
      className: null,
      classIndex: null,
    })
    expect(result.promptNotes).toEqual(['ignored characters: 😀'])
  })
})

describe('what the plan makes of a prompt for a text pack', () => {
  it('cuts a prompt over the limit, with a note; keeps the first words', () => {
    const maxTokens = rt.tokenizer?.maxTokens ?? 0
    const words = Array.from({ length: maxTokens + 3 }, () => 'heart')
    const planned = plan({ mode: '1step', prompt: words.join(' ') })
    expect(planned.prompt?.ids).toHaveLength(maxTokens)
    expect(planned.prompt?.ids[0]).toBe(BOS)
    expect(planned.prompt?.ids.every((id) => id !== PAD)).toBe(true)
    expect(planned.promptNotes).toEqual([
      `prompt too long: ${maxTokens - 1} words at most; cut off: heart heart heart heart`,
    ])
  })

  it('notes ignored emoji and unknown words with the nearest known word', () => {
    expect(plan({ mode: '1step', prompt: 'heart 😀' }).promptNotes).toEqual(['ignored characters: 😀'])
    const typo = plan({ mode: '1step', prompt: 'noto hearrt' })
    expect(typo.promptNotes).toEqual(["not in this model's vocabulary: hearrt; nearest known: heart"])
    expect(typo.prompt?.ids.slice(0, 3)).toEqual([BOS, rt.tokenizer?.vocabulary.indexOf('noto'), 3])
  })

  it('refuses a missing prompt, a class, and a prompt of no words when there is no unconditional mode', () => {
    expect(refusal({ mode: '1step' })).toMatch(
      /^prompt: is required: pack '[a-z0-9-]+' draws from a text prompt/,
    )
    expect(refusal({ mode: '1step', class: 0, prompt: 'heart' })).toMatch(
      /^class: pack '[a-z0-9-]+' draws from a text prompt, not classes: give a prompt instead$/,
    )
    const strict = structuredClone(rt.manifest)
    if (strict.conditioning.kind !== 'text') throw new Error('not a text pack')
    strict.conditioning.unconditional = false
    strict.conditioning.negativePrompt = false
    const strictPlan = (request: GenerateRequest) => planGeneration(request, strict, 'h', rt.tokenizer)
    expect(() => strictPlan({ mode: '1step', prompt: '😀 !' })).toThrow(
      'prompt: this pack needs a prompt: it has no unconditional mode (ignored characters: 😀; no words left: the prompt counts as empty)',
    )
    expect(() => strictPlan({ mode: '1step', prompt: '' })).toThrow(
      /^prompt: this pack needs a prompt: it has no unconditional mode$/,
    )
    expect(() => strictPlan({ mode: 'exact', prompt: 'heart', negativePrompt: 'red' })).toThrow(
      /^negativePrompt: pack '[a-z0-9-]+' does not take a negative prompt$/,
    )
    expect(() => planGeneration({ mode: '1step', prompt: 'heart' }, rt.manifest, 'h', null)).toThrow(
      /its tokenizer is not loaded/,
    )
  })

  it('refuses a class pack with a negative prompt; a class pack picks the class a prompt names', async () => {
    const emoji = await loadPack(path.join(COMMITTED_PACKS_DIR, 'emoji32'))
    if (!emoji.ok) throw new Error(emoji.problems.join('; '))
    const classPlan = (request: GenerateRequest) => planGeneration(request, emoji.manifest, 'h')
    expect(() => classPlan({ mode: '1step', class: 0, negativePrompt: 'red' })).toThrow(
      "negativePrompt: pack 'emoji32' draws classes; only a text pack takes a negative prompt",
    )
    const picked = classPlan({ mode: '1step', prompt: 'noto flags' })
    expect(picked).toMatchObject({ classIndex: 26, className: 'noto / Flags', prompt: null })
    expect(picked.promptNotes).toEqual([
      expect.stringMatching(/^the prompt picked class 26, noto \/ Flags \(/),
    ])
    // The class wins over the prompt; a prompt that names several or no classes is refused, naming them.
    expect(classPlan({ mode: '1step', class: 3, prompt: 'noto flags' }).classIndex).toBe(3)
    expect(() => classPlan({ mode: '1step', prompt: 'flags' })).toThrow(
      /^prompt: 4 classes match 'flags' equally/,
    )
    expect(() => classPlan({ mode: '1step', prompt: 'zebra' })).toThrow(
      /^prompt: names no class of pack 'emoji32'/,
    )
    expect(() => classPlan({ mode: '1step' })).toThrow(/^class: is required: pack 'emoji32' draws classes/)
  })
})
