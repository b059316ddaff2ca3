"""Seeded Gaussian noise, bit-identical with the app's TypeScript engine (spec "dd-noise-v1").

A generated image is defined by (model pack, mode, seed); the noise eps it starts from must be the same bits
here (numpy, and torch via ``torch.from_numpy``) and in ``main/engine/noise.ts``. The generator is
counter-based: element k of an image's flattened noise depends only on (seed, k). Uniforms come from a 32-bit
integer hash, normals from Box-Muller in float64 with our own log and sin/cos built only from +, -, *, / and
sqrt (exactly rounded in IEEE 754 in both languages, no fused multiply-add), rounded once to float32 at the
end. Every float64 operation below has a twin, in the same order, in noise.ts. The algorithm is written out in
models/NOISE.md; the shared test vectors, models/spec/noise-vectors.json, come from ddpipe.noise_vectors.
"""

from __future__ import annotations

import math
import operator

import numpy as np

__all__ = ["NOISE_SPEC", "batch_seed", "gaussian_noise", "gaussian_noise_batch"]

_MASK32 = 0xFFFFFFFF
# The mixer: Chris Wellons' two-multiply 32-bit integer hash (hash-prospector, shifts 16/15/15).
_MIX_MUL1 = 0x21F0AAAD
_MIX_MUL2 = 0x735A2D97
# Per-seed keys: k1 = mix(seed ^ KEY1), k2 = mix(k1 ^ KEY2) (hex digits of pi).
_KEY1 = 0x243F6A88
_KEY2 = 0x85A308D3
MAX_COUNT = 2**32  # uniform counters are uint32: at most 2^31 pairs

NOISE_SPEC: dict = {
    "name": "dd-noise-v1",
    "dtype": "float32",
    "layout": "row-major flattening of the noise tensor; element k depends only on (seed, k)",
    "seed": "uint32; image i of a batch with base seed s uses (s + i) mod 2^32",
    "hash": {
        "mix": "x ^= x>>16; x *= 0x21f0aaad; x ^= x>>15; x *= 0x735a2d97; x ^= x>>15 (uint32, wrapping)",
        "keys": "k1 = mix(seed ^ 0x243f6a88); k2 = mix(k1 ^ 0x85a308d3)",
        "hash": "h(c) = mix((mix(c ^ k1) + k2) mod 2^32)",
    },
    "uniform": "u = (h + 0.5) * 2^-32 in float64, in (0, 1)",
    "normal": "Box-Muller per pair j: u1 = u(2j), u2 = u(2j+1); element 2j = r cos t, 2j+1 = r sin t, "
    "r = sqrt(-2 ln u1), t = 2 pi u2",
    "math": "float64 log/sin/cos from +,-,*,/,sqrt only (no libm, no fma), rounded once to float32",
    "maxCount": MAX_COUNT,
}

# log(f) on [sqrt(1/2), sqrt(2)): 2 atanh(s), s = (f - 1) / (f + 1); these are 2/3, 2/5, ..., 2/21.
_SQRT_HALF = 0.7071067811865476
_LOG_C = (
    0.6666666666666666,
    0.4,
    0.2857142857142857,
    0.2222222222222222,
    0.18181818181818182,
    0.15384615384615385,
    0.13333333333333333,
    0.11764705882352941,
    0.10526315789473684,
    0.09523809523809523,
)
_LN2_HI = 0.6931471803691238  # fdlibm: 32 significant bits, so e * LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10
# sin/cos on [-pi/4, pi/4]: Taylor coefficients (-1)^k / (2k+1)! and (-1)^k / (2k)!, k >= 1.
_SIN_C = (
    -0.16666666666666666,
    0.008333333333333333,
    -0.0001984126984126984,
    2.7557319223985893e-06,
    -2.505210838544172e-08,
    1.6059043836821613e-10,
    -7.647163731819816e-13,
    2.8114572543455206e-15,
)
_COS_C = (
    -0.5,
    0.041666666666666664,
    -0.001388888888888889,
    2.48015873015873e-05,
    -2.755731922398589e-07,
    2.08767569878681e-09,
    -1.1470745597729725e-11,
    4.779477332387385e-14,
    -1.5619206968586225e-16,
)
_HALF_PI = 1.5707963267948966
_TWO_M32 = 2.3283064365386963e-10  # 2^-32

_CHUNK_PAIRS = 1 << 18  # bounds the temporaries for large counts

_U15 = np.uint32(15)
_U16 = np.uint32(16)
_UMUL1 = np.uint32(_MIX_MUL1)
_UMUL2 = np.uint32(_MIX_MUL2)


def _mix_int(x: int) -> int:
    x &= _MASK32
    x ^= x >> 16
    x = (x * _MIX_MUL1) & _MASK32
    x ^= x >> 15
    x = (x * _MIX_MUL2) & _MASK32
    x ^= x >> 15
    return x


def _mix(x: np.ndarray) -> np.ndarray:
    """The mixer on a uint32 array (numpy's uint32 multiply wraps mod 2^32)."""
    x = x ^ (x >> _U16)
    x *= _UMUL1
    x ^= x >> _U15
    x *= _UMUL2
    x ^= x >> _U15
    return x


def _keys(seed: int) -> tuple[np.uint32, np.uint32]:
    k1 = _mix_int(seed ^ _KEY1)
    k2 = _mix_int(k1 ^ _KEY2)
    return np.uint32(k1), np.uint32(k2)


