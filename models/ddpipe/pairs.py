"""Stage 5: (class, noise seed, tokens) triples from the teacher and the flow map — the student's training data.

Pair i uses noise seed `noise_seed_base + i` with the dd-noise-v1 generator, so its noise is never stored: the
student regenerates it bit for bit. Pairs are made in chunks that are written atomically, so an interrupted run
resumes at the first missing chunk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .common import PipelineError, Progress, atomic_path, save_json, training_device
from .config import PipelineConfig
from .mapping import FlowSpec, flow_map_support
from .teacher import Teacher, sample_ar


def flow_spec(cfg: PipelineConfig) -> FlowSpec:
    m = cfg.mapping
    return FlowSpec(steps=m.steps, r_min=m.r_min, r_max=m.r_max)


def pair_classes(cfg: PipelineConfig, n_classes: int) -> np.ndarray:
    """Balanced classes in a seeded order."""
    count = cfg.pairs.count
    classes = np.arange(count) % n_classes
    return np.random.default_rng([cfg.seed, 5]).permutation(classes)


@torch.no_grad()
def exact_teacher_tokens(
    teacher: Teacher,
    book: torch.Tensor,
    classes: torch.Tensor,
    seeds: np.ndarray,
    cfg: PipelineConfig,
    prefix: torch.Tensor | None = None,
    start: int = 0,
) -> torch.Tensor:
    """The deterministic teacher: token i from eps_i (noise of each seed) and the prefix, through the flow map.

    With `prefix` and `start`, tokens before `start` are the prefix's and the teacher continues from there.
    """
    n, d = teacher.seq_len, book.shape[1]
    from .student import noise_for

    eps = torch.from_numpy(noise_for(seeds, n, d)).double().to(book.device)
    spec = flow_spec(cfg)
    tokens = sample_ar(
        teacher, classes.to(book.device), cfg, lambda p, pos: flow_map_support(p, book, eps[:, pos], spec),
        prefix=None if prefix is None else prefix.to(book.device), start=start,
    )  # fmt: skip
    return tokens.cpu()


def make_pairs(cfg: PipelineConfig, teacher: Teacher, book: torch.Tensor, work: Path, conditions: np.ndarray | None = None) -> dict:
    """`conditions`: each pair's condition index (a text pack's prompts); class packs use balanced classes."""
    stage = work / "pairs"
    chunks = stage / "chunks"
    chunks.mkdir(parents=True, exist_ok=True)
    p = cfg.pairs
    device = training_device()
    teacher = teacher.to(device)
    book = book.to(device)
    classes = pair_classes(cfg, teacher.n_classes) if conditions is None else conditions
    n_chunks = (p.count + p.batch - 1) // p.batch
    # DDSTUDIO_PAIRS_SHARD=k/n: this process makes only chunks i with i % n == k, so several single-threaded
    # processes can share a machine (small AR steps run faster that way than one process on all cores).
    shard, shards = (int(v) for v in os.environ.get("DDSTUDIO_PAIRS_SHARD", "0/1").split("/"))
    mine = [i for i in range(n_chunks) if i % shards == shard]
    done = sum(1 for i in mine if (chunks / f"{i:05d}.npz").exists())
    progress = Progress(len(mine), f"pairs {shard}/{shards}", start=done)
    for i in mine:
        path = chunks / f"{i:05d}.npz"
        if path.exists():
            continue
        lo, hi = i * p.batch, min(p.count, (i + 1) * p.batch)
        seeds = np.arange(lo, hi, dtype=np.int64) + p.noise_seed_base
        tokens = exact_teacher_tokens(teacher, book, torch.from_numpy(classes[lo:hi]), seeds, cfg)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, tokens=tokens.numpy().astype(np.int16), classes=classes[lo:hi], seeds=seeds)
        progress.update(1)

    missing = [i for i in range(n_chunks) if not (chunks / f"{i:05d}.npz").exists()]
    if missing:
        raise PipelineError(f"pairs: {len(missing)} of {n_chunks} chunks still missing in {chunks} (other shards running?)")
    parts = [np.load(chunks / f"{i:05d}.npz") for i in range(n_chunks)]
    tokens = np.concatenate([part["tokens"] for part in parts])
    if len(tokens) != p.count:
        raise PipelineError(f"pairs: expected {p.count} pairs in {chunks}, found {len(tokens)}; delete the folder to redo")
    out = {
        "tokens": tokens,
        "classes": np.concatenate([part["classes"] for part in parts]),
        "seeds": np.concatenate([part["seeds"] for part in parts]),
    }
    n_val = min(2000, max(1, p.count // 50))
    with atomic_path(stage / "pairs.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, n_val=n_val, **out)
    metrics = {"count": p.count, "val_pairs": n_val, "distinct_tokens": int(len(np.unique(tokens)))}
    save_json(stage / "metrics.json", metrics)
    return metrics


def load_pairs(work: Path) -> dict:
    path = work / "pairs" / "pairs.npz"
    if not path.exists():
        raise PipelineError(f"pairs are missing: {path} (run the 'pairs' stage)")
    try:
        data = np.load(path)
        return {
            "tokens": data["tokens"].astype(np.int64),
            "classes": data["classes"],
            "seeds": data["seeds"],
            "n_val": int(data["n_val"]),
        }
    except Exception as err:
        raise PipelineError(f"pairs file {path} is unreadable ({err}); delete it to redo the stage") from err
