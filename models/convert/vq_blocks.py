"""The building blocks of the two VQ decoders, LlamaGen's VQ-16 (llamagen_arch.py) and VAR's VQVAE (var_arch.py),
and the nearest-code lookup that both DD students use for their forced prefix.

Both decoders follow one design: GroupNorm + SiLU residual blocks, single-head self-attention over the spatial
positions, nearest 2x upsampling followed by a 3x3 convolution. What differs between them comes from the config
(VQ16Config, VAEConfig):
  groups, norm_eps  the GroupNorm
  fused_qkv         the attention's projections: one 1x1 convolution `qkv` (VAR) or three, `q`, `k` and `v` (LlamaGen)
  level_blocks      what a level calls its residual blocks in the official files: 'block' (VAR) or 'res' (LlamaGen)
Attribute names are the official state_dict keys. Modules are registered in the order of those keys: the random
test weights are drawn key after key, and the ONNX export lists the weights in that order.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F


class BlockConfig(Protocol):
    groups: int
    norm_eps: float
    num_res_blocks: int
    fused_qkv: bool
    level_blocks: str


def group_norm(cfg: BlockConfig, channels: int, device=None) -> nn.GroupNorm:
    return nn.GroupNorm(cfg.groups, channels, eps=cfg.norm_eps, device=device)


class ResnetBlock(nn.Module):
    def __init__(self, cfg: BlockConfig, cin: int, cout: int, device=None):
        super().__init__()
        self.norm1 = group_norm(cfg, cin, device)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, device=device)
        self.norm2 = group_norm(cfg, cout, device)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, device=device)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1, device=device) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the spatial positions, with 1x1 convolutions for the projections.

    The two layouts also keep their official code's order of operations (the scale as a division or a product,
    the values multiplied from the left or the right): the same attention, but rounded differently, and the
    exported graphs and their fixtures follow each official model's."""

    def __init__(self, cfg: BlockConfig, channels: int, device=None):
        super().__init__()
        self.fused = cfg.fused_qkv
        self.norm = group_norm(cfg, channels, device)
        if self.fused:
            self.qkv = nn.Conv2d(channels, 3 * channels, 1, device=device)  # q, k, v in that order
        else:
            self.q = nn.Conv2d(channels, channels, 1, device=device)
            self.k = nn.Conv2d(channels, channels, 1, device=device)
            self.v = nn.Conv2d(channels, channels, 1, device=device)
        self.proj_out = nn.Conv2d(channels, channels, 1, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        if self.fused:
            q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, hh * ww).unbind(1)  # each (B, C, HW)
            attn = torch.softmax((q.transpose(1, 2) @ k) * c**-0.5, dim=-1)  # (B, HW queries, HW keys)
            return x + self.proj_out((v @ attn.transpose(1, 2)).reshape(b, c, hh, ww))
        h = self.norm(x)
        q = self.q(h).flatten(2).transpose(1, 2)  # (B, HW, C)
        k = self.k(h).flatten(2)  # (B, C, HW)
        v = self.v(h).flatten(2).transpose(1, 2)
        attn = torch.softmax((q @ k) / math.sqrt(c), dim=-1)
        return x + self.proj_out((attn @ v).transpose(1, 2).reshape(b, c, hh, ww))


class Upsample(nn.Module):
    def __init__(self, channels: int, device=None):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UpLevel(nn.Module):
    """One resolution level of a decoder: num_res_blocks + 1 residual blocks (the first from cin channels to cout),
    each followed by an attention block where `attn`, then the 2x upsampling where `upsample`."""

    def __init__(self, cfg: BlockConfig, cin: int, cout: int, attn: bool, upsample: bool, device=None):
        super().__init__()
        n = cfg.num_res_blocks + 1
        self.blocks_key = cfg.level_blocks
        blocks = nn.ModuleList(ResnetBlock(cfg, cin if i == 0 else cout, cout, device) for i in range(n))
        self.add_module(self.blocks_key, blocks)
        self.attn = nn.ModuleList(AttnBlock(cfg, cout, device) for _ in range(n) if attn)
        self.upsample = Upsample(cout, device) if upsample else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(getattr(self, self.blocks_key)):
            h = block(h)
            if len(self.attn):
                h = self.attn[i](h)
        return h if self.upsample is None else self.upsample(h)


def nearest_code(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the codebook row nearest (L2) to each vector of x (..., d)."""
    dist = x.pow(2).sum(-1, keepdim=True) - 2 * x @ codebook.T + codebook.pow(2).sum(-1)
    return dist.argmin(-1)
