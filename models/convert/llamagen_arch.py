"""The official LlamaGen-DD networks, re-implemented with exactly the official state_dict key names and shapes.

Three networks (see ../shared/research/dd-method.md, sections 2 and 7):
  LlamaGenDDStudent  the DD student (llamagen-B.pt / llamagen-L.pt)
  LlamaGenTeacher    the LlamaGen class-to-image GPT the student was distilled from (c2i_B_256.pt / c2i_L_256.pt)
  VQ16Decoder        the decoder side of LlamaGen's VQ-16 tokenizer (vq_ds16_c2i.pt), with its codebook

Each module's state_dict has the official keys, so an official checkpoint loads with strict=True (the tokenizer's
encoder side excepted: see VQ16_IGNORED_PREFIXES). Every module takes `device`; built on the 'meta' device it
allocates nothing, which is how the expected key/shape tables for the full-size configs are made.

Where dd-method.md is silent, the points were settled against the official DD inference code (LlamaGen/ in
microsoft/distilled_decoding) and the comments say what it does ("official code:").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from .vq_blocks import AttnBlock, ResnetBlock, UpLevel, group_norm, nearest_code

# ---------------------------------------------------------------- configs


@dataclass(frozen=True)
class LlamaGenConfig:
    """One LlamaGen transformer size. The student and the teacher of a size share it."""

    name: str
    dim: int
    layers: int
    heads: int
    ffn_dim: int
    split_t: int  # the student's few-step split_t (dd-method.md section 2: 80 for B, 130 for L)
    vocab: int = 16384
    codebook_dim: int = 8
    n_classes: int = 1000  # the class table has one more row: the null class of classifier-free guidance
    grid: int = 16  # 16 x 16 = 256 tokens for 256 x 256 images
    norm_eps: float = 1e-5
    rope_base: float = 10000.0
    # The continuous head's affine-free LayerNorm uses eps 1e-6 (the official DD code's value; dd-method.md does
    # not give it). The head reads the last block's output itself: in the official code only the logits head goes
    # through the final RMSNorm.
    conti_norm_eps: float = 1e-6

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def tokens(self) -> int:
        return self.grid * self.grid


LLAMAGEN_B = LlamaGenConfig("B", dim=768, layers=12, heads=12, ffn_dim=2048, split_t=80)
LLAMAGEN_L = LlamaGenConfig("L", dim=1024, layers=24, heads=16, ffn_dim=2816, split_t=130)
# Test variants: the same widths (and so the same per-layer key shapes), 2 layers.
LLAMAGEN_B_SHALLOW = replace(LLAMAGEN_B, name="B-shallow", layers=2)
LLAMAGEN_L_SHALLOW = replace(LLAMAGEN_L, name="L-shallow", layers=2)
LLAMAGEN_CONFIGS = {c.name: c for c in (LLAMAGEN_B, LLAMAGEN_L, LLAMAGEN_B_SHALLOW, LLAMAGEN_L_SHALLOW)}


@dataclass(frozen=True)
class VQ16Config:
    """LlamaGen VQ-16: 16x downsampling, 16384 codes of dimension 8 (L2-normalised before use)."""

    name: str = "VQ-16"
    codebook_size: int = 16384
    codebook_dim: int = 8
    z_channels: int = 256
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    groups: int = 32
    # Official code (LlamaGen's VQ model, which the DD scripts load): 2 residual blocks per level in the encoder,
    # so num_res_blocks + 1 = 3 per level in the decoder; GroupNorm(32) with eps 1e-6; self-attention blocks in the
    # middle and after each residual block of the lowest-resolution level; nearest 2x upsampling, then a 3x3
    # convolution.
    num_res_blocks: int = 2
    norm_eps: float = 1e-6
    # The official key layout (see vq_blocks.py): separate q, k, v convolutions; a level's residual blocks 'res'.
    fused_qkv: ClassVar[bool] = False
    level_blocks: ClassVar[str] = "res"


VQ16 = VQ16Config()
# A small variant for tests that run the decoder: 2 levels (4x upsampling) of narrower blocks.
VQ16_TINY = VQ16Config(name="VQ-16-tiny", codebook_size=64, z_channels=64, ch=32, ch_mult=(1, 2), num_res_blocks=1)
# The test packs' decoder: VQ-16's full codebook and its 5 levels (16 x 16 tokens -> 256 x 256 pixels), with very
# narrow blocks (8..32 channels, GroupNorm over 4 groups) so that it runs in milliseconds.
VQ16_TEST = VQ16Config(name="VQ-16-test", z_channels=16, ch=8, groups=4, num_res_blocks=0)

# Keys of an official VQ checkpoint that belong to the encoder side, which DD Studio never runs (images are only
# decoded). quantize.codebook_used is LlamaGen's codebook-usage buffer (65536 entries), used in training only.
VQ16_IGNORED_PREFIXES = ("encoder.", "quant_conv.", "quantize.codebook_used")


# ---------------------------------------------------------------- transformer parts


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, device=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_2d(cfg: LlamaGenConfig) -> torch.Tensor:
    """(1 + grid*grid, head_dim/2, 2) cos/sin table; not stored in checkpoints, so recomputed.

    Row 0 (the class slot) is all zeros, which zeroes the class slot's queries and keys. Row 1 + r*grid + c holds
    grid cell (r, c): pairs 0 .. P/2-1 turn by r * theta_k, pairs P/2 .. P-1 by c * theta_k, with P = head_dim/2
    pairs and theta_k = base^(-2k/P).
    """
    pairs = cfg.head_dim // 2
    if pairs % 2:
        raise ValueError(f"head_dim {cfg.head_dim} must be a multiple of 4 for 2D rotary embeddings")
    theta = cfg.rope_base ** (-torch.arange(pairs // 2, dtype=torch.float64) * 2 / pairs)
    rows = torch.arange(cfg.grid, dtype=torch.float64).repeat_interleave(cfg.grid)
    cols = torch.arange(cfg.grid, dtype=torch.float64).repeat(cfg.grid)
    angles = torch.cat([rows[:, None] * theta, cols[:, None] * theta], dim=1)
    table = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)
    return torch.cat([torch.zeros(1, pairs, 2, dtype=torch.float64), table]).float()


def apply_rope(x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, head_dim), rope (T, head_dim/2, 2): rotates the interleaved pairs (x0, x1), (x2, x3), ..."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    cos = rope[None, :, None, :, 0]
    sin = rope[None, :, None, :, 1]
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__()
        self.heads, self.head_dim = cfg.heads, cfg.head_dim
        # wqkv's output is [q | k | v], each split into heads of head_dim contiguous channels.
        self.wqkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False, device=device)
        self.wo = nn.Linear(cfg.dim, cfg.dim, bias=False, device=device)

    def forward(self, x: torch.Tensor, rope: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = self.wqkv(x).reshape(b, t, 3, self.heads, self.head_dim).unbind(2)
        q, k = apply_rope(q, rope), apply_rope(k, rope)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, H, T, head_dim)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask
        out = torch.softmax(scores, dim=-1) @ v
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False, device=device)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False, device=device)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__()
        self.attention = Attention(cfg, device)
        self.feed_forward = FeedForward(cfg, device)
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps, device)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps, device)

    def forward(self, x: torch.Tensor, rope: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), rope, mask)
        return x + self.feed_forward(self.ffn_norm(x))


class LabelEmbedder(nn.Module):
    """Class table with one extra row (index n_classes) for the null class."""

    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__()
        self.embedding_table = nn.Embedding(cfg.n_classes + 1, cfg.dim, device=device)

    def forward(self, classes: torch.Tensor) -> torch.Tensor:
        return self.embedding_table(classes)


class _LlamaGenBase(nn.Module):
    """What the teacher and the student share: the class table, the blocks, the final norm, the logits head."""

    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__()
        self.cfg = cfg
        self.cls_embedding = LabelEmbedder(cfg, device)
        self.layers = nn.ModuleList(TransformerBlock(cfg, device) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps, device)
        self.output = nn.Linear(cfg.dim, cfg.vocab, bias=False, device=device)
        seq = 1 + cfg.tokens
        self.register_buffer("freqs_cis", rope_2d(cfg).to(device or "cpu"), persistent=False)
        mask = torch.full((seq, seq), float("-inf")).triu(1)
        self.register_buffer("causal_mask", mask.to(device or "cpu"), persistent=False)

    def blocks(self, h: torch.Tensor) -> torch.Tensor:
        """Causal pass over h (B, T, dim), slot 0 being the class slot; returns the last block's output."""
        t = h.shape[1]
        rope, mask = self.freqs_cis[:t], self.causal_mask[:t, :t]
        for layer in self.layers:
            h = layer(h, rope, mask)
        return h


