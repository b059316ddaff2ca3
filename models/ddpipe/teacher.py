"""Stage 3: the conditional AR teacher over the 64 VQ tokens (LlamaGen-style), and its sampling loops.

Class packs: [class, q_0 .. q_62] -> predictions for q_0 .. q_63. The class table has one extra row, the null
class, used for class dropout in training and as the unconditional branch of classifier-free guidance.

Text packs (LlamaGen T2I's layout): [prompt slots c_0 .. c_{T-1}, q_0 .. q_62], the slots being the text
encoder's output for the prompt's token ids. A condition index is then a row of the prompt table (every
caption variant of every image, see text.py); the extra last row is the null prompt.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .common import EMA, MetricsLog, PipelineError, Progress, cosine_lr, load_torch, clipped_step, resume_training, save_json, save_torch, training_device
from .config import PipelineConfig
from .mapping import FlowSpec, flow_map, shape_distribution
from .text import STYLE_NAME_VARIANT, PromptSet, TextEncoder, TextSpec
from .transformer import Backbone, BackboneConfig, prefill_into, step_into

KVCache = list[tuple[torch.Tensor, torch.Tensor]]


def backbone_config(cfg: PipelineConfig, grid: int, text: TextSpec | None = None) -> BackboneConfig:
    t = cfg.teacher
    prefix = dict(prefix=text.max_tokens, prefix_rope="identity") if text else {}
    return BackboneConfig(dim=t.dim, layers=t.layers, heads=t.heads, ffn_dim=t.ffn_dim, grid=grid, dropout=t.dropout, **prefix)


class Teacher(nn.Module):
    def __init__(self, bcfg: BackboneConfig, vocab: int, n_classes: int, text: TextSpec | None = None):
        super().__init__()
        self.vocab = vocab
        self.text = text
        self.n_classes = text.n_prompts if text else n_classes
        self.null_class = self.n_classes
        if text:
            self.text_encoder = TextEncoder(text.vocab, text.max_tokens, bcfg.dim, bcfg.dim, text.layers, text.heads, text.word_dropout)
            # Row i: the token ids of condition index i; filled by the pipeline (or by load_state_dict).
            self.register_buffer("prompt_table", torch.zeros(self.n_classes + 1, text.max_tokens, dtype=torch.long))
            # The dataset class (style x category) of each prompt's image, for the judge's class accuracy.
            self.register_buffer("prompt_class", torch.zeros(self.n_classes, dtype=torch.long))
        else:
            self.cls_embedding = nn.Embedding(n_classes + 1, bcfg.dim)
        self.tok_embeddings = nn.Embedding(vocab, bcfg.dim)
        self.backbone = Backbone(bcfg)
        self.output = nn.Linear(bcfg.dim, vocab, bias=False)
        self.apply(_init_weights)

    @property
    def seq_len(self) -> int:
        return self.backbone.cfg.grid ** 2

    @property
    def prefix(self) -> int:
        return self.backbone.cfg.prefix

    def condition(self, classes: torch.Tensor) -> torch.Tensor:
        """Condition indices (B,) -> the condition slots (B, prefix, dim)."""
        if self.text:
            return self.text_encoder(self.prompt_table[classes])
        return self.cls_embedding(classes)[:, None]

    def forward(self, tokens: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: tokens (B, 64), classes (B,) -> logits (B, 64, V)."""
        h = torch.cat([self.condition(classes), self.tok_embeddings(tokens[:, :-1])], dim=1)
        return self.output(self.backbone(h)[:, self.prefix - 1 :])

    def step(
        self, ids: torch.Tensor, classes: torch.Tensor, pos: int, past: KVCache | None
    ) -> tuple[torch.Tensor, KVCache]:
        """One AR step with a KV cache. pos 0 feeds the condition slots; pos i > 0 feeds token q_{i-1}, at
        sequence slot prefix - 1 + i. -> logits for q_pos."""
        if pos == 0:
            h, present = self.backbone.forward_cached(self.condition(classes), 0, None)
        else:
            h, present = self.backbone.forward_cached(self.tok_embeddings(ids)[:, None], self.prefix - 1 + pos, past)
        return self.output(h[:, -1]), present


def judge_classes(model: nn.Module, classes: torch.Tensor) -> torch.Tensor:
    """The dataset classes (style x category) that a teacher's or student's condition indices ask for; a text
    pack's null prompt asks for none (-1)."""
    if not getattr(model, "text", None):
        return classes
    table = torch.cat([model.prompt_class, model.prompt_class.new_full((1,), -1)])
    return table.to(classes.device)[classes]


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)


