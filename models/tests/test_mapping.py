"""The teacher mapping (stage 4): deterministic, distributed as p, and the same batched or one at a time."""

import math

import numpy as np
import torch

from ddpipe.mapping import FlowSpec, flow_map, flow_map_support, shape_distribution

SPEC = FlowSpec(steps=48, r_min=0.05, r_max=300.0)


def unit_codebook(v: int, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(v, d, generator=g, dtype=torch.float64), dim=-1)


def chi_square_p_value(counts: np.ndarray, p: np.ndarray) -> float:
    """Pearson chi-square goodness of fit; bins with expected count < 5 are pooled. Wilson-Hilferty p-value."""
    expected = p * counts.sum()
    big = expected >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] < 5:
        obs, exp = obs[:-1], exp[:-1]
    stat = float(((obs - exp) ** 2 / exp).sum())
    dof = len(obs) - 1
    z = ((stat / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


def test_same_noise_same_token_always():
    book = unit_codebook(64)
    p = torch.softmax(torch.randn(5, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3, -1)
    eps = torch.randn(5, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    first = flow_map(p, book, eps, SPEC)
    for _ in range(3):
        assert torch.equal(flow_map(p, book, eps, SPEC), first)
    # A different p (another prefix) may change the token, but the same p and eps never do.
    assert torch.equal(flow_map(p.clone(), book.clone(), eps.clone(), SPEC), first)


def test_token_frequencies_match_p_over_100k_draws():
    v = 64
    book = unit_codebook(v, seed=3)
    g = torch.Generator().manual_seed(4)
    p = torch.softmax(torch.randn(v, generator=g, dtype=torch.float64) * 2.5, -1)
    n = 100_000
    eps = torch.randn(n, 8, generator=g, dtype=torch.float64)
    ids = flow_map(p.expand(n, v), book, eps, SPEC)
    counts = np.bincount(ids.numpy(), minlength=v)
    assert chi_square_p_value(counts, p.numpy()) > 0.001


def test_top_k_distribution_is_respected():
    v = 256
    book = unit_codebook(v, seed=5)
    logits = torch.randn(1, v, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 2
    p = shape_distribution(logits, None, 1.0, 1.0, top_k=32, top_p=1.0)[0]
    assert int((p > 0).sum()) == 32
    n = 100_000
    eps = torch.randn(n, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    ids = flow_map_support(p.expand(n, v), book, eps, SPEC)
    assert bool((p[ids] > 0).all()), "a token outside the top-k came out"
    assert chi_square_p_value(np.bincount(ids.numpy(), minlength=v), p.numpy()) > 0.001


def test_batch_equals_one_at_a_time():
    v = 128
    book = unit_codebook(v, seed=8)
    g = torch.Generator().manual_seed(9)
    p = torch.softmax(torch.randn(300, v, generator=g, dtype=torch.float64) * 2, -1)
    eps = torch.randn(300, 8, generator=g, dtype=torch.float64)
    batched = flow_map(p, book, eps, SPEC)
    single = torch.cat([flow_map(p[i : i + 1], book, eps[i : i + 1], SPEC) for i in range(300)])
    assert torch.equal(batched, single)
    # The support-only path gives the same tokens as the full computation.
    p_top = shape_distribution(torch.log(p), None, 1.0, 1.0, top_k=16, top_p=1.0)
    assert torch.equal(flow_map_support(p_top, book, eps, SPEC), flow_map(p_top, book, eps, SPEC))


def test_cfg_temperature_top_p_shape_the_distribution():
    cond = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    uncond = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    p = shape_distribution(cond, uncond, cfg_scale=2.0, temperature=1.0, top_k=0, top_p=1.0)
    expected = torch.softmax(torch.tensor([3.0, 1.0, -1.0, -3.0], dtype=torch.float64), -1)
    assert torch.allclose(p[0], expected)
    hot = shape_distribution(cond, None, 1.0, temperature=0.5, top_k=0, top_p=1.0)
    assert torch.allclose(hot[0], torch.softmax(torch.tensor([4.0, 2.0, 0.0, -2.0], dtype=torch.float64), -1))
    nucleus = shape_distribution(cond, None, 1.0, 1.0, top_k=0, top_p=0.5)
    assert int((nucleus[0] > 0).sum()) == 1