# ---------------------------------------------------------------- the DD student


class LlamaGenDDStudent(_LlamaGenBase):
    """LlamaGen-DD: one pass maps (x_t, t, class) to logits and continuous latents at every token position.

    x_t[j] is the clean codebook vector q_j for j < t and the noise eps_j for j >= t. Slot 0 is the class slot.
    """

    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__(cfg, device)
        self.tok_embeddings = nn.Linear(cfg.codebook_dim, cfg.dim, device=device)  # continuous input, d -> dim
        self.n_d_embed = nn.Embedding(2, cfg.dim, device=device)  # 0: noise slot, 1: data slot
        self.final_layer_conti = ContinuousHead(cfg, device)

    def forward(self, x: torch.Tensor, t: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, N, d), t (B,) clean-prefix lengths, classes (B,) -> raw logits (B, N, V), latents (B, N, d).

        Raw heads: the prefix positions are not yet forced to the input (see forward_forced).
        """
        n = x.shape[1]
        # Official code: slot i of [class ; tokens] gets n_d_embed row 1 ("data") when i <= t, row 0 otherwise, so
        # the class slot and the clean prefix j < t are data and the rest is noise.
        data = (torch.arange(n, device=x.device)[None, :] < t[:, None]).long()
        cls = self.cls_embedding(classes)
        h = torch.cat([(cls + self.n_d_embed.weight[1])[:, None], self.tok_embeddings(x) + self.n_d_embed(data)], 1)
        h = self.blocks(h)[:, 1:]
        # Official code: the logits head reads RMSNorm(h), the continuous head the last block's output h itself.
        return self.output(self.norm(h)), self.final_layer_conti(h, cls)

    def forward_forced(
        self, x: torch.Tensor, t: torch.Tensor, classes: torch.Tensor, codebook: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """forward, with the outputs at j < t forced to the input: one-hot logits at the input's nearest code and
        latents equal to x_t[j]. `codebook` (V, d) is the L2-normalised VQ codebook.

        Official code: the sampling scripts pass the nearest code of each x_t[j] as the forced token, and the forced
        logits are 0 there and -inf elsewhere; only their argmax is ever used, which one-hot logits share."""
        logits, latents = self.forward(x, t, classes)
        prefix = torch.arange(x.shape[1], device=x.device)[None, :] < t[:, None]
        one_hot = F.one_hot(nearest_code(x, codebook), logits.shape[-1]).to(logits.dtype)
        logits = torch.where(prefix[..., None], one_hot, logits)
        latents = torch.where(prefix[..., None], x, latents)
        return logits, latents


class ContinuousHead(nn.Module):
    """Linear(LN_noaffine(h) * (1 + scale) + shift), with (shift, scale) = scale_shift_table + class embedding."""

    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__()
        self.eps = cfg.conti_norm_eps
        self.scale_shift_table = nn.Parameter(torch.zeros(2, cfg.dim, device=device))  # row 0 shift, row 1 scale
        self.linear = nn.Linear(cfg.dim, cfg.codebook_dim, device=device)

    def forward(self, h: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
        shift, scale = (self.scale_shift_table[None] + cls[:, None]).unbind(1)
        # The ONNX export (a later step) will need this LayerNorm written out: torch 1.13's exporter emits an invalid
        # node for affine-free LayerNorm (see models/ddpipe/student.py, layer_norm_plain).
        normed = F.layer_norm(h, h.shape[-1:], eps=self.eps)
        return self.linear(normed * (1 + scale[:, None]) + shift[:, None])


def assemble(logits: torch.Tensor, latents: torch.Tensor, split_t: int, codebook: torch.Tensor):
    """-> ids (B, N) = argmax logits, and out (B, N, d): C[ids] at j < split_t, the latents at j >= split_t."""
    ids = logits.argmax(-1)
    discrete = (torch.arange(logits.shape[1], device=logits.device) < split_t)[None, :, None]
    return ids, torch.where(discrete, codebook[ids], latents)


@torch.no_grad()
def sample_dd(
    student: LlamaGenDDStudent,
    eps: torch.Tensor,
    classes: torch.Tensor,
    t_list: list[int],
    split_t: int,
    codebook: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Few-step sampling (dd-method.md section 4): at each t, keep the assembled output before t, put the
    original noise back from t on, run again. t_list [0] is 1-step, [0, t2] 2-step. Returns (ids, latents);
    the latents go to the VQ decoder as they are."""
    out = eps
    ids = None
    for t in t_list:
        j = torch.arange(eps.shape[1], device=eps.device)[None, :, None]
        x = torch.where(j < t, out, eps)
        tt = torch.full((eps.shape[0],), t, dtype=torch.long, device=eps.device)
        ids, out = assemble(*student.forward_forced(x, tt, classes, codebook), split_t, codebook)
    return ids, out


