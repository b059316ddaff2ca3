"""The official VAR-DD networks, re-implemented with exactly the official state_dict key names and shapes.

Three networks (see ../shared/research/dd-method.md, sections 6 and 7):
  VARDDStudent  the DD student (var-d16.pth / var-d20.pth / var-d24.pth): VAR with the class slot as its own level
  VARTeacher    the VAR class-to-image transformer it was distilled from (var_d16.pth / var_d20.pth / var_d24.pth)
  VARVQVAE      the decoder side of VAR's multi-scale VQVAE (vae_ch160v4096z32.pth), with its codebook and Phi convs

Each module's state_dict has the official keys. The buffers VAR registers (the level of each position, the
attention mask, the key bias that is always zero) are recomputed here; RECOMPUTED_BUFFERS names them, since an
official file may hold them or not (see checkpoints.py). Every module takes `device`; built on the 'meta' device it
allocates nothing, which is how the expected key/shape tables for the full-size configs are made.

Tokens are stored scale after scale, row-major within a scale: 680 tokens for the scales 1,2,3,4,5,6,8,10,13,16.
A step `t` counts scales: t = k means the tokens of scales < k are clean. `scale_starts` turns scales into token
positions.

The reference samplers at the end follow the official inference code's operations (F.interpolate for the
VQVAE's resizing, a KV-cached teacher); the exported graphs (var_pack.py) use ScaleResampler instead, the same
linear maps written as fixed matrices, and the tests check the two against each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ddpipe.student import layer_norm_plain

from .vq_blocks import AttnBlock, ResnetBlock, UpLevel, group_norm, nearest_code

# ---------------------------------------------------------------- configs

PATCH_NUMS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)


@dataclass(frozen=True)
class VARConfig:
    """One VAR transformer size; the student and the teacher of a size share it. Official sizes have
    depth = heads = d and width = 64 d."""

    name: str
    depth: int
    heads: int
    width: int
    split_t: int  # the student's split_t, in scales (official sample commands: 5 for d16, 4 for d20 and d24)
    t2: int  # the 2-step t_list's second step, in scales (official sample commands: 5 for d16, 4 for d20/d24)
    patch_nums: tuple[int, ...] = PATCH_NUMS
    vocab: int = 4096
    codebook_dim: int = 32
    n_classes: int = 1000  # the class table has one more row: the null class of classifier-free guidance
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6  # every LayerNorm of VAR (blocks, head, continuous head)

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def hidden(self) -> int:
        return round(self.width * self.mlp_ratio)

    @property
    def tokens(self) -> int:
        return sum(p * p for p in self.patch_nums)

    @property
    def scales(self) -> int:
        return len(self.patch_nums)

    @property
    def grid(self) -> int:
        return self.patch_nums[-1]


def official_config(depth: int, split_t: int, t2: int, name: str | None = None) -> VARConfig:
    return VARConfig(name or f"d{depth}", depth=depth, heads=depth, width=64 * depth, split_t=split_t, t2=t2)


VAR_D16 = official_config(16, split_t=5, t2=5)
VAR_D20 = official_config(20, split_t=4, t2=4)
VAR_D24 = official_config(24, split_t=4, t2=4)
# A depth-2 model by the same rule (2 heads, width 128): the random-weight test pack. split_t and t2 as for d16.
VAR_D2_TEST = official_config(2, split_t=5, t2=5, name="d2-test")
# Test variant with d16's widths (and so d16's per-block key shapes) and 2 blocks.
VAR_D16_SHALLOW = replace(VAR_D16, name="d16-shallow", depth=2)
VAR_CONFIGS = {16: VAR_D16, 20: VAR_D20, 24: VAR_D24, 2: VAR_D2_TEST}


def var_config(depth: int) -> VARConfig:
    if depth not in VAR_CONFIGS:
        raise ValueError(f"no VAR-DD model of depth {depth}: the official ones are d16, d20 and d24 (and 2 for tests)")
    return VAR_CONFIGS[depth]


@dataclass(frozen=True)
class VAEConfig:
    """VAR's multi-scale VQVAE (decoder side): 4096 raw (not normalised) codes of dimension 32, Phi convs shared
    by scale ranges, and a decoder that upsamples the 16x16 feature map 16 times."""

    name: str = "vae-ch160v4096z32"
    vocab: int = 4096
    z_channels: int = 32  # the codebook dimension (Cvae)
    ch: int = 160
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2  # per encoder level; the decoder has one more per level
    share_quant_resi: int = 4  # Phi convs, each used by a range of scales
    quant_resi: float = 0.5  # Phi(h) = (1 - r) h + r conv3x3(h)
    groups: int = 32
    norm_eps: float = 1e-6
    patch_nums: tuple[int, ...] = PATCH_NUMS
    # The official key layout (see vq_blocks.py): one qkv convolution; a level's residual blocks 'block'.
    fused_qkv: ClassVar[bool] = True
    level_blocks: ClassVar[str] = "block"

    @property
    def upsampling(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)


VAE = VAEConfig()
# Tests: the official key names with 5 narrow levels (256 x 256 images, as the official VQVAE), the full 4096 x 32
# codebook.
VAE_TINY = VAEConfig(name="vae-tiny", ch=32, ch_mult=(1, 1, 1, 1, 1), num_res_blocks=1)

# Keys of an official VQVAE file that DD Studio never uses: the encoder side (images are only decoded) and the
# codebook-usage statistics kept during the VQVAE's training.
VAE_IGNORED_PREFIXES = ("encoder.", "quant_conv.", "quantize.ema_vocab_hit_SV")


def scale_starts(patch_nums: tuple[int, ...] = PATCH_NUMS) -> list[int]:
    """Token position where each scale begins, plus the total: [0, 1, 5, 14, ..., 424, 680] for VAR."""
    starts = [0]
    for p in patch_nums:
        starts.append(starts[-1] + p * p)
    return starts


def token_levels(patch_nums: tuple[int, ...]) -> torch.Tensor:
    """The level (scale index) of every position, (L,)."""
    return torch.cat([torch.full((p * p,), i, dtype=torch.long) for i, p in enumerate(patch_nums)])


def attention_mask(patch_nums: tuple[int, ...], strictly_lower: bool) -> torch.Tensor:
    """(1, 1, L, L) additive mask, 0 where a position may attend and -inf elsewhere.

    The teacher's position sees its own level and every lower one (the scales it was trained to predict together);
    the DD student's sees the strictly lower levels plus itself, so that within a scale each token depends only on
    its own noise."""
    level = token_levels(patch_nums)
    row, col = level[:, None], level[None, :]
    allowed = col < row if strictly_lower else col <= row
    if strictly_lower:
        allowed = allowed | torch.eye(len(level), dtype=torch.bool)
    return torch.where(allowed, 0.0, float("-inf"))[None, None]


def phi_index(scale: int, n_scales: int, n_phi: int) -> int:
    """Which of the n_phi shared Phi convs scale `scale` uses: the one whose tick is nearest to scale/(n-1).

    VAR places the ticks at linspace(1/(3K), 1 - 1/(3K), K) for K = 4 and at linspace(1/(2K), 1 - 1/(2K), K)
    otherwise. Scale 2 of 10 sits exactly between the first two ticks; float64 rounding puts it with the second,
    giving 0,0,1,1,1,2,2,3,3,3 (the value dd-method.md gives), which the tests pin."""
    margin = 1 / 3 / n_phi if n_phi == 4 else 1 / 2 / n_phi
    ticks = np.linspace(margin, 1 - margin, n_phi)
    return int(np.argmin(np.abs(ticks - scale / (n_scales - 1))))


# ---------------------------------------------------------------- transformer parts


def _ln(x: torch.Tensor, eps: float) -> torch.Tensor:
    # VAR's LayerNorms have no learned scale or bias; written out because torch 1.13's ONNX exporter emits an
    # invalid node for an affine-free LayerNorm (see ddpipe.student.layer_norm_plain).
    return layer_norm_plain(x, eps)


# VAR caps the learned attention temperature at 100: exp(min(s, log 100)). The official code takes the log in
# float32 (torch.log of a tensor), so the cap is that float32 value, not math.log(100).
MAX_SCALE_MUL = float(torch.log(torch.tensor(100.0)))


class SelfAttention(nn.Module):
    """Multi-head attention on L2-normalised queries and keys, the queries scaled by a learned per-head factor.

    The qkv projection has biases for q and v only (the k bias is a zero buffer)."""

    def __init__(self, cfg: VARConfig, device=None):
        super().__init__()
        c, self.heads, self.head_dim = cfg.width, cfg.heads, cfg.head_dim
        self.mat_qkv = nn.Linear(c, 3 * c, bias=False, device=device)
        self.q_bias = nn.Parameter(torch.zeros(c, device=device))
        self.v_bias = nn.Parameter(torch.zeros(c, device=device))
        self.register_buffer("zero_k_bias", torch.zeros(c, device=device))
        self.scale_mul_1H11 = nn.Parameter(torch.full((1, cfg.heads, 1, 1), math.log(4.0), device=device))
        self.proj = nn.Linear(c, c, device=device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, cache: list | None = None) -> torch.Tensor:
        """x (B, n, C); mask broadcastable to (B, heads, n, n + cached) or None; `cache` a [keys, values] pair
        (None, None at first) that this call extends, for the KV-cached teacher."""
        b, n, c = x.shape
        # The projection, then its bias: the same sum as one biased product, kept as an nn.Linear call so that the
        # float16 emulation (fp16.py) sees it as the graph's MatMul.
        qkv = self.mat_qkv(x) + torch.cat([self.q_bias, self.zero_k_bias, self.v_bias])
        qkv = qkv.reshape(b, n, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, heads, n, head_dim)
        q = F.normalize(q, dim=-1) * self.scale_mul_1H11.clamp_max(MAX_SCALE_MUL).exp()
        k = F.normalize(k, dim=-1)
        if cache is not None:
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        scores = q @ k.transpose(-1, -2)  # the scale is 1: the normalised, scaled q carries the temperature
        if mask is not None:
            scores = scores + mask
        out = torch.softmax(scores, dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class FFN(nn.Module):
    def __init__(self, cfg: VARConfig, device=None):
        super().__init__()
        self.fc1 = nn.Linear(cfg.width, cfg.hidden, device=device)
        self.fc2 = nn.Linear(cfg.hidden, cfg.width, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class AdaLNSelfAttn(nn.Module):
    """A VAR block: adaptive LayerNorm from the class embedding, attention, then the MLP.

    ada_lin(cond) gives, in this order, gamma1, gamma2, scale1, scale2, shift1, shift2 (each C wide). The DD
    student adds its noise/data embedding between the attention and the MLP (`nd`). Drop-path is training-only."""

    def __init__(self, cfg: VARConfig, device=None):
        super().__init__()
        self.width, self.eps = cfg.width, cfg.norm_eps
        self.attn = SelfAttention(cfg, device)
        self.ffn = FFN(cfg, device)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 6 * cfg.width, device=device))

    def forward(self, x, cond, mask, nd: torch.Tensor | None = None, cache: list | None = None) -> torch.Tensor:
        gamma1, gamma2, scale1, scale2, shift1, shift2 = self.ada_lin(cond).reshape(-1, 1, 6, self.width).unbind(2)
        x = x + self.attn(_ln(x, self.eps) * (1 + scale1) + shift1, mask, cache) * gamma1
        if nd is not None:
            x = x + nd
        return x + self.ffn(_ln(x, self.eps) * (1 + scale2) + shift2) * gamma2


class AdaLNBeforeHead(nn.Module):
    """The logits head's adaptive LayerNorm: ada_lin(cond) gives scale, then shift."""

    def __init__(self, cfg: VARConfig, device=None):
        super().__init__()
        self.width, self.eps = cfg.width, cfg.norm_eps
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 2 * cfg.width, device=device))

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.ada_lin(cond).reshape(-1, 1, 2, self.width).unbind(2)
        return _ln(h, self.eps) * (1 + scale) + shift


