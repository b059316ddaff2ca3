"""The LlamaGen-style transformer backbone shared by the AR teacher and the DD student.

Pre-norm blocks with RMSNorm, SwiGLU feed-forward, causal multi-head attention without biases and 2D rotary
position embeddings over the token grid. Sequence index 0 is the class slot; index k >= 1 carries grid position
k - 1. As in LlamaGen, the class slot's rotary row is all zeros, so its queries and keys are zero.

Attention is written out by hand (torch 1.13 has no scaled_dot_product_attention) and exports to ONNX opset 17.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BackboneConfig:
    dim: int
    layers: int
    heads: int
    ffn_dim: int
    grid: int  # tokens per side: the sequence has grid * grid image tokens
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    dropout: float = 0.0  # residual dropout while training (regularises a teacher larger than its data)
    # Condition slots in front of the image tokens: 1 class slot, or a text pack's prompt slots.
    prefix: int = 1
    # "zero": the slots' rotary rows are zero, so their queries and keys vanish (LlamaGen's class slot).
    # "identity": no rotation, so image tokens attend to prompt slots by content.
    prefix_rope: str = "zero"

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * scale * self.weight


def rope_table(cfg: BackboneConfig) -> torch.Tensor:
    """(prefix + grid*grid, head_dim/2, 2) cos/sin pairs: the condition rows (zero or identity, see
    BackboneConfig.prefix_rope), then row-major grid positions.

    Half of each head's rotation pairs turn with the row index, the other half with the column index.
    """
    pairs = cfg.head_dim // 2
    if pairs % 2:
        raise ValueError(f"head_dim {cfg.head_dim} must be a multiple of 4 for 2D rotary embeddings")
    per_axis = pairs // 2
    theta = cfg.rope_base ** (-torch.arange(per_axis, dtype=torch.float64) * 2 / pairs)
    rows = torch.arange(cfg.grid, dtype=torch.float64).repeat_interleave(cfg.grid)
    cols = torch.arange(cfg.grid, dtype=torch.float64).repeat(cfg.grid)
    angles = torch.cat([rows[:, None] * theta[None, :], cols[:, None] * theta[None, :]], dim=1)
    table = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
    if cfg.prefix_rope not in ("zero", "identity"):
        raise ValueError(f"prefix_rope must be 'zero' or 'identity', not {cfg.prefix_rope!r}")
    head = torch.zeros(cfg.prefix, pairs, 2, dtype=torch.float64)
    if cfg.prefix_rope == "identity":
        head[..., 0] = 1.0
    return torch.cat([head, table], dim=0).float()


def apply_rope(x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
    """x: (B, H, T, head_dim); rope: (T, head_dim/2, 2). Rotates interleaved pairs (x0, x1), (x2, x3), ..."""
    b, h, t, d = x.shape
    pairs = x.reshape(b, h, t, d // 2, 2)
    cos = rope[None, None, :, :, 0]
    sin = rope[None, None, :, :, 1]
    x0 = pairs[..., 0]
    x1 = pairs[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.reshape(b, h, t, d)


class Attention(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.head_dim
        self.wqkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.wo = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        rope: torch.Tensor,
        mask: torch.Tensor | None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, _ = x.shape
        qkv = self.wqkv(x).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = apply_rope(qkv[0], rope)
        k = apply_rope(qkv[1], rope)
        v = qkv[2]
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            scores = scores + mask
        attn = torch.softmax(scores, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, t, -1)
        return self.wo(out), (k, v)


    def forward_into(self, x: torch.Tensor, rope_row: torch.Tensor, pos: int, cache: tuple[torch.Tensor, torch.Tensor]):
        """One new slot at `pos`, written into preallocated key/value buffers (B, H, max_len, hd) in place.

        Sampling uses this instead of concatenating caches: concatenation copies the whole cache every step.
        """
        b = x.shape[0]
        qkv = self.wqkv(x).reshape(b, 1, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = apply_rope(qkv[0], rope_row)
        k_buf, v_buf = cache
        k_buf[:, :, pos : pos + 1] = apply_rope(qkv[1], rope_row)
        v_buf[:, :, pos : pos + 1] = qkv[2]
        keys = k_buf[:, :, : pos + 1]
        scores = (q @ keys.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        out = (torch.softmax(scores, dim=-1) @ v_buf[:, :, : pos + 1]).transpose(1, 2).reshape(b, 1, -1)
        return self.wo(out)


class FeedForward(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)
        self.dropout = cfg.dropout

    def forward(self, x, rope, mask, past=None):
        h, present = self.attention(self.attention_norm(x), rope, mask, past)
        x = x + self._drop(h)
        x = x + self._drop(self.feed_forward(self.ffn_norm(x)))
        return x, present

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        # Only while training, and only when asked for: with dropout 0 no random numbers are drawn, so configs
        # without it train exactly as before. Sampling, export and the cached paths never see it.
        return F.dropout(h, self.dropout, self.training) if self.dropout > 0 and self.training else h


class Backbone(nn.Module):
    """The stack of blocks plus the final norm; embeddings and heads belong to the teacher and student."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.register_buffer("rope", rope_table(cfg), persistent=False)
        seq = cfg.prefix + cfg.grid * cfg.grid
        causal = torch.full((seq, seq), float("-inf")).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Full causal pass over h: (B, T, dim) with T <= prefix + grid*grid, the condition slots first."""
        t = h.shape[1]
        rope = self.rope[:t]
        mask = self.causal_mask[:t, :t]
        for layer in self.layers:
            h, _ = layer(h, rope, mask)
        return self.norm(h)

    def forward_cached(
        self, h: torch.Tensor, start: torch.Tensor | int, past: list[tuple[torch.Tensor, torch.Tensor]] | None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Incremental pass: h holds the sequence slots start .. start+T-1; past holds the keys/values before them."""
        t = h.shape[1]
        rope = self.rope[start : start + t] if isinstance(start, int) else torch.index_select(
            self.rope, 0, start + torch.arange(t, device=self.rope.device)
        )
        mask = None
        if t > 1:
            offset = 0 if past is None else past[0][0].shape[2]
            mask = torch.cat([torch.zeros(t, offset, device=h.device), self.causal_mask[:t, :t]], dim=1)
        presents = []
        for i, layer in enumerate(self.layers):
            h, present = layer(h, rope, mask, None if past is None else past[i])
            presents.append(present)
        return self.norm(h), presents


def step_into(backbone: Backbone, h: torch.Tensor, pos: int, caches: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The backbone for one new slot with preallocated caches (see Attention.forward_into)."""
    rope_row = backbone.rope[pos : pos + 1]
    for layer, cache in zip(backbone.layers, caches):
        h = h + layer.attention.forward_into(layer.attention_norm(h), rope_row, pos, cache)
        h = h + layer.feed_forward(layer.ffn_norm(h))
    return backbone.norm(h)


def prefill_into(backbone: Backbone, h: torch.Tensor, caches: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The condition slots h (B, P, dim) at sequence slots 0..P-1 in one causal pass, their keys and values
    written into the preallocated caches. With P = 1 this is step_into at slot 0."""
    p = h.shape[1]
    rope = backbone.rope[:p]
    mask = backbone.causal_mask[:p, :p]
    for layer, (k_buf, v_buf) in zip(backbone.layers, caches):
        out, (k, v) = layer.attention(layer.attention_norm(h), rope, mask)
        k_buf[:, :, :p] = k
        v_buf[:, :, :p] = v
        h = h + out
        h = h + layer.feed_forward(layer.ffn_norm(h))
    return backbone.norm(h)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
