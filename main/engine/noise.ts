/**
 * Seeded Gaussian noise, bit-identical with the Python pipeline (spec "dd-noise-v1", models/ddpipe/noise.py).
 *
 * A generated image is defined by (model pack, mode, seed), so the noise eps it starts from must be the same
 * bits here and in training/evaluation. The generator is counter-based: element k of an image's flattened noise
 * depends only on (seed, k). Uniforms come from a 32-bit integer hash, normals from Box-Muller in float64 with
 * our own log and sin/cos built only from +, -, *, / and sqrt (exactly rounded in IEEE 754, and nothing fuses
 * in JS), rounded once to float32. Math.log/Math.cos are not used: V8's and libm's may differ in the last bit.
 * Every float64 operation below has a twin, in the same order, in noise.py. The algorithm is written out in
 * models/NOISE.md; the shared test vectors are models/spec/noise-vectors.json.
 */

const MASK32 = 0xffffffff
/** Uniform counters are uint32, so one stream holds at most 2^32 values (2^31 Box-Muller pairs). */
const MAX_COUNT = 2 ** 32

export const NOISE_SPEC = {
  name: 'dd-noise-v1',
  dtype: 'float32',
  layout: 'row-major flattening of the noise tensor; element k depends only on (seed, k)',
  seed: 'uint32; image i of a batch with base seed s uses (s + i) mod 2^32',
  hash: {
    mix: 'x ^= x>>16; x *= 0x21f0aaad; x ^= x>>15; x *= 0x735a2d97; x ^= x>>15 (uint32, wrapping)',
    keys: 'k1 = mix(seed ^ 0x243f6a88); k2 = mix(k1 ^ 0x85a308d3)',
    hash: 'h(c) = mix((mix(c ^ k1) + k2) mod 2^32)',
  },
  uniform: 'u = (h + 0.5) * 2^-32 in float64, in (0, 1)',
  normal:
    'Box-Muller per pair j: u1 = u(2j), u2 = u(2j+1); element 2j = r cos t, 2j+1 = r sin t, ' +
    'r = sqrt(-2 ln u1), t = 2 pi u2',
  math: 'float64 log/sin/cos from +,-,*,/,sqrt only (no libm, no fma), rounded once to float32',
  maxCount: MAX_COUNT,
} as const

// Wellons' two-multiply 32-bit mixer (hash-prospector, shifts 16/15/15); per-seed keys from hex digits of pi.
const MIX_MUL1 = 0x21f0aaad
const MIX_MUL2 = 0x735a2d97
const KEY1 = 0x243f6a88
const KEY2 = 0x85a308d3

const TWO_M32 = 2.3283064365386963e-10 // 2^-32
const SQRT_HALF = Math.SQRT1_2 // 0.7071067811865476, the same double as noise.py's literal
const LN2_HI = 0.6931471803691238 // fdlibm: 32 significant bits, so e * LN2_HI is exact
const LN2_LO = 1.9082149292705877e-10
const HALF_PI = 1.5707963267948966
// log(f) = 2 atanh(s): 2/3, 2/5, ..., 2/21
const L3 = 0.6666666666666666
const L5 = 0.4
const L7 = 0.2857142857142857
const L9 = 0.2222222222222222
const L11 = 0.18181818181818182
const L13 = 0.15384615384615385
const L15 = 0.13333333333333333
const L17 = 0.11764705882352941
const L19 = 0.10526315789473684
const L21 = 0.09523809523809523
// sin: (-1)^k / (2k+1)!
const S3 = -0.16666666666666666
const S5 = 0.008333333333333333
const S7 = -0.0001984126984126984
const S9 = 2.7557319223985893e-6
const S11 = -2.505210838544172e-8
const S13 = 1.6059043836821613e-10
const S15 = -7.647163731819816e-13
const S17 = 2.8114572543455206e-15
// cos: (-1)^k / (2k)!
const C2 = -0.5
const C4 = 0.041666666666666664
const C6 = -0.001388888888888889
const C8 = 2.48015873015873e-5
const C10 = -2.755731922398589e-7
const C12 = 2.08767569878681e-9
const C14 = -1.1470745597729725e-11
const C16 = 4.779477332387385e-14
const C18 = -1.5619206968586225e-16

/** 2^c for c = 0..32, exact. */
const POW2 = Float64Array.from({ length: 33 }, (_, c) => 2 ** c)

function mix(v: number): number {
  let x = v | 0
  x ^= x >>> 16
  x = Math.imul(x, MIX_MUL1)
  x ^= x >>> 15
  x = Math.imul(x, MIX_MUL2)
  x ^= x >>> 15
  return x >>> 0
}

/** The uniform hash h(c) of counter c for a seed's keys k1, k2 (all uint32). */
function uniformHash(c: number, k1: number, k2: number): number {
  return mix((mix(c ^ k1) + k2) | 0)
}