class _VARBase(nn.Module):
    """What the teacher and the student share: embeddings, blocks, the logits head, and the recomputed buffers
    (lvl_1L: the level of every position; attn_bias_for_masking: the additive attention mask)."""

    def __init__(self, cfg: VARConfig, patch_nums: tuple[int, ...], strictly_lower: bool, device=None):
        super().__init__()
        self.cfg = cfg
        self.patch_nums = patch_nums
        c = cfg.width
        seq = sum(p * p for p in patch_nums)
        self.word_embed = nn.Linear(cfg.codebook_dim, c, device=device)
        self.class_emb = nn.Embedding(cfg.n_classes + 1, c, device=device)
        self.pos_start = nn.Parameter(torch.zeros(1, 1, c, device=device))
        self.pos_1LC = nn.Parameter(torch.zeros(1, seq, c, device=device))
        self.lvl_embed = nn.Embedding(len(patch_nums), c, device=device)
        self.blocks = nn.ModuleList(AdaLNSelfAttn(cfg, device) for _ in range(cfg.depth))
        self.register_buffer("lvl_1L", token_levels(patch_nums)[None].to(device or "cpu"))
        mask = attention_mask(patch_nums, strictly_lower)
        self.register_buffer("attn_bias_for_masking", mask.to(device or "cpu"))
        self.head_nm = AdaLNBeforeHead(cfg, device)
        self.head = nn.Linear(c, cfg.vocab, device=device)

    def level_position(self) -> torch.Tensor:
        """(1, L, C): level embedding plus absolute position embedding of every position."""
        return self.lvl_embed(self.lvl_1L) + self.pos_1LC

    def embed(self, x_in: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x_in (B, n, d) continuous inputs of positions 1..n -> ((B, 1 + n, C) embedded sequence, cond (B, C)).
        Slot 0 is the class slot: class embedding + pos_start (+ its level and position embeddings)."""
        cond = self.class_emb(classes)
        h = torch.cat([cond[:, None] + self.pos_start, self.word_embed(x_in)], 1)
        return h + self.level_position()[:, : h.shape[1]], cond

    def logits(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_nm(h, cond))


# ---------------------------------------------------------------- the DD student


class FinalLayer(nn.Module):
    """The continuous head: Linear(LN_noaffine(h) * (1 + scale) + shift) with (shift, scale) = the rows of
    scale_shift_table plus the class embedding."""

    def __init__(self, cfg: VARConfig, device=None):
        super().__init__()
        self.eps = cfg.norm_eps
        self.linear = nn.Linear(cfg.width, cfg.codebook_dim, device=device)
        self.scale_shift_table = nn.Parameter(torch.zeros(2, cfg.width, device=device))  # row 0 shift, row 1 scale

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift, scale = (self.scale_shift_table[None] + cond[:, None]).unbind(1)
        return self.linear(_ln(h, self.eps) * (1 + scale[:, None]) + shift[:, None])


class VARDDStudent(_VARBase):
    """VAR-DD: one pass maps (x_t, t, class) to logits and continuous latents at every token.

    The patch sizes gain a leading 1 for the class slot, which becomes its own level: 681 positions, 11 levels.
    x_t holds codebook vectors (raw) at the clean positions and noise elsewhere. A noise/data embedding (data = the
    class slot and the clean positions) is added to the input, into every block through layerwise_n_d_embed[i],
    and before both heads through layerwise_n_d_embed[depth]."""

    def __init__(self, cfg: VARConfig, device=None):
        super().__init__(cfg, (1,) + cfg.patch_nums, strictly_lower=True, device=device)
        c = cfg.width
        self.n_d_embed = nn.Embedding(2, c, device=device)  # 0: noise, 1: data
        self.layerwise_n_d_embed = nn.ModuleList(nn.Linear(c, c, device=device) for _ in range(cfg.depth + 1))
        self.final_layer_conti = FinalLayer(cfg, device)

    def forward(self, x: torch.Tensor, t_tokens: torch.Tensor, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, N, d), t_tokens (B,) the number of clean tokens (scale_starts[t]), classes (B,)
        -> raw logits (B, N, V) and continuous latents (B, N, d), the class slot dropped.

        Raw heads: the clean positions are not yet forced to the input (see forward_forced)."""
        h, cond = self.embed(x, classes)
        data = torch.arange(h.shape[1], device=x.device)[None, :] < (t_tokens[:, None] + 1)  # + 1: the class slot
        nd = self.n_d_embed(data.long())
        h = h + nd
        for block, nd_layer in zip(self.blocks, self.layerwise_n_d_embed):
            h = block(h, cond, self.attn_bias_for_masking, nd_layer(nd))
        h = h + self.layerwise_n_d_embed[-1](nd)
        return self.logits(h, cond)[:, 1:], self.final_layer_conti(h, cond)[:, 1:]

    def forward_forced(
        self, x: torch.Tensor, t_tokens: torch.Tensor, classes: torch.Tensor, codebook: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """forward, with the outputs before t_tokens forced to the input: logits 0 at the input's nearest code and
        -inf elsewhere, latents equal to the input. `codebook` (V, d) is the raw VAR codebook."""
        logits, latents = self.forward(x, t_tokens, classes)
        prefix = (torch.arange(x.shape[1], device=x.device)[None, :] < t_tokens[:, None])[..., None]
        forced = torch.full_like(logits, float("-inf")).scatter(-1, nearest_code(x, codebook)[..., None], 0.0)
        return torch.where(prefix, forced, logits), torch.where(prefix, x, latents)


def assemble(logits: torch.Tensor, latents: torch.Tensor, split_t: int, codebook: torch.Tensor, patch_nums=PATCH_NUMS):
    """-> ids (B, N) = argmax logits, and out (B, N, d): C[ids] for the tokens of scales < split_t, the continuous
    latents after."""
    ids = logits.argmax(-1)
    split = scale_starts(patch_nums)[split_t]
    discrete = (torch.arange(logits.shape[1], device=logits.device) < split)[None, :, None]
    return ids, torch.where(discrete, codebook[ids], latents)


@torch.no_grad()
def sample_dd(
    student: VARDDStudent,
    eps: torch.Tensor,
    classes: torch.Tensor,
    t_list: list[int],
    split_t: int,
    codebook: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Few-step sampling as the official sample script runs it: at each t (in scales), the previous output before
    scale t, the original noise from scale t on, one pass, assembly with split_t. t_list [0] is 1-step, [0, t2]
    2-step. Returns (ids, latents); the latents go to the VQVAE decoder as they are."""
    starts = scale_starts(student.cfg.patch_nums)
    out, ids = eps, None
    j = torch.arange(eps.shape[1], device=eps.device)[None, :, None]
    for t in t_list:
        x = torch.where(j < starts[t], out, eps)
        tt = torch.full((eps.shape[0],), starts[t], dtype=torch.long, device=eps.device)
        ids, out = assemble(*student.forward_forced(x, tt, classes, codebook), split_t, codebook, student.cfg.patch_nums)
    return ids, out


# ---------------------------------------------------------------- the teacher


class VARTeacher(_VARBase):
    """VAR: slot 0 (class) predicts scale 0; the positions of scale k > 0 take the accumulated feature map of
    scales < k, resized to scale k (VARVQVAE.next_scale_inputs), and predict scale k."""

    def __init__(self, cfg: VARConfig, device=None):
        super().__init__(cfg, cfg.patch_nums, strictly_lower=False, device=device)

    def forward(self, x_in: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """x_in (B, n, d) the teacher inputs of positions 1..n (n <= N - 1) -> logits (B, 1 + n, V), full pass
        with the scale-causal mask."""
        h, cond = self.embed(x_in, classes)
        n = h.shape[1]
        mask = self.attn_bias_for_masking[:, :, :n, :n]
        for block in self.blocks:
            h = block(h, cond, mask)
        return self.logits(h, cond)

    @torch.no_grad()
    def logits_by_scale_cached(self, vae: VARVQVAE, ids: torch.Tensor, classes: torch.Tensor, upto: int | None = None):
        """The official inference loop, teacher-forced with `ids` (B, N): one KV-cached pass per scale, each
        scale's input made from the ids of the scales before it with F.interpolate. Returns the logits of scales
        0..upto (a list of (B, p*p, V))."""
        cfg = self.cfg
        upto = cfg.scales - 1 if upto is None else upto
        starts = scale_starts(cfg.patch_nums)
        b, grid = ids.shape[0], cfg.grid
        cond = self.class_emb(classes)
        lvl_pos = self.level_position()
        x = cond[:, None] + self.pos_start + lvl_pos[:, :1]
        f_hat = torch.zeros(b, cfg.codebook_dim, grid, grid, device=ids.device)
        caches = [[None, None] for _ in self.blocks]
        out = []
        for si, p in enumerate(cfg.patch_nums[: upto + 1]):
            h = x
            for block, cache in zip(self.blocks, caches):
                h = block(h, cond, None, cache=cache)  # the cache holds exactly the earlier scales: no mask
            out.append(self.logits(h, cond))
            if si + 1 < cfg.scales:
                tokens = vae.quantize.embedding(ids[:, starts[si] : starts[si + 1]])
                f_hat = vae.add_scale(f_hat, tokens.transpose(1, 2).reshape(b, -1, p, p), si)
                nxt = cfg.patch_nums[si + 1]
                small = F.interpolate(f_hat, size=(nxt, nxt), mode="area").flatten(2).transpose(1, 2)
                x = self.word_embed(small) + lvl_pos[:, starts[si + 1] : starts[si + 2]]
        return out


def guided_logits(cond: torch.Tensor, uncond: torch.Tensor, scale: int, cfg_scale: float, n_scales: int) -> torch.Tensor:
    """VAR's guidance ('linear-scale' in the manifest): w = s * k / (K - 1) at scale k, logits c + w (c - u)."""
    w = cfg_scale * scale / (n_scales - 1)
    return (1 + w) * cond - w * uncond


# ---------------------------------------------------------------- the VQVAE decoder side


class Mid(nn.Module):
    def __init__(self, cfg: VAEConfig, channels: int, device=None):
        super().__init__()
        self.block_1 = ResnetBlock(cfg, channels, channels, device)
        self.attn_1 = AttnBlock(cfg, channels, device)
        self.block_2 = ResnetBlock(cfg, channels, channels, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Decoder(nn.Module):
    """z (B, Cvae, g, g) -> RGB (B, 3, g * upsampling, ...), roughly in [-1, 1].

    `up` is indexed by level, 0 being the highest resolution; it runs from the last level (widest, with attention)
    to level 0 (no upsampling after it)."""

    def __init__(self, cfg: VAEConfig, device=None):
        super().__init__()
        widths = [cfg.ch * m for m in cfg.ch_mult]
        last = len(widths) - 1
        self.conv_in = nn.Conv2d(cfg.z_channels, widths[-1], 3, padding=1, device=device)
        self.mid = Mid(cfg, widths[-1], device)
        self.up = nn.ModuleList(
            UpLevel(cfg, widths[min(i + 1, last)], w, attn=i == last, upsample=i != 0, device=device)
            for i, w in enumerate(widths)
        )
        self.norm_out = group_norm(cfg, widths[0], device)
        self.conv_out = nn.Conv2d(widths[0], 3, 3, padding=1, device=device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Phi(nn.Conv2d):
    """Phi(h) = (1 - r) h + r conv3x3(h), r = quant_resi (0.5)."""

    def __init__(self, cfg: VAEConfig, device=None):
        super().__init__(cfg.z_channels, cfg.z_channels, 3, padding=1, device=device)
        self.ratio = cfg.quant_resi

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * (1 - self.ratio) + super().forward(h) * self.ratio


class PhiShared(nn.Module):
    def __init__(self, cfg: VAEConfig, device=None):
        super().__init__()
        self.qresi_ls = nn.ModuleList(Phi(cfg, device) for _ in range(cfg.share_quant_resi))


class Quantizer(nn.Module):
    def __init__(self, cfg: VAEConfig, device=None):
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab, cfg.z_channels, device=device)
        self.quant_resi = PhiShared(cfg, device)


class VARVQVAE(nn.Module):
    """The decoder side of VAR's VQVAE: keys quantize.embedding.weight, quantize.quant_resi.qresi_ls.N.*,
    post_quant_conv.*, decoder.*. Scale k's token map h_k adds Phi_{phi_index(k)}(h_k upsampled bicubically to
    the last scale's size) to the feature map f_hat; the image is decoder(post_quant_conv(f_hat)) in [-1, 1]."""

    def __init__(self, cfg: VAEConfig = VAE, device=None):
        super().__init__()
        if cfg.share_quant_resi < 2:
            raise ValueError("only partially shared Phi convs (share_quant_resi >= 2) are implemented, as VAR uses")
        self.cfg = cfg
        self.quantize = Quantizer(cfg, device)
        self.post_quant_conv = nn.Conv2d(cfg.z_channels, cfg.z_channels, 3, padding=1, device=device)
        self.decoder = Decoder(cfg, device)
        n = len(cfg.patch_nums)
        self.phi_ids = tuple(phi_index(k, n, cfg.share_quant_resi) for k in range(n))

    def codebook(self) -> torch.Tensor:
        """The raw codebook (V, d): VAR does not normalise its codes."""
        return self.quantize.embedding.weight

    def phi(self, scale: int) -> Phi:
        return self.quantize.quant_resi.qresi_ls[self.phi_ids[scale]]

    def add_scale(self, f_hat: torch.Tensor, h: torch.Tensor, scale: int) -> torch.Tensor:
        """f_hat (B, d, G, G) + Phi(h (B, d, p, p) upsampled bicubically to G x G unless it is the last scale)."""
        grid = self.cfg.patch_nums[-1]
        if scale != len(self.cfg.patch_nums) - 1:
            h = F.interpolate(h, size=(grid, grid), mode="bicubic")
        return f_hat + self.phi(scale)(h)

    def _maps(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """(B, N, d) scale after scale -> one (B, d, p, p) map per scale."""
        b, d = tokens.shape[0], tokens.shape[2]
        starts = scale_starts(self.cfg.patch_nums)
        return [
            tokens[:, starts[k] : starts[k + 1]].transpose(1, 2).reshape(b, d, p, p)
            for k, p in enumerate(self.cfg.patch_nums)
        ]

    def fhat(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, N, d) (used as given: not snapped) -> the summed feature map (B, d, G, G)."""
        grid = self.cfg.patch_nums[-1]
        f_hat = latents.new_zeros(latents.shape[0], latents.shape[2], grid, grid)
        for k, h in enumerate(self._maps(latents)):
            f_hat = self.add_scale(f_hat, h, k)
        return f_hat

    def fhat_to_img(self, f_hat: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(f_hat)).clamp(-1, 1)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, N, d) -> images (B, 3, H, W) in [-1, 1]."""
        return self.fhat_to_img(self.fhat(latents))

    def decode_ids(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decode_latents(self.codebook()[ids])

    def next_scale_inputs(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, N) -> the teacher's inputs for the positions of scales 1.. (B, N - 1, d): after scale k, the
        accumulated feature map resized (area) to scale k + 1's size."""
        pn = self.cfg.patch_nums
        grid = pn[-1]
        maps = self._maps(self.codebook()[ids])
        f_hat = maps[0].new_zeros(ids.shape[0], maps[0].shape[1], grid, grid)
        inputs = []
        for k in range(len(pn) - 1):
            f_hat = self.add_scale(f_hat, maps[k], k)
            inputs.append(F.interpolate(f_hat, size=(pn[k + 1], pn[k + 1]), mode="area").flatten(2).transpose(1, 2))
        return torch.cat(inputs, 1)


# ---------------------------------------------------------------- resizing as matrices (for the graphs)


def _resize_matrix(src: int, dst: int, mode: str) -> torch.Tensor:
    """(dst*dst, src*src): F.interpolate(mode) from src x src to dst x dst as a linear map on row-major maps,
    found by resizing every basis image (exact: F.interpolate is linear, borders included)."""
    basis = torch.eye(src * src, dtype=torch.float64).reshape(src * src, 1, src, src)
    kwargs = {"align_corners": False} if mode == "bicubic" else {}
    out = F.interpolate(basis, size=(dst, dst), mode=mode, **kwargs)
    return out.reshape(src * src, dst * dst).T.float().contiguous()


class ScaleResampler(nn.Module):
    """The VQVAE's resizing as fixed matrices: up{k} (G*G, p_k^2) for the bicubic upsampling of scale k < last,
    down{k} (p_k^2, G*G) for the area resizing of f_hat to scale k > 0. ONNX then sees MatMuls, not Resize nodes
    whose cubic and area variants onnxruntime would have to match PyTorch's border handling for."""

    def __init__(self, vae: VARVQVAE):
        super().__init__()
        self.vae = vae
        pn = vae.cfg.patch_nums
        self.patch_nums, self.grid = pn, pn[-1]
        for k, p in enumerate(pn[:-1]):
            self.register_buffer(f"up{k}", _resize_matrix(p, self.grid, "bicubic"))
        for k, p in enumerate(pn[1:], 1):
            self.register_buffer(f"down{k}", _resize_matrix(self.grid, p, "area"))

    def add_scale(self, f_hat: torch.Tensor, tokens: torch.Tensor, k: int) -> torch.Tensor:
        """f_hat (B, G*G, d) + Phi(scale k's tokens (B, p*p, d) upsampled), all in token layout."""
        b, d = tokens.shape[0], tokens.shape[2]
        if k < len(self.patch_nums) - 1:
            tokens = getattr(self, f"up{k}") @ tokens
        maps = tokens.transpose(1, 2).reshape(b, d, self.grid, self.grid)
        return f_hat + self.vae.phi(k)(maps).flatten(2).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """VARVQVAE.decode_latents with the matrices: latents (B, N, d) -> images (B, 3, H, W) in [-1, 1]."""
        starts = scale_starts(self.patch_nums)
        b, _, d = latents.shape
        f_hat = latents.new_zeros(b, self.grid * self.grid, d)
        for k in range(len(self.patch_nums)):
            f_hat = self.add_scale(f_hat, latents[:, starts[k] : starts[k + 1]], k)
        return self.vae.fhat_to_img(f_hat.transpose(1, 2).reshape(b, d, self.grid, self.grid))

    def next_scale_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """VARVQVAE.next_scale_inputs with the matrices, from the tokens' codebook vectors (B, N, d)."""
        starts = scale_starts(self.patch_nums)
        b, _, d = tokens.shape
        f_hat = tokens.new_zeros(b, self.grid * self.grid, d)
        inputs = []
        for k in range(len(self.patch_nums) - 1):
            f_hat = self.add_scale(f_hat, tokens[:, starts[k] : starts[k + 1]], k)
            inputs.append(getattr(self, f"down{k + 1}") @ f_hat)
        return torch.cat(inputs, 1)


# ---------------------------------------------------------------- expected key/shape tables

MODEL_CLASSES = {"student": VARDDStudent, "teacher": VARTeacher, "vae": VARVQVAE}


@lru_cache(maxsize=None)
def _expected(kind: str, cfg) -> tuple[tuple[str, tuple[int, ...]], ...]:
    model = MODEL_CLASSES[kind](cfg, device="meta")
    return tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())


def expected_shapes(kind: str, cfg) -> dict[str, tuple[int, ...]]:
    """The state_dict keys and shapes of `kind` ('student', 'teacher', 'vae') at `cfg`, from a 'meta' build
    (nothing is allocated, so the full d24 is as cheap as a test size). Buffers included: see
    recomputed_buffers."""
    return dict(_expected(kind, cfg))


def recomputed_buffers(kind: str, cfg) -> list[str]:
    """The keys of expected_shapes that are buffers this module recomputes (the level of each position, the
    attention mask, the always-zero key biases). An official file may or may not hold them; when it does, its
    values must be the recomputed ones."""
    if kind == "vae":
        return []
    return ["lvl_1L", "attn_bias_for_masking"] + [f"blocks.{i}.attn.zero_k_bias" for i in range(cfg.depth)]


def parameter_count(kind: str, cfg) -> int:
    """Parameters only (the recomputed buffers aside)."""
    skip = set(recomputed_buffers(kind, cfg))
    return sum(math.prod(shape) for key, shape in _expected(kind, cfg) if key not in skip)
