"""Stage 6b: refining the student's second step on its own first-step prefixes.

Why: 2-step sampling keeps the student's own first-step tokens before t2 and runs again, but the student stage
trains the t2 point only on the teacher's prefixes. When the student matches the exact teacher on a minority of
tokens (a small model imitating a stochastic teacher: about 30% here), the second pass meets prefixes unlike any
it trained on, and 2 steps scored worse than 1 (models/README.md has the numbers).

The refinement keeps DD's kind of target, a deterministic function of the noise: for a subset of training pairs
the student's first-step tokens before t2 are kept and the exact teacher continues them from t2 with the pair's
own noise, through the flow map. The student is then fine-tuned on a mix of the original trajectory points
(t in {0, t2}, teacher prefixes) and these self-prefix points at t2. Same losses as the student stage; EMA weights;
split_t is chosen again by FID-emoji on the held-out pairs. Hybrid sampling is unaffected in kind: its t2 prefix
is a DD start continued by the teacher, which these targets also cover.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from .classifier import Judge
from .common import EMA, MetricsLog, PipelineError, Progress, atomic_path, cosine_lr, clipped_step, resume_training, save_json, save_torch, training_device
from .config import PipelineConfig
from .pairs import exact_teacher_tokens
from .student import Student, build_inputs, load_student, noise_for, run_steps, student_loss, validate_student
from .teacher import Teacher


@torch.no_grad()
def self_prefix_targets(cfg: PipelineConfig, student: Student, teacher: Teacher, book: torch.Tensor, pairs: dict, path: Path) -> dict:
    """For the first `prefix_pairs` training pairs: the student's 1-step tokens before t2, the teacher's after."""
    if path.exists():
        data = np.load(path)
        return {"index": data["index"], "tokens": data["tokens"].astype(np.int64)}
    r, t2 = cfg.refine, cfg.student.t2
    n_train = len(pairs["tokens"]) - pairs["n_val"]
    if r.prefix_pairs > n_train:
        raise PipelineError(f"refine.prefix_pairs = {r.prefix_pairs} is more than the {n_train} training pairs")
    device = book.device
    index = np.arange(r.prefix_pairs)
    out = np.zeros((r.prefix_pairs, teacher.seq_len), dtype=np.int64)
    chunk = 500
    progress = Progress(r.prefix_pairs, "refine targets")
    for lo in range(0, r.prefix_pairs, chunk):
        hi = min(r.prefix_pairs, lo + chunk)
        seeds = pairs["seeds"][lo:hi]
        classes = torch.from_numpy(pairs["classes"][lo:hi]).long().to(device)
        eps = torch.from_numpy(noise_for(seeds, teacher.seq_len, book.shape[1])).to(device)
        first, _ = run_steps(student, eps, classes, [0], teacher.seq_len, book)
        out[lo:hi] = exact_teacher_tokens(teacher, book, classes, seeds, cfg, prefix=first, start=t2).numpy()
        progress.update(hi - lo)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, index=index, tokens=out.astype(np.int16))
    return {"index": index, "tokens": out}


def refine_student(cfg: PipelineConfig, teacher: Teacher, book: torch.Tensor, pairs: dict, work: Path, judge: Judge) -> dict:
    r, t2 = cfg.refine, cfg.student.t2
    stage = work / "refine"
    stage.mkdir(parents=True, exist_ok=True)
    ckpt_path = stage / "checkpoint.pt"
    log = MetricsLog(stage / "metrics.jsonl")
    device = training_device()
    model = load_student(work, teacher, book, "student").to(device)  # built on the CPU from the teacher's layout
    teacher = teacher.to(device).eval()
    book = book.to(device)
    targets = self_prefix_targets(cfg, model.eval(), teacher, book, pairs, stage / "targets.npz")

    torch.manual_seed(cfg.seed)
    ema = EMA(model, r.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=r.lr, betas=(0.9, 0.95), weight_decay=cfg.student.weight_decay)
    step = resume_training(ckpt_path, "refine checkpoint", model, opt, ema)
    ema.to(device)

    tokens = torch.from_numpy(pairs["tokens"]).long().to(device)
    classes = torch.from_numpy(pairs["classes"]).long().to(device)
    all_eps = torch.from_numpy(noise_for(pairs["seeds"], tokens.shape[1], book.shape[1])).to(device)
    own_index = torch.from_numpy(targets["index"]).to(device)
    own_tokens = torch.from_numpy(targets["tokens"]).to(device)
    n_train = len(tokens) - pairs["n_val"]
    progress = Progress(r.steps, "refine", start=step)
    model.train()
    while step < r.steps:
        rng = np.random.default_rng([cfg.seed, 7, step])
        idx = torch.from_numpy(rng.integers(0, n_train, size=r.batch)).to(device)
        t_np = rng.choice([0, t2], size=r.batch)
        own_np = (t_np == t2) & (rng.random(r.batch) < r.self_fraction)
        pick = torch.from_numpy(rng.integers(0, len(targets["index"]), size=r.batch)).to(device)
        own = torch.from_numpy(own_np).to(device)
        # Self-prefix samples take their pair (noise, class) and target from the refinement set.
        idx = torch.where(own, own_index[pick], idx)
        tok = torch.where(own[:, None], own_tokens[pick], tokens[idx])
        t = torch.from_numpy(t_np).long().to(device)
        x = build_inputs(tok, all_eps[idx], t, book)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, r.steps, r.lr, r.warmup)
        logits, latents = model(x, t, classes[idx])
        loss, parts = student_loss(logits, latents, tok, t, book, cfg.student.ce_weight, cfg.student.latent_weight)
        clipped_step(model, opt, loss, ema)
        step += 1
        if step % 50 == 0 or step == r.steps:
            log.write(stage="refine", step=step, loss=loss.item(), **{k: v.item() for k, v in parts.items()})
        if step % r.checkpoint_every == 0 or step == r.steps:
            save_torch(ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(), "step": step})
        progress.update(1)

    final = copy.deepcopy(model)
    final.load_state_dict(ema.state_dict())
    metrics: dict = {"steps": r.steps, "prefix_pairs": r.prefix_pairs, "self_fraction": r.self_fraction}
    metrics.update(validate_student(final.eval(), book, pairs, cfg, judge))
    save_torch(stage / "final.pt", {"model": {k: v.cpu() for k, v in final.state_dict().items()}, "n_classes": teacher.n_classes})
    save_json(stage / "metrics.json", metrics)
    log.write(stage="refine", final=metrics)
    return metrics


@torch.no_grad()
def second_step_ceiling(cfg: PipelineConfig, student: Student, teacher: Teacher, book: torch.Tensor, pairs: dict, judge: Judge) -> dict:
    """What a second step could reach at best, on the held-out pairs' noise (FID-emoji, class accuracy).

    'ceiling': the student's first-pass tokens before t2, continued by the exact teacher with the same noise — a
    perfect second pass given the student's own prefix. 'teacher_prefix': the exact teacher's tokens before t2
    and the student's second pass after them — the case the student stage trains. Compared with the student's
    1-step and 2-step results, they say whether the prefix or the second pass is what holds 2 steps back.
    """
    t2, n = cfg.student.t2, pairs["n_val"]
    tokens = torch.from_numpy(pairs["tokens"][-n:]).long()
    classes = torch.from_numpy(pairs["classes"][-n:]).long()
    seeds = pairs["seeds"][-n:]
    eps = torch.from_numpy(noise_for(seeds, tokens.shape[1], book.shape[1]))
    student.eval()
    # Every position as its argmax code (split_t = all tokens), as the packs built here choose.
    one, one_latents = run_steps(student, eps, classes, [0], tokens.shape[1], book)
    two, two_latents = run_steps(student, eps, classes, [0, t2], tokens.shape[1], book)
    continued = exact_teacher_tokens(teacher, book, classes, seeds, cfg, prefix=one, start=t2)
    t = torch.full((n,), t2, dtype=torch.long)
    logits, _ = student(build_inputs(tokens, eps, t, book), t, classes)
    second = torch.where(torch.arange(tokens.shape[1])[None, :] < t2, tokens, logits.argmax(-1))
    return {
        "val_pairs": n,
        "t2": t2,
        "dd_1step": judge.score(one_latents, classes),
        "dd_2step": judge.score(two_latents, classes),
        "ceiling_student_prefix_teacher_continuation": judge.score(book[continued], classes),
        "teacher_prefix_student_second_pass": judge.score(book[second], classes),
        "teacher_exact": judge.score(book[tokens], classes),
        "second_pass_agreement_after_t2": {
            "student_prefix": round((two[:, t2:] == tokens[:, t2:]).float().mean().item(), 4),
            "teacher_prefix": round((second[:, t2:] == tokens[:, t2:]).float().mean().item(), 4),
        },
    }