def build_teacher(cfg: PipelineConfig, vocab: int, n_classes: int, grid: int, text: TextSpec | None = None) -> Teacher:
    return Teacher(backbone_config(cfg, grid, text), vocab, n_classes, text)


# ---------------------------------------------------------------- training


def train_teacher(
    cfg: PipelineConfig,
    tokens: np.ndarray,
    classes: np.ndarray,
    val_mask: np.ndarray,
    n_classes: int,
    work: Path,
    prompts: PromptSet | None = None,
    exclude: np.ndarray | None = None,
) -> dict:
    """tokens (N, 64) int64 (flipped copies already included), classes (N,); resumes from work/teacher.

    With `prompts` (a text pack), classes are the sequences' image indices: each training sample takes one of its
    image's caption variants at random, and validation uses the "{style} {name}" variant. Sequences in `exclude`
    (held-out style x concept pairs) are neither trained on nor validated.
    """
    t = cfg.teacher
    stage = work / "teacher"
    ckpt_path = stage / "checkpoint.pt"
    best_path = stage / "best.pt"
    log = MetricsLog(stage / "metrics.jsonl")
    grid = int(round(tokens.shape[1] ** 0.5))
    torch.manual_seed(cfg.seed)
    model = build_teacher(cfg, cfg.vq.codebook_size, n_classes, grid, prompts.spec if prompts else None)
    if prompts:
        model.prompt_table.copy_(torch.from_numpy(prompts.table))
        model.prompt_class.copy_(torch.from_numpy(prompts.prompt_class))
    device = training_device()
    model.to(device)  # before the optimiser, so a resumed optimiser state lands on the same device
    opt = _adamw(model, t.lr, t.weight_decay)
    ema = EMA(model, 0.999)
    step = resume_training(ckpt_path, "teacher checkpoint", model, opt, ema)

    ema.to(device)
    tok = torch.from_numpy(tokens).to(device)
    excluded = np.zeros(len(tokens), bool) if exclude is None else exclude
    val_mask = val_mask & ~excluded
    if prompts:
        image_of = torch.from_numpy(classes).to(device)
        cls = image_of * prompts.variants + STYLE_NAME_VARIANT
    else:
        cls = torch.from_numpy(classes).to(device)
    train_idx = np.flatnonzero(~val_mask & ~excluded)
    progress = Progress(t.steps, "teacher", start=step)
    model.train()
    while step < t.steps:
        rng = np.random.default_rng([cfg.seed, 4, step])
        idx = torch.from_numpy(rng.choice(train_idx, size=t.batch, replace=len(train_idx) < t.batch)).to(device)
        batch_cls = cls[idx].clone()
        drop = torch.from_numpy(rng.random(t.batch) < t.class_dropout).to(device)
        if prompts:
            variant = torch.from_numpy(rng.integers(0, prompts.variants, size=t.batch)).to(device)
            batch_cls = image_of[idx] * prompts.variants + variant
        batch_cls[drop] = model.null_class
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, t.steps, t.lr, t.warmup)
        logits = model(tok[idx], batch_cls)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok[idx].reshape(-1))
        clipped_step(model, opt, loss, ema)
        step += 1
        if step % 50 == 0 or step == t.steps:
            log.write(stage="teacher", step=step, loss=loss.item())
        if step % t.checkpoint_every == 0 or step == t.steps:
            if t.select_best:
                keep_if_best(model, ema, tok, cls, val_mask, step, best_path, log)
            save_torch(
                ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(), "step": step}
            )
        progress.update(1, loss=loss.item())

    metrics: dict = {"steps": t.steps}
    if t.select_best:
        best = load_torch(best_path, "teacher's best weights")
        model.load_state_dict(best["ema"])
        metrics["selected_step"] = best["step"]
    else:
        model.load_state_dict(ema.state_dict())
    model.eval()
    metrics["val_loss"] = round(validation_loss(model, tok, cls, val_mask), 4)
    metrics["train_loss_sample"] = round(validation_loss(model, tok, cls, ~val_mask, limit=2000), 4)
    log.write(stage="teacher", final=metrics)
    cpu_state = {k: v.cpu() for k, v in model.state_dict().items()}
    text = {"text": prompts.spec.to_dict()} if prompts else {}
    save_torch(stage / "final.pt", {"model": cpu_state, "n_classes": n_classes, "grid": grid, **text})
    save_json(stage / "metrics.json", metrics)
    return metrics


