"""Pipeline configuration: one JSON file per pack (models/configs/<pack>.json), checked strictly.

Every stage reads its own section. Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import PipelineError


@dataclass(frozen=True)
class DatasetConfig:
    max_per_class: int | None = None  # None: every image; a small number for smoke runs
    val_fraction: float = 0.05


@dataclass(frozen=True)
class VQConfig:
    codebook_size: int = 512
    codebook_dim: int = 8
    channels: int = 64
    steps: int = 4000
    batch: int = 128
    lr: float = 2e-3
    commit_weight: float = 0.25
    restart_every: int = 200  # re-seed unused codes from encoder outputs this often


@dataclass(frozen=True)
class TeacherConfig:
    dim: int = 192
    layers: int = 6
    heads: int = 6
    ffn_dim: int = 512
    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.05
    class_dropout: float = 0.1
    dropout: float = 0.0  # residual dropout in the blocks while training
    # Keep the weights (EMA) with the lowest validation loss, checked at every checkpoint, instead of the last ones:
    # a teacher that can memorise its training sequences must stop where it still generalises.
    select_best: bool = False
    checkpoint_every: int = 250


@dataclass(frozen=True)
class MappingConfig:
    """How the teacher's next-token distribution is shaped and mapped from noise (part of the pack format)."""

    cfg_scale: float = 2.0
    temperature: float = 1.0
    top_k: int = 64  # 0: no truncation
    top_p: float = 1.0
    steps: int = 48
    r_min: float = 0.05  # the flow's grid in r = t / (1 - t) (see mapping.py)
    r_max: float = 300.0


@dataclass(frozen=True)
class PairsConfig:
    count: int = 100_000
    batch: int = 1000
    noise_seed_base: int = 1_000_000  # pair i uses noise seed base + i


@dataclass(frozen=True)
class StudentConfig:
    t2: int = 32
    split_t: int = 32
    steps: int = 4000
    batch: int = 64
    lr: float = 5e-4
    warmup: int = 200
    weight_decay: float = 0.0
    ce_weight: float = 1.0
    latent_weight: float = 10.0
    ema_decay: float = 0.999
    checkpoint_every: int = 250


@dataclass(frozen=True)
class RefineConfig:
    """Second-step refinement of the student (refine.py); steps 0 turns the stage off."""

    steps: int = 0
    prefix_pairs: int = 16_000  # how many training pairs get a target for the student's own first-step prefix
    self_fraction: float = 0.5  # share of the t2 samples that use the student's own prefix
    batch: int = 64
    lr: float = 2e-4
    warmup: int = 50
    ema_decay: float = 0.999
    checkpoint_every: int = 100


@dataclass(frozen=True)
class TextConfig:
    """Prompt conditioning (text.py); off for class packs."""

    enabled: bool = False
    max_tokens: int = 16  # prompt slots in front of the image tokens: BOS + up to 15 words
    layers: int = 2
    heads: int = 4
    word_dropout: float = 0.05
    # Share of concepts with one style's images kept out of training entirely: the held-out style x concept pairs
    heldout_fraction: float = 0.03


@dataclass(frozen=True)
class EvalConfig:
    samples_per_mode: int = 10_000
    batch: int = 500
    classifier_steps: int = 2000
    hybrid_start: int = 8
    noise_seed_base: int = 9_000_000


@dataclass(frozen=True)
class PackInfo:
    id: str = "pack"
    name: str = "Unnamed pack"
    version: str = "1.0.0"
    description: str = ""


@dataclass(frozen=True)
class PipelineConfig:
    seed: int = 0
    pack: PackInfo = field(default_factory=PackInfo)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    vq: VQConfig = field(default_factory=VQConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    text: TextConfig = field(default_factory=TextConfig)
    # Another pack's work folder whose dataset, VQ, tokens and classifier this pack takes as they are
    reuse: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise PipelineError(f"{where}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise PipelineError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
    values = {}
    for name, value in data.items():
        f = fields[name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            values[name] = _build(type(default), value, f"{where}.{name}")
            continue
        if default is not None and value is not None and not _same_kind(default, value):
            raise PipelineError(f"{where}.{name}: expected {type(default).__name__}, got {value!r}")
        values[name] = value
    return cls(**values)


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def load_config(path: Path) -> PipelineConfig:
    if not path.exists():
        raise PipelineError(f"config {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PipelineError(f"config {path} is not valid JSON: {err}") from err
    return _build(PipelineConfig, data, str(path))
