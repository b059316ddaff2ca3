"""The committed flow-map vectors (models/spec/flow-vectors.json) still match what ddpipe.flow_vectors generates.

If a test here fails after an intended change to the mapping or the generator:
    cd models && PYTHONPATH=. /usr/bin/python3 -m ddpipe.flow_vectors
The TypeScript side (test/unit/flowMap.test.ts) checks main/engine/sampling against the same file.

Inputs must be identical; p may differ in the last bits (torch's softmax sums in SIMD lanes, whose width depends
on the CPU), so it is compared to 1e-12 relative, with the same zero pattern; tokens must be identical.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

MODELS = Path(__file__).resolve().parent.parent
if str(MODELS) not in sys.path:
    sys.path.insert(0, str(MODELS))

from ddpipe.flow_vectors import (  # noqa: E402
    DEFAULT_PATH,
    DIM,
    EPS_SEED,
    LARGE_BOOK_SEED,
    LARGE_VOCAB,
    SPEC,
    build_vectors,
    codebook,
    render,
)
from ddpipe.mapping import FlowSpec, flow_map, flow_map_support  # noqa: E402
from ddpipe.noise import gaussian_noise  # noqa: E402

TEXT = DEFAULT_PATH.read_text(encoding="utf-8")
VECTORS = json.loads(TEXT)
INPUT_KEYS = ("kind", "cfgScale", "temperature", "topK", "topP", "eps", "cond", "uncond")


@pytest.fixture(scope="module")
def fresh() -> dict:
    return build_vectors()


def _sets(vectors: dict) -> list[tuple[str, dict, list[dict]]]:
    large = vectors["large"]
    return [("cases", vectors["codebook"], vectors["cases"]), ("large", large["codebook"], large["cases"])]


def test_file_is_in_canonical_form():
    # The generator writes exactly what `biome format` prints, so `npm run lint` accepts the file as written.
    assert render(VECTORS) == TEXT


def test_settings_and_grids_are_current(fresh):
    assert VECTORS["flow"] == fresh["flow"] == SPEC.manifest()
    assert VECTORS["grids"] == fresh["grids"]
    for entry in VECTORS["grids"]:
        assert entry["grid"] == FlowSpec(entry["steps"], entry["rMin"], entry["rMax"]).grid()


def test_inputs_are_current(fresh):
    for (name, book, cases), (_, fresh_book, fresh_cases) in zip(_sets(VECTORS), _sets(fresh)):
        assert book == fresh_book, name
        assert len(cases) == len(fresh_cases), name
        for i, (case, new) in enumerate(zip(cases, fresh_cases)):
            assert {k: case.get(k) for k in INPUT_KEYS} == {k: new.get(k) for k in INPUT_KEYS}, f"{name} {i}"


def test_p_is_current(fresh):
    for (name, _, cases), (_, _, fresh_cases) in zip(_sets(VECTORS), _sets(fresh)):
        for i, (case, new) in enumerate(zip(cases, fresh_cases)):
            assert case["codes"] == new["codes"] and case["support"] == len(case["codes"]), f"{name} {i}"
            np.testing.assert_allclose(case["p"], new["p"], rtol=1e-12, atol=0, err_msg=f"{name} {i}")


def test_tokens_are_current(fresh):
    for (name, _, cases), (_, _, fresh_cases) in zip(_sets(VECTORS), _sets(fresh)):
        got = [(c["token"], c["tokenSupport"]) for c in cases]
        assert got == [(c["token"], c["tokenSupport"]) for c in fresh_cases], name


def test_committed_p_and_eps_give_the_committed_tokens():
    # What the TypeScript port is held to: the file's own p (exact) and eps through flow_map and flow_map_support.
    spec = FlowSpec(VECTORS["flow"]["steps"], VECTORS["flow"]["rMin"], VECTORS["flow"]["rMax"])
    for name, book, cases in _sets(VECTORS):
        vocab, dim = book["vocab"], book["dim"]
        book_t = torch.from_numpy(np.array(book["values"], dtype=np.float32).reshape(vocab, dim))
        p = torch.zeros(len(cases), vocab, dtype=torch.float64)
        for i, case in enumerate(cases):
            p[i, case["codes"]] = torch.tensor(case["p"], dtype=torch.float64)
        eps = torch.from_numpy(np.array([c["eps"] for c in cases], dtype=np.float32)).double()
        want = [c["token"] for c in cases]
        assert all(c["tokenSupport"] == c["token"] for c in cases), name
        for i in range(len(cases)):  # one at a time, as the generator ran them
            assert int(flow_map(p[i : i + 1], book_t, eps[i : i + 1], spec)[0]) == want[i], f"{name} {i}"
            assert int(flow_map_support(p[i : i + 1], book_t, eps[i : i + 1], spec)[0]) == want[i], f"{name} {i}"


def test_float32_decimals_read_back_exactly():
    # Parsed as float64 and rounded to float32 (what JSON.parse and Float32Array.from do), the decimals in the file
    # are the generator's float32 values bit for bit: the codebooks and the dd-noise-v1 eps.
    def bits(values) -> np.ndarray:
        return np.array(values, dtype=np.float64).astype(np.float32).view(np.uint32)

    assert np.array_equal(bits(VECTORS["codebook"]["values"]), codebook().reshape(-1).view(np.uint32))
    large = VECTORS["large"]["codebook"]
    assert np.array_equal(bits(large["values"]), codebook(LARGE_VOCAB, LARGE_BOOK_SEED).reshape(-1).view(np.uint32))
    for cases, seed in ((VECTORS["cases"], EPS_SEED), (VECTORS["large"]["cases"], EPS_SEED + 1)):
        noise = gaussian_noise(seed, len(cases) * DIM).view(np.uint32)
        assert np.array_equal(bits([c["eps"] for c in cases]).reshape(-1), noise)
