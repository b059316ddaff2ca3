"""Stage 6: the DD student. One forward pass maps (noise, clean prefix, class) to the whole token sequence.

Input at position j is a continuous vector x_t[j]: the codebook vector of the pair's token for j < t (clean
prefix), the pair's own noise eps_j for j >= t. The backbone is the teacher's (copied at initialisation), with a
linear projection for the continuous inputs and a noise/data embedding added to every slot. Output j (aligned
with input j) has two heads: logits over the codebook and a continuous latent, whose shift/scale come from a
learned table plus the class embedding. Assembly with split_t = s: positions < s take the codebook vector of the
argmax, positions >= s the continuous latent; positions < t are the prefix itself.

Losses (documented in models/README.md): cross-entropy on the logits and mean squared error between the
continuous latent and the target codebook vector, both over positions j >= t; t is drawn from {0, t2}.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .common import (
    EMA,
    training_device,
    MetricsLog,
    PipelineError,
    Progress,
    barrier,
    cosine_lr,
    init_distributed,
    is_main_process,
    load_torch,
    clipped_step,
    resume_training,
    save_json,
    save_torch,
    unwrap,
)
from .classifier import Judge
from .config import PipelineConfig
from .noise import gaussian_noise_batch
from .teacher import Teacher, judge_classes
from .text import TextEncoder, TextSpec
from .transformer import Backbone, BackboneConfig


class Student(nn.Module):
    def __init__(self, bcfg: BackboneConfig, vocab: int, n_classes: int, codebook_dim: int, text: TextSpec | None = None):
        super().__init__()
        self.vocab = vocab
        self.n_classes = n_classes
        self.text = text
        if text:
            # The teacher's text encoder, frozen: the pack has one text_encoder.onnx for teacher and student.
            self.text_encoder = TextEncoder(text.vocab, text.max_tokens, bcfg.dim, bcfg.dim, text.layers, text.heads, 0.0)
            self.text_encoder.requires_grad_(False)
            self.register_buffer("prompt_table", torch.zeros(n_classes + 1, text.max_tokens, dtype=torch.long))
            self.register_buffer("prompt_class", torch.zeros(n_classes, dtype=torch.long))
        else:
            self.cls_embedding = nn.Embedding(n_classes + 1, bcfg.dim)
        self.tok_proj = nn.Linear(codebook_dim, bcfg.dim)
        self.n_d_embed = nn.Embedding(2, bcfg.dim)  # 0: noise slot, 1: data slot (class and clean prefix)
        self.backbone = Backbone(bcfg)
        self.output = nn.Linear(bcfg.dim, vocab, bias=False)
        self.conti_table = nn.Parameter(torch.zeros(2, bcfg.dim))  # shift, scale
        self.conti_linear = nn.Linear(bcfg.dim, codebook_dim)
        nn.init.normal_(self.n_d_embed.weight, std=0.02)

    @property
    def seq_len(self) -> int:
        return self.backbone.cfg.grid ** 2

    def train(self, mode: bool = True):
        super().train(mode)
        if self.text:
            self.text_encoder.train(False)  # frozen: no word dropout either
        return self

    def condition(self, classes: torch.Tensor) -> torch.Tensor:
        """Condition indices (B,) -> condition slots (B, prefix, dim), as the teacher makes them."""
        if self.text:
            return self.text_encoder(self.prompt_table[classes])
        return self.cls_embedding(classes)[:, None]

    def forward(self, x: torch.Tensor, t: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 64, d), t (B,) clean-prefix lengths, classes (B,) -> logits (B, 64, V), latents (B, 64, d)."""
        return self.forward_cond(x, t, self.condition(classes))

    def forward_cond(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """As forward, with the condition slots given (B, prefix, dim): what generator.onnx of a text pack runs."""
        n = x.shape[1]
        p = cond.shape[1]
        data_slot = (torch.arange(n, device=x.device)[None, :] < t[:, None]).long()
        # The first slot (the class, or the prompt's BOS/NULL slot) also steers the continuous head.
        summary = cond[:, 0]
        h = torch.cat([cond + self.n_d_embed.weight[1], self.tok_proj(x) + self.n_d_embed(data_slot)], dim=1)
        h = self.backbone(h)[:, p:]
        shift = self.conti_table[0] + summary
        scale = self.conti_table[1] + summary
        latents = self.conti_linear(layer_norm_plain(h) * (1 + scale[:, None]) + shift[:, None])
        return self.output(h), latents


def layer_norm_plain(h: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """LayerNorm without learned scale/bias, written out: the exporter emits an invalid node for affine-free LayerNorm."""
    mean = h.mean(-1, keepdim=True)
    var = (h - mean).pow(2).mean(-1, keepdim=True)
    return (h - mean) * torch.rsqrt(var + eps)


def student_from_teacher(teacher: Teacher, book: torch.Tensor) -> Student:
    # The student learns from fresh pairs, not from the small image set, so it trains without the teacher's dropout.
    bcfg = dataclasses.replace(teacher.backbone.cfg, dropout=0.0)
    student = Student(bcfg, teacher.vocab, teacher.n_classes, book.shape[1], teacher.text)
    if teacher.text:
        student.text_encoder.load_state_dict(teacher.text_encoder.state_dict())
        student.prompt_table.copy_(teacher.prompt_table)
        student.prompt_class.copy_(teacher.prompt_class)
    else:
        student.cls_embedding.load_state_dict(teacher.cls_embedding.state_dict())
    student.backbone.load_state_dict(teacher.backbone.state_dict())
    student.output.load_state_dict(teacher.output.state_dict())
    with torch.no_grad():
        # Warm start: a clean codebook vector should look, to the copied backbone, like the teacher's embedding
        # of that token. Least squares for W, b with book @ W.T + b ~= token embeddings.
        design = torch.cat([book, torch.ones(book.shape[0], 1)], dim=1)
        solution = torch.linalg.lstsq(design, teacher.tok_embeddings.weight).solution
        student.tok_proj.weight.copy_(solution[:-1].T)
        student.tok_proj.bias.copy_(solution[-1])
        nn.init.normal_(student.conti_linear.weight, std=0.02)
        nn.init.zeros_(student.conti_linear.bias)
    return student


def build_inputs(tokens: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, book: torch.Tensor) -> torch.Tensor:
    """x_t: codebook vectors of the tokens before t, the noise from t on."""
    n = tokens.shape[1]
    clean = (torch.arange(n, device=tokens.device)[None, :] < t[:, None])[..., None]
    return torch.where(clean, book[tokens], eps)


def assemble(
    logits: torch.Tensor,
    latents: torch.Tensor,
    prefix_ids: torch.Tensor,
    t: torch.Tensor,
    split_t: int,
    book: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (ids (B, 64), latents (B, 64, d)) as the app receives them from the generator graph."""
    n = logits.shape[1]
    j = torch.arange(n, device=logits.device)[None, :]
    prefix = j < t[:, None]
    ids = torch.where(prefix, prefix_ids, logits.argmax(-1))
    discrete = (j < split_t) | prefix
    out = torch.where(discrete[..., None], book[ids], latents)
    return ids, out


# ---------------------------------------------------------------- training


def train_student(
    cfg: PipelineConfig,
    teacher: Teacher,
    book: torch.Tensor,
    pairs: dict,
    work: Path,
    judge: Judge | None,
    stage: Path | None = None,
) -> dict:
    """Distils the teacher's noise->token map from the pairs. Runs under torchrun (DDP) or alone.

    `judge` (FID-emoji, needed on the main process only) picks split_t; `stage` is the output folder
    (work/student unless an ablation trains a variant elsewhere).
    """
    s = cfg.student
    device = training_device()
    rank, world = init_distributed(device)
    stage = stage or work / "student"
    ckpt_path = stage / "checkpoint.pt"
    log = MetricsLog(stage / "metrics.jsonl")
    torch.manual_seed(cfg.seed)
    model: nn.Module = student_from_teacher(teacher, book).to(device)
    ema = EMA(model, s.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, betas=(0.9, 0.95), weight_decay=s.weight_decay)
    step = resume_training(ckpt_path, "student checkpoint", model, opt, ema)
    ema.to(device)
    book = book.to(device)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)

    # The whole pair set lives on the training device (200k pairs of noise are 0.4 GB): no copy per step.
    tokens = torch.from_numpy(pairs["tokens"]).long().to(device)
    classes = torch.from_numpy(pairs["classes"]).long().to(device)
    all_eps = torch.from_numpy(noise_for(pairs["seeds"], tokens.shape[1], book.shape[1])).to(device)
    n_train = len(tokens) - pairs["n_val"]
    per_rank = max(1, s.batch // world)
    progress = Progress(s.steps, "student", start=step)
    model.train()
    while step < s.steps:
        # Each rank draws its own slice of the step's batch: a pure function of (seed, step, rank).
        rng = np.random.default_rng([cfg.seed, 6, step, rank])
        idx = torch.from_numpy(rng.integers(0, n_train, size=per_rank)).to(device)
        tok = tokens[idx]
        eps = all_eps[idx]
        t = torch.from_numpy(rng.choice([0, s.t2], size=per_rank)).long().to(device)
        x = build_inputs(tok, eps, t, book)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, s.steps, s.lr, s.warmup)
        logits, latents = model(x, t, classes[idx])
        loss, parts = student_loss(logits, latents, tok, t, book, s.ce_weight, s.latent_weight)
        clipped_step(model, opt, loss, ema)
        step += 1
        # Reading values back waits for the device, so it happens only when something is logged.
        if step % 50 == 0 or step == s.steps:
            log.write(stage="student", step=step, loss=loss.item(), **{k: v.item() for k, v in parts.items()})
        if is_main_process() and (step % s.checkpoint_every == 0 or step == s.steps):
            save_torch(
                ckpt_path,
                {"model": unwrap(model).state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(), "step": step},
            )
        progress.update(1)
    barrier()
    final = unwrap(model)
    final.load_state_dict(ema.state_dict())
    metrics: dict = {"steps": s.steps, "world_size": world}
    if is_main_process():
        if judge is None:
            raise PipelineError("the student stage needs the classifier's judge on the main process")
        metrics.update(validate_student(final, book, pairs, cfg, judge))  # on the training device
        cpu_state = {k: v.cpu() for k, v in final.state_dict().items()}
        save_torch(stage / "final.pt", {"model": cpu_state, "n_classes": teacher.n_classes})
        save_json(stage / "metrics.json", metrics)
        log.write(stage="student", final=metrics)
    barrier()
    return metrics


def noise_for(seeds: np.ndarray, n_tokens: int, dim: int) -> np.ndarray:
    """The pairs' noise, regenerated from their seeds (consecutive seeds: one vectorised call)."""
    seeds = np.asarray(seeds, dtype=np.int64)
    if len(seeds) and np.array_equal(seeds, seeds[0] + np.arange(len(seeds))):
        return gaussian_noise_batch(int(seeds[0]), len(seeds), (n_tokens, dim))
    return np.stack([gaussian_noise_batch(int(seed), 1, (n_tokens, dim))[0] for seed in seeds])


def student_loss(
    logits: torch.Tensor,
    latents: torch.Tensor,
    tokens: torch.Tensor,
    t: torch.Tensor,
    book: torch.Tensor,
    ce_weight: float,
    latent_weight: float,
) -> tuple[torch.Tensor, dict]:
    n = tokens.shape[1]
    active = (torch.arange(n, device=tokens.device)[None, :] >= t[:, None]).float()
    denom = active.sum().clamp_min(1)
    ce = (F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none") * active).sum() / denom
    mse = (((latents - book[tokens]) ** 2).mean(-1) * active).sum() / denom
    acc = ((logits.argmax(-1) == tokens).float() * active).sum() / denom
    # The parts stay tensors (detached); callers read them with .item() when they log.
    return ce_weight * ce + latent_weight * mse, {"ce": ce.detach(), "latent_mse": mse.detach(), "token_acc": acc}


SPLIT_T_CANDIDATES = (0, 16, 32, 48, 64)


@torch.no_grad()
def validate_student(model: Student, book: torch.Tensor, pairs: dict, cfg: PipelineConfig, judge: Judge) -> dict:
    """On held-out pairs: token agreement with the exact teacher (1 and 2 steps), and the split_t ablation.

    split_t only changes how outputs are assembled, so it is chosen here without retraining: for each candidate,
    the decoded images of 1-step and 2-step sampling on the held-out pairs' noise are scored with FID-emoji; the
    smallest sum wins and is stored in the pack. (A latent squared error would always favour the continuous head,
    whose regression to the mean decodes to blurred images.)
    """
    model.eval()
    device = book.device  # the model's: sampling runs there, the judge (decoder, classifier) on the CPU
    n_val = pairs["n_val"]
    tokens = torch.from_numpy(pairs["tokens"][-n_val:]).long().to(device)
    classes = torch.from_numpy(pairs["classes"][-n_val:]).long().to(device)
    eps = torch.from_numpy(noise_for(pairs["seeds"][-n_val:], tokens.shape[1], book.shape[1])).to(device)
    t2 = cfg.student.t2
    ablation = {}
    for split_t in SPLIT_T_CANDIDATES:
        row = {}
        for name, t_list in (("1step", [0]), ("2step", [0, t2])):
            _, latents = run_steps(model, eps, classes, t_list, split_t, book)
            for key, value in judge.score(latents.cpu(), judge_classes(model, classes).cpu()).items():
                row[f"{key}_{name}"] = value
        ablation[str(split_t)] = row
    best = min(SPLIT_T_CANDIDATES, key=lambda c: ablation[str(c)]["fid_emoji_1step"] + ablation[str(c)]["fid_emoji_2step"])
    one = run_steps(model, eps, classes, [0], best, book)[0]
    two = run_steps(model, eps, classes, [0, t2], best, book)[0]
    return {
        "val_pairs": n_val,
        "token_agreement_1step": round((one == tokens).float().mean().item(), 4),
        "token_agreement_2step": round((two == tokens).float().mean().item(), 4),
        "split_t_ablation": ablation,
        "chosen_split_t": best,
    }


@torch.no_grad()
def run_steps(
    model: Student, eps: torch.Tensor, classes: torch.Tensor, t_list: list[int], split_t: int, book: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """DD sampling: at each t, keep the assembled prefix (snapped to codes) before t and the original noise after."""
    b, n, _ = eps.shape
    ids = torch.zeros(b, n, dtype=torch.long, device=eps.device)
    latents = eps
    for t_value in t_list:
        t = torch.full((b,), t_value, dtype=torch.long, device=eps.device)
        x = build_inputs(ids, eps, t, book)
        logits, cont = model(x, t, classes)
        ids, latents = assemble(logits, cont, ids, t, split_t, book)
    return ids, latents


def final_student_stage(cfg: PipelineConfig) -> str:
    """Which stage's weights are the pack's student: the config decides, not whichever files happen to exist."""
    return "refine" if cfg.refine.steps > 0 else "student"


def load_student(work: Path, teacher: Teacher, book: torch.Tensor, stage: str) -> Student:
    """A student's weights from work/<stage>/final.pt ('student', or 'refine' for the refined one)."""
    path = work / stage / "final.pt"
    if not path.exists():
        raise PipelineError(f"the student is not trained yet: {path} is missing (run the '{stage}' stage)")
    model = student_from_teacher(teacher, book)
    model.load_state_dict(load_torch(path, f"student ({stage})")["model"])
    return model.eval()


def torchrun_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))
