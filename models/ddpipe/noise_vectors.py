"""Write the shared dd-noise-v1 test vectors, models/spec/noise-vectors.json.

Run from models/:  /usr/bin/python3 -m ddpipe.noise_vectors          (writes the file)
                   /usr/bin/python3 -m ddpipe.noise_vectors --check  (exit 1 if the file differs)

Values are float32 bit patterns as 8-digit hex (uint32), so there is no decimal rounding to argue about. Both
test suites (test/unit/noise.test.ts and models/tests/test_noise.py) check their generator against this file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from .noise import (
    NOISE_SPEC,
    _cos_sin_turn,
    _hash,
    _keys,
    _log_uniform,
    _uniform,
    gaussian_noise,
    gaussian_noise_batch,
)
from .spec_files import spec_main

VECTOR_SEEDS = (0, 1, 42, 2**32 - 1, 2_937_486_501)  # the last one drawn at random once
VECTOR_COUNT = 64
HASH_SEED = 42
HASH_COUNT = 1 << 20
HASH_PREFIX = 8  # the first uniform hashes of each vector seed
BATCH_SEED = 2**32 - 400  # 1000 images crossing the 2^32 wrap of batch seeds
BATCH_IMAGES = 1000
BATCH_SHAPE = (64, 8)


def _special_log_inputs() -> list[int]:
    """h values for ln((h + 0.5) 2^-32): every exponent, both sides of the sqrt(1/2) split, the ends."""
    hs = {0, 1, 2, 3, 0xFFFFFFFF, 0xFFFFFFFE, 0x80000000, 0x7FFFFFFF, 0x12345678, 0x9ABCDEF0}
    for k in range(2, 32):
        hs.update({(1 << k) - 1, 1 << k})
    for k in (8, 16, 24, 31, 32):
        mid = int(0.7071067811865476 * 2**k)
        hs.update(h for h in (mid - 1, mid, mid + 1) if h <= 0xFFFFFFFF)
    return sorted(hs)


def _special_turn_inputs() -> list[int]:
    """h values for cos/sin(2 pi (h + 0.5) 2^-32): near every eighth of a turn, the ends."""
    hs = {0, 0xFFFFFFFF, 0x12345678, 0x9ABCDEF0, 0x55555555, 0xAAAAAAAA}
    for m in range(1, 8):
        c = m << 29
        hs.update({c - 1, c, c + 1})
    return sorted(hs)


def float64_bits(values: np.ndarray) -> list[str]:
    return [f"{int(b):016x}" for b in np.asarray(values, dtype=np.float64).view(np.uint64)]


def _checkpoints() -> dict:
    log_h = np.array(_special_log_inputs(), dtype=np.uint32)
    turn_h = np.array(_special_turn_inputs(), dtype=np.uint32)
    cos_t, sin_t = _cos_sin_turn(_uniform(turn_h))
    keys = []
    for seed in VECTOR_SEEDS:
        k1, k2 = _keys(seed)
        h = _hash(np.arange(HASH_PREFIX, dtype=np.uint32), k1, k2)
        keys.append(
            {"seed": seed, "k1": f"{int(k1):08x}", "k2": f"{int(k2):08x}", "h": [f"{int(x):08x}" for x in h]}
        )
    return {
        "encoding": "uint32 as 8 hex digits; float64 bit patterns as 16 hex digits",
        "hash": keys,
        "logUniform": {
            "h": [f"{int(x):08x}" for x in log_h],
            "ln": float64_bits(_log_uniform(_uniform(log_h))),
        },
        "cosSinTurn": {
            "h": [f"{int(x):08x}" for x in turn_h],
            "cos": float64_bits(cos_t),
            "sin": float64_bits(sin_t),
        },
    }

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "spec" / "noise-vectors.json"


def float32_bits(values: np.ndarray) -> list[str]:
    return [f"{int(b):08x}" for b in np.asarray(values, dtype=np.float32).view(np.uint32)]


def noise_sha256(seed: int, count: int) -> str:
    return hashlib.sha256(gaussian_noise(seed, count).astype("<f4").tobytes()).hexdigest()


def build_vectors() -> dict:
    return {
        "spec": NOISE_SPEC,
        "generatedBy": "cd models && /usr/bin/python3 -m ddpipe.noise_vectors",
        "encoding": "float32 bit patterns, uint32 as 8 lowercase hex digits",
        "vectors": [
            {"seed": seed, "count": VECTOR_COUNT, "bits": float32_bits(gaussian_noise(seed, VECTOR_COUNT))}
            for seed in VECTOR_SEEDS
        ],
        "sha256": {
            "seed": HASH_SEED,
            "count": HASH_COUNT,
            "bytes": "float32 little-endian",
            "sha256": noise_sha256(HASH_SEED, HASH_COUNT),
        },
        "batch": {
            "seed": BATCH_SEED,
            "nImages": BATCH_IMAGES,
            "shape": list(BATCH_SHAPE),
            "bytes": "float32 little-endian, images concatenated",
            "sha256": hashlib.sha256(
                gaussian_noise_batch(BATCH_SEED, BATCH_IMAGES, BATCH_SHAPE).astype("<f4").tobytes()
            ).hexdigest(),
        },
        "checkpoints": _checkpoints(),
    }


LINE_WIDTH = 110  # biome.json's formatter width: the file is written exactly as `biome format` prints it


def _render(value: object, indent: int, prefix: str, suffix: str, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        lines.append(f"{pad}{prefix}{{")
        items = list(value.items())
        for i, (key, item) in enumerate(items):
            _render(item, indent + 2, json.dumps(key) + ": ", "," if i < len(items) - 1 else "", lines)
        lines.append(f"{pad}}}{suffix}")
    elif isinstance(value, list):
        flat = f"{pad}{prefix}[{', '.join(json.dumps(item) for item in value)}]{suffix}"
        if len(flat) <= LINE_WIDTH and not any(isinstance(item, (dict, list)) for item in value):
            lines.append(flat)
            return
        lines.append(f"{pad}{prefix}[")
        for i, item in enumerate(value):
            _render(item, indent + 2, "", "," if i < len(value) - 1 else "", lines)
        lines.append(f"{pad}]{suffix}")
    else:
        lines.append(f"{pad}{prefix}{json.dumps(value)}{suffix}")


def render(vectors: dict) -> str:
    """JSON with 2-space indents, objects expanded, arrays of scalars on one line where they fit."""
    lines: list[str] = []
    _render(vectors, 0, "", "", lines)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return spec_main(argv, __doc__.splitlines()[0], DEFAULT_PATH, "ddpipe.noise_vectors", lambda: render(build_vectors()))


if __name__ == "__main__":
    sys.exit(main())
