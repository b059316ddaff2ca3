"""Stage 4, the heart of DD: a deterministic map from Gaussian noise to the teacher's next token.

For one position the teacher gives a categorical distribution p over codebook vectors c_j. Flow matching on the
straight path x_t = (1 - t) eps + t c (t = 0 noise, t = 1 data) has, for that discrete target, the exact posterior
w_j(x, t) = softmax_j( log p_j - |x - t c_j|^2 / (2 (1 - t)^2) ), posterior mean chat = sum_j w_j c_j and
velocity (chat - x) / (1 - t). Integrating from x(0) = eps carries the Gaussian onto the codebook; the token is
the argmax of w at the end. If eps ~ N(0, I) the tokens follow p, and the same eps always gives the same token.

We integrate in better-behaved variables: with r = t / (1 - t) and y = x / (1 - t) the ODE becomes

    dy/dr = chat,   w_j = softmax_j( log p_j + r y.c_j - r^2 |c_j|^2 / 2 ),   y(0) = eps,

so y is eps plus the integral of a bounded, smooth function. The grid is r_0 = 0, then `steps` points spaced
geometrically from r_min to r_max (the posterior decides over a range of r spanning decades). The solver is
two-step Adams-Bashforth on that grid (Euler for the first step); the token is the argmax of w at r_max.
Everything runs in float64 so that batching cannot change a token. These settings are part of a pack's manifest
("flow"), because the app's exact-teacher mode repeats this computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SOLVER_NAME = "ab2-snr"


@dataclass(frozen=True)
class FlowSpec:
    steps: int
    r_min: float
    r_max: float

    def grid(self) -> list[float]:
        ratio = self.r_max / self.r_min
        return [0.0] + [self.r_min * ratio ** (k / (self.steps - 1)) for k in range(self.steps)]

    def manifest(self) -> dict:
        return {
            "solver": SOLVER_NAME,
            "steps": self.steps,
            "rMin": self.r_min,
            "rMax": self.r_max,
            "schedule": "r_0 = 0, r_k = rMin * (rMax/rMin)^((k-1)/(steps-1)) for k = 1..steps; r = t/(1-t)",
            "dtype": "float64",
        }


def shape_distribution(
    cond_logits: torch.Tensor,
    uncond_logits: torch.Tensor | None,
    cfg_scale: float,
    temperature: float,
    top_k: int,
    top_p: float,
) -> torch.Tensor:
    """Teacher logits -> the probabilities the map targets (float64): CFG, then temperature, top-k, top-p."""
    logits = cond_logits.double()
    if uncond_logits is not None and cfg_scale != 1.0:
        u = uncond_logits.double()
        logits = u + cfg_scale * (logits - u)
    logits = logits / max(temperature, 1e-6)
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Keep the smallest prefix whose mass reaches top_p (the most likely token always stays).
        drop_sorted = (probs.cumsum(-1) - probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return torch.softmax(logits, dim=-1)


def _dots(y: torch.Tensor, book: torch.Tensor) -> torch.Tensor:
    """y (B, d) against a shared book (V, d) or per-row books (B, V, d) -> (B, V)."""
    return y @ book.T if book.dim() == 2 else torch.bmm(book, y[:, :, None])[:, :, 0]


def _logits(logp: torch.Tensor, y: torch.Tensor, book: torch.Tensor, sq_norms: torch.Tensor, r: float) -> torch.Tensor:
    return logp + r * _dots(y, book) - (0.5 * r * r) * sq_norms


def _posterior_mean(logp, y, book, sq_norms, r) -> torch.Tensor:
    w = torch.softmax(_logits(logp, y, book, sq_norms, r), dim=-1)
    return w @ book if book.dim() == 2 else torch.bmm(w[:, None, :], book)[:, 0]


def flow_map(p: torch.Tensor, book: torch.Tensor, eps: torch.Tensor, spec: FlowSpec) -> torch.Tensor:
    """p (B, V), book (V, d) or (B, V, d), eps (B, d) -> token ids (B,). Deterministic; float64 throughout."""
    p = p.double()
    book = book.double()
    y = eps.double()
    logp = torch.log(p)  # zeros (top-k/top-p) become -inf and get exactly zero weight
    sq_norms = (book * book).sum(-1)
    grid = spec.grid()
    prev_r, prev_c = 0.0, None
    for k in range(len(grid) - 1):
        r, r_next = grid[k], grid[k + 1]
        h = r_next - r
        c = _posterior_mean(logp, y, book, sq_norms, r)
        if prev_c is None:
            y = y + h * c
        else:
            # Adams-Bashforth 2 with variable steps: extrapolate chat linearly from the last two evaluations.
            y = y + h * (c + (c - prev_c) * (h / (2.0 * (r - prev_r))))
        prev_r, prev_c = r, c
    return _logits(logp, y, book, sq_norms, grid[-1]).argmax(-1)


def flow_map_support(p: torch.Tensor, book: torch.Tensor, eps: torch.Tensor, spec: FlowSpec) -> torch.Tensor:
    """The same map, computed only over the codes with p > 0 (after top-k there are few): same tokens, less work.

    Codes with p = 0 get exactly zero weight in every softmax, so leaving them out changes nothing but rounding.
    """
    support = int((p > 0).sum(-1).max().item())
    if support >= p.shape[-1] // 2:
        return flow_map(p, book, eps, spec)
    p_top, idx = torch.topk(p, support, dim=-1)
    choice = flow_map(p_top, book.double()[idx], eps, spec)
    return idx.gather(-1, choice[:, None])[:, 0]