def _hash(counters: np.ndarray, k1: np.uint32, k2: np.uint32) -> np.ndarray:
    h = _mix(counters ^ k1)
    h += k2  # wraps
    return _mix(h)


def _uniform(h: np.ndarray) -> np.ndarray:
    return (h.astype(np.float64) + 0.5) * _TWO_M32


def _log_uniform(u: np.ndarray) -> np.ndarray:
    """ln(u) for u in (0, 1), within 2 ulp, from +, -, *, / only."""
    f, e = np.frexp(u)  # exact: u = f * 2^e, f in [0.5, 1)
    e = e.astype(np.float64)
    small = f < _SQRT_HALF
    f = np.where(small, f * 2.0, f)
    e = np.where(small, e - 1.0, e)
    s = (f - 1.0) / (f + 1.0)
    z = s * s
    t = np.full_like(z, _LOG_C[9])
    for c in _LOG_C[8::-1]:
        t = c + z * t
    log_f = 2.0 * s + s * (z * t)
    return e * _LN2_HI + (e * _LN2_LO + log_f)


def _cos_sin_turn(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos(2 pi u) and sin(2 pi u) for u = (h + 0.5) * 2^-32, from +, -, *, / only."""
    w = u * 4.0  # quarter turns, exact
    n = np.floor(w + 0.5)  # exact, never a tie
    a = (w - n) * _HALF_PI  # w - n exact, |a| < pi/4
    z = a * a
    ts = np.full_like(z, _SIN_C[7])
    for c in _SIN_C[6::-1]:
        ts = c + z * ts
    sin_a = a + a * (z * ts)
    tc = np.full_like(z, _COS_C[8])
    for c in _COS_C[7::-1]:
        tc = c + z * tc
    cos_a = 1.0 + z * tc
    q = n.astype(np.int64) & 3  # n in 0..4; rotate by q quarter turns (exact sign flips)
    cos_t = np.where(q == 0, cos_a, np.where(q == 1, -sin_a, np.where(q == 2, -cos_a, sin_a)))
    sin_t = np.where(q == 0, sin_a, np.where(q == 1, cos_a, np.where(q == 2, -sin_a, -cos_a)))
    return cos_t, sin_t


def _check_seed(seed: object, name: str = "seed") -> int:
    if isinstance(seed, bool):
        raise TypeError(f"{name} must be an integer in [0, 2^32 - 1], got {seed!r}")
    try:
        value = operator.index(seed)
    except TypeError:
        raise TypeError(f"{name} must be an integer in [0, 2^32 - 1], got {seed!r}") from None
    if not 0 <= value <= _MASK32:
        raise ValueError(f"{name} must be an integer in [0, 2^32 - 1], got {value}")
    return value


def _check_count(count: object, name: str = "count") -> int:
    if isinstance(count, bool):
        raise TypeError(f"{name} must be an integer in [0, 2^32], got {count!r}")
    try:
        value = operator.index(count)
    except TypeError:
        raise TypeError(f"{name} must be an integer in [0, 2^32], got {count!r}") from None
    if not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{name} must be an integer in [0, 2^32], got {value}")
    return value


def gaussian_noise(seed: int, count: int) -> np.ndarray:
    """The first ``count`` standard normal values of stream ``seed`` (uint32), as float32 (dd-noise-v1)."""
    seed = _check_seed(seed)
    count = _check_count(count)
    out = np.empty(count, dtype=np.float32)
    k1, k2 = _keys(seed)
    pairs = (count + 1) // 2
    for p0 in range(0, pairs, _CHUNK_PAIRS):
        p1 = min(p0 + _CHUNK_PAIRS, pairs)
        ctr = np.arange(2 * p0, 2 * p1, dtype=np.uint32)  # 2j, 2j+1 interleaved
        u = _uniform(_hash(ctr, k1, k2))
        u1 = u[0::2]
        u2 = u[1::2]
        r = np.sqrt(-2.0 * _log_uniform(u1))
        cos_t, sin_t = _cos_sin_turn(u2)
        block = np.empty((p1 - p0, 2), dtype=np.float64)
        block[:, 0] = r * cos_t
        block[:, 1] = r * sin_t
        lo = 2 * p0
        hi = min(2 * p1, count)
        out[lo:hi] = block.reshape(-1)[: hi - lo].astype(np.float32)
    return out


def batch_seed(seed: int, index: int) -> int:
    """The seed of image ``index`` in a batch with base seed ``seed``: (seed + index) mod 2^32."""
    return (_check_seed(seed) + operator.index(index)) & _MASK32


def gaussian_noise_batch(seed: int, n_images: int, shape: int | tuple[int, ...] | list[int]) -> np.ndarray:
    """Noise for a batch, shape (n_images, *shape): image i is gaussian_noise((seed + i) mod 2^32, ...)."""
    seed = _check_seed(seed)
    n_images = _check_count(n_images, "n_images")
    if isinstance(shape, (tuple, list)):
        dims = tuple(operator.index(d) for d in shape)
    else:
        dims = (operator.index(shape),)
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative dimensions, got {dims}")
    per_image = _check_count(math.prod(dims), "shape")
    out = np.empty((n_images, *dims), dtype=np.float32)
    for i in range(n_images):
        out[i] = gaussian_noise(batch_seed(seed, i), per_image).reshape(dims)
    return out
