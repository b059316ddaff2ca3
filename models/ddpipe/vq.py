"""Stage 2: the VQ tokenizer. 32x32 RGB -> an 8x8 grid of codebook indices, and back.

Like LlamaGen's VQ-16, encoder outputs and codebook rows are L2-normalised before the nearest-neighbour lookup,
so every latent is a unit vector of dimension `codebook_dim` (8). Unused codes are re-seeded from encoder
outputs during training to keep the codebook in use.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .common import MetricsLog, PipelineError, Progress, cosine_lr, load_torch, resume_training, save_json, save_torch, training_device
from .config import PipelineConfig


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=8, num_channels=channels, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = _norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Encoder(nn.Module):
    def __init__(self, c: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1),
            ResBlock(c, c),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),  # 32 -> 16
            ResBlock(2 * c, 2 * c),
            nn.Conv2d(2 * c, 2 * c, 4, stride=2, padding=1),  # 16 -> 8
            ResBlock(2 * c, 2 * c),
            _norm(2 * c),
            nn.SiLU(),
            nn.Conv2d(2 * c, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, c: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, 2 * c, 3, padding=1),
            ResBlock(2 * c, 2 * c),
            ResBlock(2 * c, 2 * c),
            nn.Upsample(scale_factor=2, mode="nearest"),  # 8 -> 16
            nn.Conv2d(2 * c, 2 * c, 3, padding=1),
            ResBlock(2 * c, c),
            nn.Upsample(scale_factor=2, mode="nearest"),  # 16 -> 32
            nn.Conv2d(c, c, 3, padding=1),
            ResBlock(c, c),
            _norm(c),
            nn.SiLU(),
            nn.Conv2d(c, 3, 3, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VQTokenizer(nn.Module):
    def __init__(self, codebook_size: int, codebook_dim: int, channels: int):
        super().__init__()
        self.encoder = Encoder(channels, codebook_dim)
        self.decoder = Decoder(channels, codebook_dim)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)
        nn.init.normal_(self.codebook.weight)

    def normalized_codebook(self) -> torch.Tensor:
        return F.normalize(self.codebook.weight, dim=-1)

    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """images (B,3,32,32) in [-1,1] -> unit latents (B, 64, dim), row-major over the 8x8 grid."""
        z = self.encoder(images)
        return F.normalize(z.flatten(2).transpose(1, 2), dim=-1)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest codebook index by cosine similarity (both sides are unit vectors)."""
        return (z @ self.normalized_codebook().T).argmax(-1)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, 64, dim) -> images (B,3,32,32), roughly in [-1,1]."""
        b, n, d = latents.shape
        side = int(math.isqrt(n))
        return self.decoder(latents.transpose(1, 2).reshape(b, d, side, side))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encode_latents(images)
        ids = self.quantize(z)
        zq = self.normalized_codebook()[ids]
        codebook_loss = F.mse_loss(zq, z.detach())
        commit_loss = F.mse_loss(z, zq.detach())
        # Straight-through: the decoder sees the quantised vectors, gradients flow to the encoder.
        recon = self.decode_latents(z + (zq - z).detach())
        return recon, ids, codebook_loss, commit_loss


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N,32,32,3) -> float (N,3,32,32) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between image batches in [-1,1] (peak-to-peak 2)."""
    mse = F.mse_loss(a.clamp(-1, 1), b.clamp(-1, 1)).item()
    return 10 * math.log10(4.0 / max(mse, 1e-12))


def build_model(cfg: PipelineConfig) -> VQTokenizer:
    v = cfg.vq
    return VQTokenizer(v.codebook_size, v.codebook_dim, v.channels)


