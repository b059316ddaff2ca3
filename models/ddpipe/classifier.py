"""The emoji classifier: trained only on the real images, it judges generated ones.

Its 128-d penultimate features give FID-emoji (a Frechet distance in this feature space; no Inception weights
exist on this machine, so it is not called FID), and its predictions give class accuracy. The pipeline trains it
once, as its own stage (work/classifier/final.pt), before the student: the student stage uses it to choose
split_t, the t2 ablation and the evaluation to compare modes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .common import PipelineError, Progress, load_torch, save_json, save_torch
from .config import PipelineConfig
from .vq import VQTokenizer, images_to_tensor


class FeatureNet(nn.Module):
    """A small CNN classifier; its penultimate layer (128-d) gives the FID-emoji features."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 128, 3, stride=2, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(128, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(images: np.ndarray, classes: np.ndarray, val_mask: np.ndarray, n_classes: int, cfg: PipelineConfig):
    """-> (net in eval mode, accuracy on the held-out real images)."""
    torch.manual_seed(cfg.seed)
    net = FeatureNet(n_classes)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    data = images_to_tensor(images)
    labels = torch.from_numpy(classes).long()
    train_idx = np.flatnonzero(~val_mask)
    steps = cfg.eval.classifier_steps
    progress = Progress(steps, "classifier")
    net.train()
    for step in range(steps):
        rng = np.random.default_rng([cfg.seed, 9, step])
        idx = rng.choice(train_idx, size=min(128, len(train_idx)))
        x = data[idx]
        # Light augmentation: small shifts, so the features do not key on exact pixel positions.
        dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
        x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        for group in opt.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = F.cross_entropy(net(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        progress.update(1, loss=loss.item())
    net.eval()
    with torch.no_grad():
        val = torch.from_numpy(val_mask)
        acc = (batched(net, data[val]).argmax(-1) == labels[val]).float().mean().item() if val.any() else float("nan")
    return net, acc


def build_classifier(cfg: PipelineConfig, dataset, val_mask: np.ndarray, work: Path) -> dict:
    net, acc = train_classifier(dataset.images, dataset.class_id, val_mask, dataset.n_classes, cfg)
    stage = work / "classifier"
    metrics = {"real_val_accuracy": round(acc, 4), "feature_dim": 128, "steps": cfg.eval.classifier_steps}
    save_torch(stage / "final.pt", {"model": net.state_dict(), "n_classes": dataset.n_classes})
    save_json(stage / "metrics.json", metrics)
    return metrics


def load_classifier(work: Path) -> FeatureNet:
    path = work / "classifier" / "final.pt"
    if not path.exists():
        raise PipelineError(f"the classifier is not trained yet: {path} is missing (run the 'classifier' stage)")
    state = load_torch(path, "classifier")
    net = FeatureNet(int(state["n_classes"]))
    net.load_state_dict(state["model"])
    return net.eval()


@torch.no_grad()
def batched(fn, x: torch.Tensor, size: int = 500) -> torch.Tensor:
    return torch.cat([fn(x[i : i + size]) for i in range(0, len(x), size)])


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (float64, eigen-decompositions only)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(s1)
    s1_half = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    cross = np.linalg.eigvalsh(s1_half @ s2 @ s1_half)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


def decode(vq: VQTokenizer, latents: torch.Tensor) -> torch.Tensor:
    return batched(lambda z: vq.decode_latents(z).clamp(-1, 1), latents)


class Judge:
    """FID-emoji and class accuracy of decoded latents against the real images."""

    def __init__(self, classifier: FeatureNet, vq: VQTokenizer, real_images: np.ndarray):
        self.classifier = classifier.eval()
        self.vq = vq
        self.real_features = batched(classifier.features, images_to_tensor(real_images)).numpy().astype(np.float64)

    @torch.no_grad()
    def score(self, latents: torch.Tensor, classes: torch.Tensor) -> dict:
        images = decode(self.vq, latents)
        feats = batched(self.classifier.features, images).numpy().astype(np.float64)
        accuracy = (batched(self.classifier, images).argmax(-1) == classes).float().mean().item()
        return {"fid_emoji": round(frechet_distance(feats, self.real_features), 3), "class_accuracy": round(accuracy, 4)}
