"""dd-noise-v1 from the Python side: the shared vectors bit for bit, and the committed file is current.

Run from the repository root: /usr/bin/python3 -m pytest models/tests/test_noise.py
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

MODELS = Path(__file__).resolve().parent.parent
if str(MODELS) not in sys.path:
    sys.path.insert(0, str(MODELS))

from ddpipe import noise  # noqa: E402
from ddpipe.noise import NOISE_SPEC, batch_seed, gaussian_noise, gaussian_noise_batch  # noqa: E402
from ddpipe.noise_vectors import DEFAULT_PATH, build_vectors, float64_bits, render  # noqa: E402

VECTORS = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def bits32(values: np.ndarray) -> list[str]:
    return [f"{int(b):08x}" for b in np.asarray(values, dtype=np.float32).view(np.uint32)]


def test_committed_vectors_are_current():
    # If this fails after an intended change: cd models && /usr/bin/python3 -m ddpipe.noise_vectors
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(build_vectors())


def test_spec_matches_file():
    assert NOISE_SPEC["name"] == "dd-noise-v1"
    assert VECTORS["spec"] == NOISE_SPEC


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: f"seed{v['seed']}")
def test_vector_bits(vector):
    assert bits32(gaussian_noise(vector["seed"], vector["count"])) == vector["bits"]
    for count in (0, 1, 7, 33):
        assert bits32(gaussian_noise(vector["seed"], count)) == vector["bits"][:count]


def test_vector_seeds():
    seeds = [v["seed"] for v in VECTORS["vectors"]]
    assert {0, 1, 42, 2**32 - 1} <= set(seeds)
    assert any(s not in (0, 1, 42, 2**32 - 1) and s > 2**31 for s in seeds)


def test_sha256_of_a_million_values():
    ref = VECTORS["sha256"]
    values = gaussian_noise(ref["seed"], ref["count"])
    assert values.dtype == np.float32 and values.shape == (1 << 20,)
    assert hashlib.sha256(values.astype("<f4").tobytes()).hexdigest() == ref["sha256"]
    # prefixes across the internal chunk boundaries, odd length
    prefix = gaussian_noise(ref["seed"], 600_001)
    assert np.array_equal(prefix.view(np.uint32), values[:600_001].view(np.uint32))


def test_batch_sha256_across_seed_wrap():
    ref = VECTORS["batch"]
    batch = gaussian_noise_batch(ref["seed"], ref["nImages"], tuple(ref["shape"]))
    assert batch.shape == (ref["nImages"], *ref["shape"]) and batch.dtype == np.float32
    assert hashlib.sha256(batch.astype("<f4").tobytes()).hexdigest() == ref["sha256"]


def test_checkpoints():
    cp = VECTORS["checkpoints"]
    for entry in cp["hash"]:
        k1, k2 = noise._keys(entry["seed"])
        assert [f"{int(k1):08x}", f"{int(k2):08x}"] == [entry["k1"], entry["k2"]]
        h = noise._hash(np.arange(len(entry["h"]), dtype=np.uint32), k1, k2)
        assert [f"{int(x):08x}" for x in h] == entry["h"]
    log_h = np.array([int(h, 16) for h in cp["logUniform"]["h"]], dtype=np.uint32)
    assert float64_bits(noise._log_uniform(noise._uniform(log_h))) == cp["logUniform"]["ln"]
    turn_h = np.array([int(h, 16) for h in cp["cosSinTurn"]["h"]], dtype=np.uint32)
    cos_t, sin_t = noise._cos_sin_turn(noise._uniform(turn_h))
    assert float64_bits(cos_t) == cp["cosSinTurn"]["cos"]
    assert float64_bits(sin_t) == cp["cosSinTurn"]["sin"]


def test_batch_images_are_single_images():
    assert batch_seed(42, 3) == 45
    assert batch_seed(2**32 - 1, 1) == 0
    batch = gaussian_noise_batch(2**32 - 2, 4, (64, 8))
    assert batch.shape == (4, 64, 8)
    for i in range(4):
        single = gaussian_noise((2**32 - 2 + i) % 2**32, 512).reshape(64, 8)
        assert np.array_equal(batch[i].view(np.uint32), single.view(np.uint32))
    assert bits32(batch[2].reshape(-1)[:64]) == next(v["bits"] for v in VECTORS["vectors"] if v["seed"] == 0)
    assert gaussian_noise_batch(0, 2, 5).shape == (2, 5)
    assert gaussian_noise_batch(0, 0, (3, 2)).shape == (0, 3, 2)


@pytest.mark.parametrize("seed", [-1, 2**32, True])
def test_bad_seed(seed):
    with pytest.raises((ValueError, TypeError), match="seed"):
        gaussian_noise(seed, 4)


@pytest.mark.parametrize("seed", [1.0, "1", None])
def test_non_integer_seed(seed):
    with pytest.raises(TypeError, match="seed"):
        gaussian_noise(seed, 4)


@pytest.mark.parametrize("count", [-1, 2**32 + 1, 1.5, "4", False])
def test_bad_count(count):
    with pytest.raises((ValueError, TypeError), match="count"):
        gaussian_noise(0, count)


def test_numpy_integers_are_accepted():
    assert np.array_equal(gaussian_noise(np.uint32(42), np.int64(64)), gaussian_noise(42, 64))
    assert gaussian_noise(0, 0).shape == (0,)


def test_statistics():
    x = gaussian_noise(42, 1 << 20).astype(np.float64)
    n = x.size
    assert abs(x.mean()) < 5 / math.sqrt(n)
    assert abs(x.var() - 1) < 5 * math.sqrt(2 / n)
    assert np.abs(x).max() < 6.77  # u >= 2^-33


def test_own_math_agrees_with_libm():
    rng = np.random.default_rng(0)
    h = np.concatenate(
        [
            rng.integers(0, 2**32, 1 << 18, dtype=np.uint64).astype(np.uint32),
            np.arange(1 << 12, dtype=np.uint32),
            (2**32 - 1 - np.arange(1 << 12)).astype(np.uint32),
        ]
    )
    u = noise._uniform(h)
    ln = np.log(u)
    assert np.max(np.abs(noise._log_uniform(u) - ln) / np.abs(ln)) < 1e-15
    cos_t, sin_t = noise._cos_sin_turn(u)
    assert np.max(np.abs(cos_t - np.cos(2 * np.pi * u))) < 1e-15
    assert np.max(np.abs(sin_t - np.sin(2 * np.pi * u))) < 1e-15
