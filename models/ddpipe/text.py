"""Text conditioning for prompt packs: captions for every emoji image, the word tokenizer, the text encoder.

Captions. Each image gets a few prompt variants built from its style, its name, the keywords of its emoji (the
Unicode CLDR annotations as packaged by emojibase-data) and its category, e.g. "noto grinning face" or "grinning
face cheerful grin happy smile smileys emotion". Training picks a variant at random each time, so the teacher
learns short prompts and long ones.

Tokenizer (identical in main/engine/text/tokenizer.ts; models/spec/tokenizer-vectors.json holds shared vectors):
  1. Unicode NFKD, then combining marks removed ("café" -> "cafe"), then lower case.
  2. Every character outside a-z and 0-9 separates words (punctuation, emoji and other scripts are dropped; the
     app reports them).
  3. Words are looked up in the vocabulary; unknown words become UNK.
  4. The sequence is BOS followed by at most max_tokens - 1 words (the rest is cut off and reported), padded
     with PAD. The empty prompt is the null prompt: NULL then PAD, the unconditional branch of guidance.

Encoder: word and position embeddings, a few bidirectional pre-norm blocks (the backbone's block with an
identity rotation and a padding mask), a final norm and a projection to the image transformer's width. Padding
slots come out as zeros. Its output is the image transformer's prompt slots.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .common import PipelineError
from .transformer import Block, BackboneConfig, RMSNorm

PAD, NULL, BOS, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ["<pad>", "<null>", "<bos>", "<unk>"]
TOKENIZER_FORMAT = "dd-studio-word-tokenizer"
TOKENIZER_VERSION = 1

STYLE_WORDS = {"fluent-flat": "fluent flat", "fluent-3d": "fluent 3d", "noto": "noto", "twemoji": "twemoji"}
# The prompt variants of a caption; {style}, {name}, {keywords} and {category} are filled per image.
TEMPLATES = (
    "{name}",
    "{style} {name}",
    "{name}, {style} style",
    "a {name} emoji in {style} style",
    "{name} {keywords} {category}",
    "{style} {name} {keywords} {category}",
)
STYLE_NAME_VARIANT = 1  # "{style} {name}": the variant used for validation and evaluation prompts


def normalize_words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", " ", stripped).split()


@dataclass(frozen=True)
class Tokenizer:
    words: tuple[str, ...]  # the whole vocabulary, specials first: id = index
    max_tokens: int

    def __post_init__(self):
        if list(self.words[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise PipelineError(f"tokenizer: the vocabulary must start with {SPECIAL_TOKENS}")

    @property
    def ids(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, text: str) -> list[int]:
        words = normalize_words(text)
        if not words:
            return [NULL] + [PAD] * (self.max_tokens - 1)
        lookup = self.ids
        body = [lookup.get(w, UNK) for w in words][: self.max_tokens - 1]
        return [BOS] + body + [PAD] * (self.max_tokens - 1 - len(body))

    def to_json(self) -> dict:
        return {
            "format": TOKENIZER_FORMAT,
            "version": TOKENIZER_VERSION,
            "kind": "words",
            "normalization": "NFKD, combining marks removed, lower case, [^a-z0-9]+ separates words",
            "maxTokens": self.max_tokens,
            "special": {"pad": PAD, "null": NULL, "bos": BOS, "unk": UNK},
            "words": list(self.words),
        }

    @staticmethod
    def from_json(data: dict) -> "Tokenizer":
        if data.get("format") != TOKENIZER_FORMAT or data.get("version") != TOKENIZER_VERSION:
            raise PipelineError("tokenizer: not a dd-studio-word-tokenizer version 1 file")
        return Tokenizer(tuple(data["words"]), int(data["maxTokens"]))


# ---------------------------------------------------------------- captions


def _slug(text: str) -> str:
    return "-".join(normalize_words(text.replace("'", "").replace("\u2019", "")))


def load_annotations(repo: Path) -> dict[str, dict]:
    """Slugged CLDR label -> {label, tags}, from emojibase-data (skin-tone variants inherit their base's tags)."""
    path = repo / "node_modules" / "emojibase-data" / "en" / "data.json"
    if not path.exists():
        raise PipelineError(f"captions need emojibase-data: {path} is missing (run npm ci)")
    out: dict[str, dict] = {}
    for entry in json.loads(path.read_text()):
        tags = entry.get("tags") or []
        out[_slug(entry["label"])] = {"label": entry["label"], "tags": tags}
        for skin in entry.get("skins") or []:
            out.setdefault(_slug(skin["label"]), {"label": skin["label"], "tags": skin.get("tags") or tags})
    return out


@dataclass(frozen=True)
class Captions:
    """Prompt variants per dataset image: prompts[i * len(TEMPLATES) + v]."""

    prompts: list[str]
    variants: int
    annotated: int  # images whose name matched an annotation (the rest use their name's words only)

    def prompt(self, image: int, variant: int) -> str:
        return self.prompts[image * self.variants + variant]


def build_captions(names: list[str], styles: np.ndarray, categories: np.ndarray, style_ids: list[str], category_names: list[str], repo: Path) -> Captions:
    notes = load_annotations(repo)
    prompts, annotated = [], 0
    for name, style, category in zip(names, styles, categories):
        note = notes.get(name)
        annotated += note is not None
        label = " ".join(normalize_words(note["label"] if note else name.replace("-", " ")))
        label_words = set(label.split())
        keywords = [w for tag in (note["tags"] if note else []) for w in normalize_words(tag) if w not in label_words]
        keywords = list(dict.fromkeys(keywords))[:6]
        fill = {
            "name": label,
            "style": STYLE_WORDS[style_ids[int(style)]],
            "keywords": " ".join(keywords),
            "category": " ".join(normalize_words(category_names[int(category)])),
        }
        for template in TEMPLATES:
            prompts.append(" ".join(template.format(**fill).split()))
    return Captions(prompts, len(TEMPLATES), annotated)


def build_tokenizer(prompts: list[str], max_tokens: int) -> Tokenizer:
    """Every word of the captions, most frequent first (ties alphabetical), after the special tokens."""
    counts: dict[str, int] = {}
    for prompt in prompts:
        for word in normalize_words(prompt):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    return Tokenizer(tuple(SPECIAL_TOKENS + words), max_tokens)


# ---------------------------------------------------------------- encoder


class TextEncoder(nn.Module):
    def __init__(self, vocab: int, max_tokens: int, dim: int, out_dim: int, layers: int, heads: int, word_dropout: float):
        super().__init__()
        self.max_tokens = max_tokens
        self.word_dropout = word_dropout
        self.word_embedding = nn.Embedding(vocab, dim)
        self.pos_embedding = nn.Parameter(torch.zeros(max_tokens, dim))
        bcfg = BackboneConfig(dim=dim, layers=layers, heads=heads, ffn_dim=3 * dim, grid=0, prefix=max_tokens, prefix_rope="identity")
        self.blocks = nn.ModuleList(Block(bcfg) for _ in range(layers))
        self.norm = RMSNorm(dim, bcfg.norm_eps)
        self.proj = nn.Linear(dim, out_dim, bias=False)
        rope = torch.zeros(max_tokens, bcfg.head_dim // 2, 2)
        rope[..., 0] = 1.0
        self.register_buffer("rope", rope, persistent=False)
        nn.init.normal_(self.word_embedding.weight, std=0.02)
        nn.init.normal_(self.pos_embedding, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> (B, T, out_dim); padding slots are zero."""
        if self.training and self.word_dropout > 0:
            # Now and then a word becomes UNK, so the model has seen UNK when a prompt brings an unknown word.
            drop = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids > UNK)
            ids = torch.where(drop, torch.full_like(ids, UNK), ids)
        keep = (ids != PAD).to(self.pos_embedding.dtype)
        mask = (1.0 - keep)[:, None, None, :] * -1e9
        h = self.word_embedding(ids) + self.pos_embedding[None, : ids.shape[1]]
        for block in self.blocks:
            h, _ = block(h, self.rope[: ids.shape[1]], mask)
        return self.proj(self.norm(h)) * keep[..., None]


@dataclass(frozen=True)
class TextSpec:
    """What a text-conditioned teacher needs besides its weights; saved with them."""

    vocab: int
    max_tokens: int
    layers: int
    heads: int
    word_dropout: float
    n_prompts: int  # rows of the training prompt table; the condition index n_prompts is the null prompt

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PromptSet:
    """A text pack's training prompts: the encoder's shape, the token table and each prompt's dataset class."""

    spec: TextSpec
    table: np.ndarray  # (n_prompts + 1, max_tokens) int64; the last row is the null prompt
    prompt_class: np.ndarray  # (n_prompts,) int64
    variants: int  # prompts per image: condition index = image * variants + variant
