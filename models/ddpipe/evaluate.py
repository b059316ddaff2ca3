"""Stage 9: evaluation of a built pack, mode by mode, on the same noise.

Features come from the pipeline's classifier, trained only on the real emoji (classifier.py; the distance is
called FID-emoji, not FID: no Inception weights exist on this machine). For every mode we report FID-emoji against the real images,
class accuracy of that classifier on the generated images, token agreement with the exact teacher on the same
noise, and the sampling time per image in this process. Modes:
  teacher_ar     the teacher, sampled stochastically (CFG, temperature, top-k as in the pack)
  teacher_exact  the teacher through the flow map: the deterministic target the student imitates
  dd_1step       the student, t_list [0]
  dd_2step       the student, t_list [0, t2]
  hybrid         DD at t=0, the exact teacher from `start` to t2, DD at t2
  onestep        baseline: every token drawn at once from its per-class, per-position marginal (no correlations)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from .classifier import FeatureNet, batched, decode, frechet_distance
from .common import MetricsLog, Progress, atomic_path, save_json
from .config import PipelineConfig
from .mapping import flow_map_support
from .noise import gaussian_noise_batch
from .pairs import flow_spec
from .student import Student, build_inputs, run_steps
from .teacher import Teacher, judge_classes, sample_ar, stochastic_chooser
from .vq import VQTokenizer, images_to_tensor

MODES = ["teacher_ar", "teacher_exact", "dd_1step", "dd_2step", "hybrid", "onestep"]


class Sampler:
    def __init__(self, cfg: PipelineConfig, vq: VQTokenizer, teacher: Teacher, student: Student, split_t: int, pairs: dict):
        self.cfg = cfg
        self.vq = vq
        self.teacher = teacher
        self.student = student
        self.split_t = split_t
        self.book = vq.normalized_codebook().detach()
        self.spec = flow_spec(cfg)
        # The onestep baseline needs per-condition marginals: a class pack's 36 classes, not a text pack's prompts.
        self.marginals = None if teacher.text else self._marginals(pairs).to(self.book.device)

    def _marginals(self, pairs: dict) -> torch.Tensor:
        """Per-class, per-position token frequencies of the exact teacher (from the pairs), for the baseline."""
        n_classes, vocab = self.teacher.n_classes, self.book.shape[0]
        n = self.teacher.seq_len
        counts = np.zeros((n_classes, n, vocab))
        for c in range(n_classes):
            tok = pairs["tokens"][pairs["classes"] == c]
            for pos in range(n):
                counts[c, pos] = np.bincount(tok[:, pos], minlength=vocab)
        counts += 1e-3  # every token stays possible
        return torch.from_numpy(counts / counts.sum(-1, keepdims=True))

    def exact(self, classes, eps, prefix=None, start=0, stop=None):
        book, spec = self.book, self.spec
        return sample_ar(
            self.teacher, classes, self.cfg, lambda p, pos: flow_map_support(p, book, eps[:, pos].double(), spec),
            prefix=prefix, start=start, stop=stop,
        )  # fmt: skip

    @torch.no_grad()
    def run(self, mode: str, classes: torch.Tensor, eps: torch.Tensor, seed: int) -> torch.Tensor:
        """-> latents (B, 64, d) for the decoder."""
        book = self.book
        t2 = self.cfg.student.t2
        if mode == "teacher_ar":
            gen = torch.Generator().manual_seed(seed)
            return book[sample_ar(self.teacher, classes, self.cfg, stochastic_chooser(gen))]
        if mode == "teacher_exact":
            return book[self.exact(classes, eps)]
        if mode == "dd_1step":
            return run_steps(self.student, eps, classes, [0], self.split_t, book)[1]
        if mode == "dd_2step":
            return run_steps(self.student, eps, classes, [0, t2], self.split_t, book)[1]
        if mode == "hybrid":
            start = self.cfg.eval.hybrid_start
            first, _ = run_steps(self.student, eps, classes, [0], self.split_t, book)
            middle = self.exact(classes, eps, prefix=first, start=start, stop=t2)
            prefix = torch.zeros_like(first)
            prefix[:, :t2] = middle
            t = torch.full((len(classes),), t2, dtype=torch.long, device=classes.device)
            logits, latents = self.student(build_inputs(prefix, eps, t, book), t, classes)
            from .student import assemble

            return assemble(logits, latents, prefix, t, max(self.split_t, t2), book)[1]
        if mode == "onestep":
            p = self.marginals[classes]  # (B, 64, V)
            b, n, v = p.shape
            ids = flow_map_support(p.reshape(b * n, v), book, eps.reshape(b * n, -1).double(), self.spec)
            return book[ids.reshape(b, n)]
        raise ValueError(f"unknown mode {mode}")

    @torch.no_grad()
    def tokens_of(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vq.quantize(torch.nn.functional.normalize(latents, dim=-1)).cpu()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    return ((images + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()


def save_grid(images: np.ndarray, path: Path, cols: int = 12, scale: int = 2) -> None:
    from PIL import Image

    n = len(images)
    rows = (n + cols - 1) // cols
    h, w = images.shape[1:3]
    sheet = np.full((rows * (h + 2) + 2, cols * (w + 2) + 2, 3), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        sheet[2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + c * (w + 2) : 2 + c * (w + 2) + w] = img
    out = Image.fromarray(sheet).resize((sheet.shape[1] * scale, sheet.shape[0] * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        out.save(tmp, format="PNG")


def evaluate(
    cfg: PipelineConfig,
    dataset,
    val_mask: np.ndarray,
    vq: VQTokenizer,
    teacher: Teacher,
    student: Student,
    split_t: int,
    pairs: dict,
    classifier: FeatureNet,
    classifier_metrics: dict,
    grids_dir: Path,
    device: torch.device = torch.device("cpu"),
    conditions: torch.Tensor | None = None,
) -> dict:
    """Every mode on the same noise. On a GPU (`device`) the numbers are the same kind, the ms/image are not.

    `conditions`: each sample's condition index (a text pack's prompts); class packs cycle through the classes.
    Accuracy is the classifier's agreement with the class the condition asks for, also split into style and
    category. A text pack has no onestep baseline (it needs per-condition marginals).
    """
    e = cfg.eval
    log = MetricsLog(grids_dir / "metrics.jsonl")
    for model in (vq, teacher, student, classifier):
        model.to(device)

    def features(images: torch.Tensor) -> np.ndarray:
        return batched(lambda x: classifier.features(x.to(device)).cpu(), images).numpy()

    real = images_to_tensor(dataset.images)
    real_feats = features(real).astype(np.float64)
    sampler = Sampler(cfg, vq, teacher.eval(), student.eval(), split_t, pairs)
    n = e.samples_per_mode
    classes_all = torch.arange(n) % dataset.n_classes if conditions is None else conditions[:n]
    targets_all = judge_classes(teacher, classes_all)
    n_categories = dataset.n_categories
    n_tokens, d = teacher.seq_len, sampler.book.shape[1]
    results: dict = {
        "samples_per_mode": n,
        "device": device.type,
        "classifier": classifier_metrics,
        "real_vs_real_fid_emoji": None,
        "modes": {},
    }
    # A floor for FID-emoji: the real training images against the real held-out ones.
    if val_mask.sum() > 10:
        results["real_vs_real_fid_emoji"] = round(frechet_distance(real_feats[~val_mask], real_feats[val_mask]), 3)
        # The ceiling for the accuracies: the classifier on real held-out images.
        predicted = batched(classifier, real[torch.from_numpy(val_mask)].to(device)).argmax(-1).cpu()
        target = torch.from_numpy(dataset.class_id[val_mask])
        results["real_heldout_accuracy"] = {
            "class": round((predicted == target).float().mean().item(), 4),
            "style": round((predicted // n_categories == target // n_categories).float().mean().item(), 4),
            "category": round((predicted % n_categories == target % n_categories).float().mean().item(), 4),
        }
    exact_tokens: torch.Tensor | None = None
    for mode in [m for m in MODES if not (teacher.text and m == "onestep")]:
        feats, correct, style_ok, category_ok, tokens, seconds = [], 0, 0, 0, [], 0.0
        progress = Progress(n, mode)
        for lo in range(0, n, e.batch):
            hi = min(n, lo + e.batch)
            classes = classes_all[lo:hi].to(device)
            eps = torch.from_numpy(gaussian_noise_batch(e.noise_seed_base + lo, hi - lo, (n_tokens, d))).to(device)
            t0 = time.perf_counter()
            latents = sampler.run(mode, classes, eps, seed=e.noise_seed_base + lo)
            images = decode(vq, latents)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - t0
            predicted = batched(classifier, images).argmax(-1)
            target = targets_all[lo:hi]
            correct += int((predicted == target).sum())
            style_ok += int((predicted // n_categories == target // n_categories).sum())
            category_ok += int((predicted % n_categories == target % n_categories).sum())
            feats.append(features(images))
            tokens.append(sampler.tokens_of(latents))
            if lo == 0:
                grids_dir.mkdir(parents=True, exist_ok=True)
                save_grid(to_uint8(images[: min(72, hi - lo)]), grids_dir / f"{mode}.png")
            progress.update(hi - lo)
        tok = torch.cat(tokens)
        if mode == "teacher_exact":
            exact_tokens = tok
        agreement = None if exact_tokens is None else round((tok == exact_tokens).float().mean().item(), 4)
        results["modes"][mode] = {
            "fid_emoji": round(frechet_distance(np.concatenate(feats).astype(np.float64), real_feats), 3),
            "class_accuracy": round(correct / n, 4),
            "style_accuracy": round(style_ok / n, 4),
            "category_accuracy": round(category_ok / n, 4),
            "token_agreement_with_exact_teacher": agreement,
            "ms_per_image_python": round(1000 * seconds / n, 3),
        }
        log.write(stage="eval", mode=mode, **results["modes"][mode])
    teacher_fid = results["modes"]["teacher_exact"]["fid_emoji"]
    for mode, r in results["modes"].items():
        r["fid_ratio_to_teacher_exact"] = round(r["fid_emoji"] / teacher_fid, 3) if teacher_fid > 0 else None
    return results


def add_eval_to_pack(pack_dir: Path, results: dict) -> None:
    """Writes eval.json into the pack and re-seals the manifest (file hashes) atomically."""
    from .export import sha256_file, validate_manifest

    save_json(pack_dir / "eval.json", results)
    manifest_path = pack_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["eval"] = {"file": "eval.json"}
    manifest["files"]["eval.json"] = {"sha256": sha256_file(pack_dir / "eval.json"), "bytes": (pack_dir / "eval.json").stat().st_size}
    validate_manifest(manifest, manifest_path)
    save_json(manifest_path, manifest)


HELDOUT_MODES = ["teacher_ar", "teacher_exact", "dd_1step", "dd_2step", "hybrid"]


@torch.no_grad()
def evaluate_heldout(
    cfg: PipelineConfig,
    dataset,
    vq: VQTokenizer,
    teacher: Teacher,
    student: Student,
    split_t: int,
    classifier: FeatureNet,
    heldout: torch.Tensor,
    control: torch.Tensor,
    seeds_per_prompt: int,
    grids_dir: Path,
) -> dict:
    """Generalisation to style x concept pairs never trained on: the classifier's style, category and class
    accuracy on images made for the held-out prompts, next to the same numbers for a control set of prompts the
    models did train on. Each prompt is generated with `seeds_per_prompt` seeds."""
    sampler = Sampler(cfg, vq, teacher.eval(), student.eval(), split_t, {})
    n_tokens, d = teacher.seq_len, sampler.book.shape[1]
    n_categories = dataset.n_categories
    out: dict = {"prompts": int(len(heldout)), "control_prompts": int(len(control)), "seeds_per_prompt": seeds_per_prompt, "modes": {}}
    for mode in HELDOUT_MODES:
        row = {}
        for name, conditions in (("heldout", heldout), ("control", control)):
            conds = conditions.repeat_interleave(seeds_per_prompt)
            target = judge_classes(teacher, conds)
            predicted = []
            for lo in range(0, len(conds), cfg.eval.batch):
                hi = min(len(conds), lo + cfg.eval.batch)
                seed = cfg.eval.noise_seed_base + 500_000 + lo
                eps = torch.from_numpy(gaussian_noise_batch(seed, hi - lo, (n_tokens, d)))
                images = decode(vq, sampler.run(mode, conds[lo:hi], eps, seed=seed))
                predicted.append(batched(classifier, images).argmax(-1))
                if lo == 0 and name == "heldout":
                    grids_dir.mkdir(parents=True, exist_ok=True)
                    save_grid(to_uint8(images[: min(72, hi - lo)]), grids_dir / f"heldout_{mode}.png", cols=seeds_per_prompt)
            p = torch.cat(predicted)
            row[name] = {
                "class_accuracy": round((p == target).float().mean().item(), 4),
                "style_accuracy": round((p // n_categories == target // n_categories).float().mean().item(), 4),
                "category_accuracy": round((p % n_categories == target % n_categories).float().mean().item(), 4),
            }
        out["modes"][mode] = row
    return out