def train_vq(cfg: PipelineConfig, images: np.ndarray, flippable: np.ndarray, val_mask: np.ndarray, work: Path) -> dict:
    """Trains (or resumes) the tokenizer; writes work/vq/final.pt and metrics. Returns the metrics."""
    v = cfg.vq
    stage = work / "vq"
    ckpt_path = stage / "checkpoint.pt"
    log = MetricsLog(stage / "metrics.jsonl")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    device = training_device()
    model.to(device)  # before the optimiser, so a resumed optimiser state lands on the same device
    opt = torch.optim.Adam(model.parameters(), lr=v.lr, betas=(0.9, 0.99))
    step = resume_training(ckpt_path, "VQ checkpoint", model, opt)

    train_idx = np.flatnonzero(~val_mask)
    data = images_to_tensor(images).to(device)
    usage = torch.zeros(v.codebook_size, device=device)
    progress = Progress(v.steps, "vq", start=step)
    model.train()
    while step < v.steps:
        # The batch order is a pure function of (seed, step): resuming replays the same data.
        rng = np.random.default_rng([cfg.seed, 2, step])
        idx = rng.choice(train_idx, size=min(v.batch, len(train_idx)), replace=len(train_idx) < v.batch)
        batch = data[idx]
        flip = torch.from_numpy(flippable[idx] & (rng.random(len(idx)) < 0.5)).to(device)
        batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, v.steps, v.lr, warmup=100)
        recon, ids, codebook_loss, commit_loss = model(batch)
        recon_loss = F.mse_loss(recon, batch) + 0.5 * F.l1_loss(recon, batch)
        loss = recon_loss + codebook_loss + v.commit_weight * commit_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        usage += torch.bincount(ids.flatten(), minlength=v.codebook_size).float()
        step += 1
        if step % v.restart_every == 0:
            _restart_dead_codes(model, batch, usage, np.random.default_rng([cfg.seed, 3, step]))
            usage.zero_()
        if step % 50 == 0 or step == v.steps:
            log.write(stage="vq", step=step, loss=loss.item(), recon=recon_loss.item(), psnr=psnr(recon, batch))
        if step % 500 == 0 or step == v.steps:
            save_torch(ckpt_path, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step})
        progress.update(1, loss=loss.item())

    model.cpu()
    metrics = evaluate_vq(model, data.cpu(), val_mask)
    metrics["steps"] = v.steps
    log.write(stage="vq", final=metrics)
    save_torch(stage / "final.pt", {"model": model.state_dict(), "config": cfg.vq.__dict__})
    save_json(stage / "metrics.json", metrics)
    return metrics


@torch.no_grad()
def _restart_dead_codes(model: VQTokenizer, batch: torch.Tensor, usage: torch.Tensor, rng: np.random.Generator) -> None:
    dead = torch.nonzero(usage == 0).flatten()
    if len(dead) == 0:
        return
    z = model.encode_latents(batch).reshape(-1, model.codebook.weight.shape[1])
    pick = torch.from_numpy(rng.choice(len(z), size=len(dead), replace=len(z) < len(dead))).to(z.device)
    jitter = torch.from_numpy(rng.standard_normal((len(dead), z.shape[1]))).float().to(z.device)
    model.codebook.weight[dead] = z[pick] + 0.01 * jitter


@torch.no_grad()
def evaluate_vq(model: VQTokenizer, data: torch.Tensor, val_mask: np.ndarray) -> dict:
    model.eval()
    ids_all = encode_ids(model, data)
    counts = np.bincount(ids_all.flatten(), minlength=model.codebook.weight.shape[0])
    probs = counts / counts.sum()
    perplexity = float(np.exp(-(probs[probs > 0] * np.log(probs[probs > 0])).sum()))
    val = data[torch.from_numpy(val_mask)]
    recon = decode_ids(model, torch.from_numpy(ids_all[val_mask]))
    return {
        "val_psnr_db": round(psnr(recon, val), 3),
        "codebook_usage": round(float((counts > 0).mean()), 4),
        "codebook_perplexity": round(perplexity, 2),
        "val_images": int(val_mask.sum()),
    }


@torch.no_grad()
def encode_ids(model: VQTokenizer, data: torch.Tensor, batch: int = 512) -> np.ndarray:
    out = [model.quantize(model.encode_latents(data[i : i + batch])) for i in range(0, len(data), batch)]
    return torch.cat(out).numpy().astype(np.int64)


@torch.no_grad()
def decode_ids(model: VQTokenizer, ids: torch.Tensor, batch: int = 512) -> torch.Tensor:
    book = model.normalized_codebook()
    return torch.cat([model.decode_latents(book[ids[i : i + batch]]) for i in range(0, len(ids), batch)])


def load_vq(cfg: PipelineConfig, work: Path) -> VQTokenizer:
    path = work / "vq" / "final.pt"
    if not path.exists():
        raise PipelineError(f"the VQ tokenizer is not trained yet: {path} is missing (run the 'vq' stage)")
    model = build_model(cfg)
    model.load_state_dict(load_torch(path, "VQ tokenizer")["model"])
    return model.eval()