/** ln((h + 0.5) * 2^-32) for a uint32 h, within 2 ulp. */
function logUniform(h: number): number {
  const u = (h + 0.5) * TWO_M32
  // frexp(u), exact: u = (2h + 1) / 2^33, so u = f * 2^e with e = -clz32(h) and f in [0.5, 1).
  const c = Math.clz32(h)
  let f = u * (POW2[c] as number)
  let e = -c
  if (f < SQRT_HALF) {
    f = f * 2
    e = e - 1
  }
  const s = (f - 1) / (f + 1)
  const z = s * s
  let t = L21
  t = L19 + z * t
  t = L17 + z * t
  t = L15 + z * t
  t = L13 + z * t
  t = L11 + z * t
  t = L9 + z * t
  t = L7 + z * t
  t = L5 + z * t
  t = L3 + z * t
  const logF = 2 * s + s * (z * t)
  return e * LN2_HI + (e * LN2_LO + logF)
}

/** The sine from the last cosTurn call: a second result without allocating in the hot loop. */
let lastSin = 0

/** cos(2 pi u) for u = (h + 0.5) * 2^-32, h a uint32; sin(2 pi u) is left in lastSin. */
function cosTurn(h: number): number {
  // Reduce in quarter turns (exact), then Taylor series on |a| < pi/4.
  const w = (h + 0.5) * TWO_M32 * 4
  const n = Math.floor(w + 0.5) // never a tie
  const a = (w - n) * HALF_PI
  const z = a * a
  let ts = S17
  ts = S15 + z * ts
  ts = S13 + z * ts
  ts = S11 + z * ts
  ts = S9 + z * ts
  ts = S7 + z * ts
  ts = S5 + z * ts
  ts = S3 + z * ts
  const sinA = a + a * (z * ts)
  let tc = C18
  tc = C16 + z * tc
  tc = C14 + z * tc
  tc = C12 + z * tc
  tc = C10 + z * tc
  tc = C8 + z * tc
  tc = C6 + z * tc
  tc = C4 + z * tc
  tc = C2 + z * tc
  const cosA = 1 + z * tc
  // Rotate by n quarter turns: exact sign flips and swaps (n is 0..4).
  switch (n & 3) {
    case 0:
      lastSin = sinA
      return cosA
    case 1:
      lastSin = cosA
      return -sinA
    case 2:
      lastSin = -sinA
      return -cosA
    default:
      lastSin = -cosA
      return sinA
  }
}

/**
 * Intermediate steps of the generator, exported for the spec tests (models/spec/noise-vectors.json pins them)
 * and for comparing against Math.log/Math.cos/Math.sin.
 */
export const noiseInternals = {
  mix,
  /** [k1, k2] for a seed. */
  keys(seed: number): [number, number] {
    const k1 = mix(seed ^ KEY1)
    return [k1, mix(k1 ^ KEY2)]
  },
  /** h(counter) for keys k1, k2. */
  uniformHash,
  /** ln((h + 0.5) * 2^-32). */
  logUniform,
  /** [cos, sin] of 2 pi (h + 0.5) * 2^-32. */
  cosSinTurn(h: number): [number, number] {
    const cos = cosTurn(h)
    return [cos, lastSin]
  },
}

/**
 * The first `count` standard normal values of stream `seed` (dd-noise-v1): element k depends only on
 * (seed, k), so a longer request extends a shorter one and batch image i is `gaussianNoise(batchSeed(s, i), n)`.
 */
export function gaussianNoise(seed: number, count: number): Float32Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > MASK32) {
    throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${String(seed)}`)
  }
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_COUNT) {
    throw new RangeError(`count must be an integer in [0, 2^32], got ${String(count)}`)
  }
  const out = new Float32Array(count)
  const k1 = mix(seed ^ KEY1)
  const k2 = mix(k1 ^ KEY2)
  const pairs = Math.ceil(count / 2)
  for (let j = 0; j < pairs; j++) {
    const ctr = 2 * j // < 2^32
    const h1 = uniformHash(ctr, k1, k2)
    const h2 = uniformHash(ctr + 1, k1, k2)

    const r = Math.sqrt(-2 * logUniform(h1))

    const cosT = cosTurn(h2)
    const sinT = lastSin

    const k = 2 * j
    out[k] = r * cosT // the Float32Array store rounds once, to nearest even
    if (k + 1 < count) out[k + 1] = r * sinT
  }
  return out
}

/** The seed of image `index` of a batch with base seed `seed`: (seed + index) mod 2^32. */
export function batchSeed(seed: number, index: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > MASK32) {
    throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${String(seed)}`)
  }
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`index must be a non-negative safe integer, got ${String(index)}`)
  }
  return (seed + (index % 2 ** 32)) % 2 ** 32
}

/** Noise for `nImages` images of `perImage` values each, concatenated: image i uses seed (seed + i) mod 2^32. */
export function gaussianNoiseBatch(seed: number, nImages: number, perImage: number): Float32Array {
  if (!Number.isSafeInteger(nImages) || nImages < 0) {
    throw new RangeError(`nImages must be a non-negative safe integer, got ${String(nImages)}`)
  }
  if (!Number.isSafeInteger(perImage) || perImage < 0 || perImage > MAX_COUNT) {
    throw new RangeError(`perImage must be an integer in [0, 2^32], got ${String(perImage)}`)
  }
  const out = new Float32Array(nImages * perImage)
  for (let i = 0; i < nImages; i++) out.set(gaussianNoise(batchSeed(seed, i), perImage), i * perImage)
  return out
}