# ---------------------------------------------------------------- the teacher


class LlamaGenTeacher(_LlamaGenBase):
    """LlamaGen's class-to-image GPT: [class ; tok_embeddings(ids)] -> logits; slot j predicts token j.

    Official code (LlamaGen's GPT, which the hybrid script loads as the teacher): the student's class table,
    blocks, final norm and output head, with a token table Embedding(vocab, dim) in place of the student's
    continuous input, and no noise/data embedding or continuous head.
    """

    def __init__(self, cfg: LlamaGenConfig, device=None):
        super().__init__(cfg, device)
        self.tok_embeddings = nn.Embedding(cfg.vocab, cfg.dim, device=device)

    def forward(self, ids: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """ids (B, n) with n < tokens, classes (B,) -> logits (B, n + 1, V) for tokens 0 .. n."""
        h = torch.cat([self.cls_embedding(classes)[:, None], self.tok_embeddings(ids)], dim=1)
        return self.output(self.norm(self.blocks(h)))


# ---------------------------------------------------------------- the VQ-16 decoder side


class Decoder(nn.Module):
    """z (B, z_channels, g, g) -> RGB (B, 3, g * 2^(levels-1), ...), roughly in [-1, 1].

    Levels run from the lowest resolution (widest, with attention) to the highest (no upsampling after it).
    """

    def __init__(self, cfg: VQ16Config, device=None):
        super().__init__()
        widths = [cfg.ch * m for m in reversed(cfg.ch_mult)]
        self.conv_in = nn.Conv2d(cfg.z_channels, widths[0], 3, padding=1, device=device)
        self.mid = nn.ModuleList(
            [
                ResnetBlock(cfg, widths[0], widths[0], device),
                AttnBlock(cfg, widths[0], device),
                ResnetBlock(cfg, widths[0], widths[0], device),
            ]
        )
        last = len(widths) - 1
        self.conv_blocks = nn.ModuleList(
            UpLevel(cfg, widths[max(i - 1, 0)], w, attn=i == 0, upsample=i != last, device=device)
            for i, w in enumerate(widths)
        )
        self.norm_out = group_norm(cfg, widths[-1], device)
        self.conv_out = nn.Conv2d(widths[-1], 3, 3, padding=1, device=device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(z)
        for block in self.mid:
            h = block(h)
        for level in self.conv_blocks:
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class CodebookHolder(nn.Module):
    def __init__(self, cfg: VQ16Config, device=None):
        super().__init__()
        self.embedding = nn.Embedding(cfg.codebook_size, cfg.codebook_dim, device=device)


class VQ16Decoder(nn.Module):
    """The decoder side of VQ-16: keys quantize.embedding.weight, post_quant_conv.*, decoder.*."""

    def __init__(self, cfg: VQ16Config = VQ16, device=None):
        super().__init__()
        self.cfg = cfg
        self.quantize = CodebookHolder(cfg, device)
        self.post_quant_conv = nn.Conv2d(cfg.codebook_dim, cfg.z_channels, 1, device=device)
        self.decoder = Decoder(cfg, device)

    def codebook(self) -> torch.Tensor:
        """The L2-normalised codebook (V, d): what tokens map to and what the student's latents live beside."""
        return F.normalize(self.quantize.embedding.weight, dim=-1)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, N, d) in raster order (used as given, not snapped or normalised) -> (B, 3, H, W)."""
        b, n, d = latents.shape
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"{n} latents do not make a square grid")
        z = latents.transpose(1, 2).reshape(b, d, side, side)
        return self.decoder(self.post_quant_conv(z))

    def decode_ids(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decode_latents(self.codebook()[ids])


# ---------------------------------------------------------------- expected key/shape tables

MODEL_CLASSES = {"student": LlamaGenDDStudent, "teacher": LlamaGenTeacher, "vq": VQ16Decoder}


@lru_cache(maxsize=None)
def _expected(kind: str, cfg) -> tuple[tuple[str, tuple[int, ...]], ...]:
    model = MODEL_CLASSES[kind](cfg, device="meta")
    return tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())


def expected_shapes(kind: str, cfg) -> dict[str, tuple[int, ...]]:
    """The state_dict keys and shapes of `kind` ('student', 'teacher', 'vq') at `cfg`, from a 'meta' build."""
    return dict(_expected(kind, cfg))


def parameter_count(kind: str, cfg) -> int:
    return sum(math.prod(shape) for _, shape in _expected(kind, cfg))