def keep_if_best(
    model: Teacher, ema: EMA, tok: torch.Tensor, cls: torch.Tensor, val_mask: np.ndarray, step: int, best_path: Path, log: MetricsLog
) -> None:
    """Scores the EMA weights on the held-out sequences; saves them to best_path when they beat the best so far."""
    scratch = copy.deepcopy(model)
    scratch.load_state_dict(ema.state_dict())
    val = validation_loss(scratch, tok, cls, val_mask)
    previous = load_torch(best_path, "teacher's best weights")["val_loss"] if best_path.exists() else math.inf
    log.write(stage="teacher", step=step, val_loss=round(val, 4))
    if val < previous:
        save_torch(best_path, {"ema": {k: v.cpu() for k, v in ema.state_dict().items()}, "step": step, "val_loss": val})


def _adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embedding" not in n)]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


@torch.no_grad()
def validation_loss(model: Teacher, tok: torch.Tensor, cls: torch.Tensor, mask: np.ndarray, limit: int | None = None) -> float:
    model.eval()
    idx = np.flatnonzero(mask)[:limit]
    total, count = 0.0, 0
    for i in range(0, len(idx), 256):
        part = torch.from_numpy(idx[i : i + 256]).to(tok.device)
        logits = model(tok[part], cls[part])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok[part].reshape(-1), reduction="sum").item()
        count += part.numel() * tok.shape[1]
    return total / max(1, count)


def load_teacher(work: Path, cfg: PipelineConfig) -> Teacher:
    path = work / "teacher" / "final.pt"
    if not path.exists():
        raise PipelineError(f"the teacher is not trained yet: {path} is missing (run the 'teacher' stage)")
    state = load_torch(path, "teacher")
    text = TextSpec(**state["text"]) if state.get("text") else None
    model = build_teacher(cfg, cfg.vq.codebook_size, state["n_classes"], state["grid"], text)
    model.load_state_dict(state["model"])
    return model.eval()


# ---------------------------------------------------------------- sampling

# Picks the token at one position from the shaped distribution p (B, V): stochastic or via the flow map.
Chooser = Callable[[torch.Tensor, int], torch.Tensor]


@torch.no_grad()
def sample_ar(
    model: Teacher,
    classes: torch.Tensor,
    cfg: PipelineConfig,
    choose: Chooser,
    prefix: torch.Tensor | None = None,
    start: int = 0,
    stop: int | None = None,
) -> torch.Tensor:
    """AR generation with a KV cache and CFG. Positions < start come from `prefix`; returns (B, stop) ids."""
    m = cfg.mapping
    stop = model.seq_len if stop is None else stop
    b = classes.shape[0]
    guided = m.cfg_scale != 1.0
    cls = torch.cat([classes, torch.full_like(classes, model.null_class)]) if guided else classes
    out = torch.zeros(b, stop, dtype=torch.long, device=classes.device)
    if prefix is not None and start > 0:
        out[:, :start] = prefix[:, :start]
    bcfg = model.backbone.cfg
    rows = cls.shape[0]
    caches = [
        (
            torch.zeros(rows, bcfg.heads, bcfg.prefix - 1 + stop, bcfg.head_dim, device=classes.device),
            torch.zeros(rows, bcfg.heads, bcfg.prefix - 1 + stop, bcfg.head_dim, device=classes.device),
        )
        for _ in range(bcfg.layers)
    ]
    ids = torch.zeros(rows, dtype=torch.long, device=classes.device)
    for pos in range(stop):
        if pos == 0:
            h = prefill_into(model.backbone, model.condition(cls), caches)
        else:
            prev = out[:, pos - 1]
            ids = torch.cat([prev, prev]) if guided else prev
            h = step_into(model.backbone, model.tok_embeddings(ids)[:, None], model.prefix - 1 + pos, caches)
        logits = model.output(h[:, -1])
        if pos < start:
            continue
        cond, uncond = (logits[:b], logits[b:]) if guided else (logits, None)
        p = shape_distribution(cond, uncond, m.cfg_scale, m.temperature, m.top_k, m.top_p)
        out[:, pos] = choose(p, pos)
    return out


def stochastic_chooser(generator: torch.Generator) -> Chooser:
    return lambda p, _pos: torch.multinomial(p.float().cpu(), 1, generator=generator).squeeze(-1).to(p.device)


def mapped_chooser(book: torch.Tensor, eps: torch.Tensor, flow: FlowSpec) -> Chooser:
    """eps (B, 64, d): token at position i comes from eps[:, i] through the flow map."""
    return lambda p, pos: flow_map(p, book, eps[:, pos], flow)
