"""Write the shared flow-map test vectors, models/spec/flow-vectors.json.

Run from models/:  PYTHONPATH=. /usr/bin/python3 -m ddpipe.flow_vectors          (writes the file)
                   PYTHONPATH=. /usr/bin/python3 -m ddpipe.flow_vectors --check  (exit 1 if the file differs)

The app's exact-teacher mode repeats stage 4 (ddpipe.mapping) in TypeScript (main/engine/sampling/). These
vectors pin both halves: teacher logits -> shaped p (shape_distribution), and (p, eps) -> token (flow_map and
flow_map_support) with the pack's real flow settings, on a 64-code book (all shaping settings) and on a 512-code
book with top-k 64 (the app's real size, where flow_map_support integrates over 64 codes). Both test suites
(test/unit/flowMap.test.ts and models/tests/test_flow_vectors.py) read it.

Numbers are decimal so the file stays readable and small, and exact: a float64 is its shortest round-trip
decimal; a float32 is the shortest decimal that, parsed as a float64 and rounded to float32 (JSON.parse then
Float32Array), gives its bits back, which is checked here for every value. Intermediate values of the map cannot
be bit-identical across implementations (torch's exp is SLEEF's, OpenBLAS fuses multiply-adds), so what is
pinned is the token, which only rounding right at a decision boundary could change.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .mapping import FlowSpec, flow_map, flow_map_support, shape_distribution
from .noise import gaussian_noise
from .spec_files import spec_main

VOCAB = 64
DIM = 8
SPEC = FlowSpec(steps=48, r_min=0.05, r_max=300.0)  # a pack's real "flow" settings
BOOK_SEED = 20_240_611
CASE_SEED = 7_310_023
EPS_SEED = 3_141_592_653  # case i's eps: values [8 i, 8 i + 8) of this dd-noise-v1 stream, the app's own noise

CFG_SCALES = (1.0, 2.0, 4.0)
TEMPERATURES = (0.7, 1.0, 1.3)
TOP_KS = (0, 8, 32, 64)
TOP_PS = (1.0, 0.9, 0.5)
RANDOM_ROUNDS = 2  # every combination of the settings above this many times, with fresh logits
SPECIAL_CASES = 84  # peaked, tied, paired and flat logits on top: 2 * 108 + 84 = 300 cases

# FlowSpec.grid() for these too (steps 16: the smoke pack). Python's ** is glibc's pow, correctly rounded in all
# of these; not in every grid (steps 200, r 0.05..300, k 106 is 0.5002 ulp off), which only moves rounding.
GRID_SPECS = ((48, 0.05, 300.0), (16, 0.05, 300.0), (32, 0.02, 500.0), (64, 0.1, 100.0), (100, 0.01, 1000.0))

LARGE_VOCAB = 512
LARGE_BOOK_SEED = 5_550_123
LARGE_CASES = 40
LARGE_TOP_K = 64

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "spec" / "flow-vectors.json"


def codebook(vocab: int = VOCAB, seed: int = BOOK_SEED) -> np.ndarray:
    """(vocab, DIM) float32, rows of unit length (as a pack's codebook after L2 normalisation)."""
    g = torch.Generator().manual_seed(seed)
    book = torch.nn.functional.normalize(torch.randn(vocab, DIM, generator=g, dtype=torch.float64), dim=-1)
    return book.numpy().astype(np.float32)


def float32_numbers(values: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back (float64 parse, then round to float32) exactly."""
    out = []
    for x in np.asarray(values, dtype=np.float32).reshape(-1):
        short = float(str(x))  # numpy prints a float32 as its shortest round-trip decimal
        if np.float32(short).view(np.uint32) != x.view(np.uint32):  # double rounding: write it exactly
            short = float(x)
        out.append(short)
    return out


def _shape(cond: np.ndarray, uncond: np.ndarray | None, s: dict) -> torch.Tensor:
    return shape_distribution(
        torch.from_numpy(cond)[None],
        None if uncond is None else torch.from_numpy(uncond)[None],
        s["cfgScale"],
        s["temperature"],
        s["topK"],
        s["topP"],
    )[0]


def _order_independent(cond: np.ndarray, uncond: np.ndarray | None, s: dict) -> bool:
    """Whether shape_distribution's kept set is the same whatever the order of tied logits.

    torch.sort is not stable, so when tied logits straddle the top-p cut, which of them survive is up to
    std::sort's internals: such a case pins nothing portable and is not used. (Top-k keeps all ties at the k-th.)
    This repeats shape_distribution up to the top-p mask, which depends on the sorted values only.
    """
    if s["topP"] >= 1.0:
        return True
    logits = torch.from_numpy(cond).double()
    if uncond is not None and s["cfgScale"] != 1.0:
        u = torch.from_numpy(uncond).double()
        logits = u + s["cfgScale"] * (logits - u)
    logits = logits / max(s["temperature"], 1e-6)
    if 0 < s["topK"] < VOCAB:
        kth = torch.topk(logits, s["topK"]).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    values = torch.sort(logits, descending=True).values
    probs = torch.softmax(values, dim=-1)
    drop = (probs.cumsum(-1) - probs) >= s["topP"]
    straddles = (drop[1:] != drop[:-1]) & (values[1:] == values[:-1])
    return not bool(straddles.any())


def _random_logits(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cond = rng.standard_normal(VOCAB) * rng.choice([0.5, 1.0, 2.0])
    uncond = 0.6 * cond + 0.8 * rng.standard_normal(VOCAB) * np.std(cond)
    return cond.astype(np.float32), uncond.astype(np.float32)


def _special_logits(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cond, uncond = _random_logits(rng)
    if kind == "peaked":  # one code holds almost all the mass
        cond[rng.integers(VOCAB)] += np.float32(rng.choice([8.0, 12.0, 20.0]))
    elif kind == "ties":  # few distinct values: ties everywhere, also at the k-th largest
        cond = np.round(cond / 1.5).astype(np.float32)
        uncond = np.round(uncond / 1.5).astype(np.float32)
    elif kind == "pairs":  # every value twice
        half = cond[: VOCAB // 2]
        cond = rng.permutation(np.concatenate([half, half])).astype(np.float32)
    elif kind == "flat":  # all equal but one raised block: p uniform over the block
        cond = np.zeros(VOCAB, dtype=np.float32)
        cond[rng.choice(VOCAB, size=int(rng.integers(2, 20)), replace=False)] = np.float32(3.0)
        uncond = np.zeros(VOCAB, dtype=np.float32)
    return cond, uncond


def _settings(rng: np.random.Generator) -> dict:
    return {
        "cfgScale": float(rng.choice(CFG_SCALES)),
        "temperature": float(rng.choice(TEMPERATURES + (0.0, 0.05))),  # 0 -> 1e-6: greedy, support 1
        "topK": int(rng.choice(TOP_KS)),
        "topP": float(rng.choice(TOP_PS)),
    }


def _inputs() -> list[dict]:
    """Logits and settings of every case, before any shaping (deterministic in CASE_SEED)."""
    rng = np.random.default_rng(CASE_SEED)
    cases = []
    for _ in range(RANDOM_ROUNDS):
        for cfg, temp, top_k, top_p in itertools.product(CFG_SCALES, TEMPERATURES, TOP_KS, TOP_PS):
            cond, uncond = _random_logits(rng)
            s = {"cfgScale": cfg, "temperature": temp, "topK": top_k, "topP": top_p}
            cases.append({"kind": "random", "settings": s, "cond": cond, "uncond": uncond})
    kinds = ("peaked", "ties", "pairs", "flat")
    target = len(cases) + SPECIAL_CASES
    while len(cases) < target:
        kind = kinds[len(cases) % len(kinds)]
        cond, uncond = _special_logits(kind, rng)
        s = _settings(rng)
        if _order_independent(cond, uncond, s):
            cases.append({"kind": kind, "settings": s, "cond": cond, "uncond": uncond})
    # Without CFG the unconditional logits are unused: keep them in a few such cases only (a smaller file).
    for i, case in enumerate(cases):
        if case["settings"]["cfgScale"] == 1.0 and i % 3 != 0:
            case["uncond"] = None
    return cases


def _sparse(p: torch.Tensor) -> dict:
    """p (float64) by its support: every code not listed has p exactly 0."""
    codes = torch.nonzero(p > 0)[:, 0]
    return {"support": len(codes), "codes": codes.tolist(), "p": p[codes].tolist()}


def _tokens(p: torch.Tensor, book: torch.Tensor, eps: np.ndarray) -> dict:
    eps_t = torch.from_numpy(eps)[None].double()
    return {
        "token": int(flow_map(p[None], book, eps_t, SPEC)[0]),
        "tokenSupport": int(flow_map_support(p[None], book, eps_t, SPEC)[0]),
    }


def _cases(book: torch.Tensor) -> list[dict]:
    cases = _inputs()
    eps_all = gaussian_noise(EPS_SEED, len(cases) * DIM).reshape(len(cases), DIM)
    out = []
    for case, eps in zip(cases, eps_all):
        p = _shape(case["cond"], case["uncond"], case["settings"])
        out.append(
            {
                "kind": case["kind"],
                **case["settings"],
                **_sparse(p),
                **_tokens(p, book, eps),
                "eps": float32_numbers(eps),
                "cond": float32_numbers(case["cond"]),
                "uncond": None if case["uncond"] is None else float32_numbers(case["uncond"]),
            }
        )
    return out


def _large_cases(book: torch.Tensor) -> list[dict]:
    rng = np.random.default_rng(CASE_SEED + 1)
    eps_all = gaussian_noise(EPS_SEED + 1, LARGE_CASES * DIM).reshape(LARGE_CASES, DIM)
    out = []
    for i, eps in enumerate(eps_all):
        kind = ("random", "random", "random", "ties")[i % 4]
        cond = (rng.standard_normal(LARGE_VOCAB) * rng.choice([1.0, 2.0, 3.0])).astype(np.float32)
        if kind == "ties":  # a flat top: the whole support tied, so only the support's order moves rounding
            cond[rng.choice(LARGE_VOCAB, size=LARGE_TOP_K, replace=False)] = np.float32(10.0)
        s = {"cfgScale": 1.0, "temperature": float(rng.choice(TEMPERATURES)), "topK": LARGE_TOP_K}
        s["topP"] = float(rng.choice((1.0, 1.0, 0.9)))
        p = _shape(cond, None, s)
        out.append({"kind": kind, **s, **_sparse(p), **_tokens(p, book, eps), "eps": float32_numbers(eps)})
    return out


def build_vectors() -> dict:
    book = codebook()
    large_book = codebook(LARGE_VOCAB, LARGE_BOOK_SEED)
    return {
        "generatedBy": "cd models && PYTHONPATH=. /usr/bin/python3 -m ddpipe.flow_vectors",
        "encoding": "float64: shortest round-trip decimal; float32 (codebooks, eps, logits): shortest decimal that "
        "gives the float32 back when parsed as float64 and rounded to float32 (Float32Array.from(json))",
        "p": "shape_distribution's output (float64) by its support: p[codes[i]] = p[i], every other code 0",
        "eps": f"dd-noise-v1, case i uses values [{DIM} i, {DIM} i + {DIM}) of seed {EPS_SEED} "
        f"(large.cases: seed {EPS_SEED + 1})",
        "flow": SPEC.manifest(),
        "grids": [
            {"steps": steps, "rMin": r_min, "rMax": r_max, "grid": FlowSpec(steps, r_min, r_max).grid()}
            for steps, r_min, r_max in GRID_SPECS
        ],
        "codebook": {"vocab": VOCAB, "dim": DIM, "values": float32_numbers(book)},
        "cases": _cases(torch.from_numpy(book)),
        "large": {
            "about": "the app's real size: top-k 64 of 512 codes, so flow_map_support works on 64; p only, no logits",
            "codebook": {"vocab": LARGE_VOCAB, "dim": DIM, "values": float32_numbers(large_book)},
            "cases": _large_cases(torch.from_numpy(large_book)),
        },
    }


LINE_WIDTH = 110  # biome.json's formatter width: the file is written exactly as `biome format` prints it


def _scalar(value: object) -> str:
    text = json.dumps(value)
    if isinstance(value, float) and "e" in text:  # biome writes 1e-05 as 1e-5 and 1e+20 as 1e20
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _render(value: object, indent: int, prefix: str, suffix: str, lines: list[str]) -> None:
    """noise_vectors._render, plus biome's layout for long arrays of numbers: filled, as many per line as fit."""
    pad = " " * indent
    if isinstance(value, dict):
        lines.append(f"{pad}{prefix}{{")
        items = list(value.items())
        for i, (key, item) in enumerate(items):
            _render(item, indent + 2, json.dumps(key) + ": ", "," if i < len(items) - 1 else "", lines)
        lines.append(f"{pad}}}{suffix}")
    elif isinstance(value, list):
        scalars = not any(isinstance(item, (dict, list)) for item in value)
        flat = f"{pad}{prefix}[{', '.join(_scalar(item) for item in value)}]{suffix}"
        if len(flat) <= LINE_WIDTH and scalars:
            lines.append(flat)
            return
        lines.append(f"{pad}{prefix}[")
        numbers = scalars and len(value) > 1 and all(isinstance(x, (int, float)) for x in value)
        if numbers:
            inner = " " * (indent + 2)
            words = [_scalar(x) + ("," if i < len(value) - 1 else "") for i, x in enumerate(value)]
            line = inner + words[0]
            for word in words[1:]:
                if len(line) + 1 + len(word) <= LINE_WIDTH:
                    line += " " + word
                else:
                    lines.append(line)
                    line = inner + word
            lines.append(line)
        else:
            for i, item in enumerate(value):
                _render(item, indent + 2, "", "," if i < len(value) - 1 else "", lines)
        lines.append(f"{pad}]{suffix}")
    else:
        lines.append(f"{pad}{prefix}{_scalar(value)}{suffix}")


def render(vectors: dict) -> str:
    lines: list[str] = []
    _render(vectors, 0, "", "", lines)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return spec_main(argv, __doc__.splitlines()[0], DEFAULT_PATH, "ddpipe.flow_vectors", lambda: render(build_vectors()))


if __name__ == "__main__":
    sys.exit(main())
