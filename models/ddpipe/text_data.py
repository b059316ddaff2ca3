"""A text pack's data: the prompt table built from the dataset's captions, the held-out style x concept pairs,
and the prompts the pairs stage conditions on. Everything is a function of the config's seed and the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .common import atomic_path
from .config import PipelineConfig
from .dataset import Dataset
from .text import NULL, PAD, PromptSet, TextSpec, Tokenizer, build_captions, build_tokenizer


def captions_of(data: Dataset, repo: Path):
    return build_captions([str(n) for n in data.names], data.style, data.category, data.style_names, data.category_names, repo)


def tokenizer_for(cfg: PipelineConfig, data: Dataset, repo: Path) -> Tokenizer:
    return build_tokenizer(captions_of(data, repo).prompts, cfg.text.max_tokens)


def prompt_set(cfg: PipelineConfig, data: Dataset, work: Path, repo: Path) -> PromptSet:
    captions = captions_of(data, repo)
    tokenizer = build_tokenizer(captions.prompts, cfg.text.max_tokens)
    path = work / "text" / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(tokenizer.to_json()))
    null = [NULL] + [PAD] * (cfg.text.max_tokens - 1)
    table = np.array([tokenizer.encode(p) for p in captions.prompts] + [null], dtype=np.int64)
    t = cfg.text
    spec = TextSpec(len(tokenizer.words), t.max_tokens, t.layers, t.heads, t.word_dropout, len(captions.prompts))
    return PromptSet(spec, table, np.repeat(data.class_id, captions.variants).astype(np.int64), captions.variants)


def heldout_concepts(cfg: PipelineConfig, data: Dataset) -> dict[str, int]:
    """Concept name -> the style whose image of it never enters training (a seeded choice of concepts)."""
    names = sorted(set(str(n) for n in data.names))
    rng = np.random.default_rng([cfg.seed, 11])
    chosen = [names[i] for i in np.sort(rng.choice(len(names), int(round(len(names) * cfg.text.heldout_fraction)), replace=False))]
    out = {}
    for name in chosen:
        styles = sorted({int(s) for n, s in zip(data.names, data.style) if n == name})
        out[name] = styles[int(rng.integers(len(styles)))]
    return out


def heldout_images(cfg: PipelineConfig, data: Dataset) -> np.ndarray:
    held = heldout_concepts(cfg, data)
    return np.array([held.get(str(n), -1) == int(s) for n, s in zip(data.names, data.style)], dtype=bool)


def pair_prompts(cfg: PipelineConfig, data: Dataset, val_mask: np.ndarray) -> np.ndarray:
    """Each pair's condition index: a caption variant of a training image (never held out or validation), drawn
    uniformly with a seeded generator."""
    variants = captions_variants()
    allowed_images = np.flatnonzero(~val_mask & ~heldout_images(cfg, data))
    rng = np.random.default_rng([cfg.seed, 5])
    images = rng.choice(allowed_images, size=cfg.pairs.count)
    return images * variants + rng.integers(0, variants, size=cfg.pairs.count)


def captions_variants() -> int:
    from .text import TEMPLATES

    return len(TEMPLATES)
