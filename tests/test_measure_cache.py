"""KV cache bytes measured by gradient (measure.cache) against costs.kv_cache_bytes."""

import itertools

import pytest
import torch

import pathcost as pc
from pathcost import models
from pathcost.measure.cache import kv_cache_bytes

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
WINDOWS = [  # (window, n): the next query, at position n, reads keys n - w ... n
    (None, 5),  # full attention: the cache keeps all n
    (2, 7),  # window shorter than n: blocked local attention, the cache keeps w
    (1, 6),
    (3, 4),  # window + 1 == n: the cache keeps w = n - 1
    (4, 4),  # window == n: the cache keeps all n
    (5, 5),  # window == n: full attention
    (8, 3),  # window longer than n
]
SHAPES = [(1, 1, 1), (2, 2, 2), (3, 1, 2), (2, 2, 1)]  # (layers, batch, heads)
CASES = [
    (window, n, layers, batch, heads, None, DTYPES[(i + j) % len(DTYPES)], "explicit")
    for i, (window, n) in enumerate(WINDOWS)
    for j, (layers, batch, heads) in enumerate(SHAPES)
]
CASES += [
    (window, n, 2, 2, 2, None, dtype, "sdpa")
    for (window, n), dtype in zip(WINDOWS, DTYPES + DTYPES[:3])
]
CASES += [  # grouped-query and multi-query attention: K and V have kv_heads heads
    (window, n, 1 + i % 2, 1 + i % 3 // 2, 4, kv, DTYPES[i % len(DTYPES)], attention)
    for i, ((window, n), kv, attention) in enumerate(
        itertools.product(WINDOWS, [2, 1], ["explicit", "sdpa"])
    )
]


def measured(spec, n, batch, dtype, attention="explicit"):
    module = models.seeded(spec, attention).to(dtype)
    generator = torch.Generator().manual_seed(models.SEED)
    x = torch.randn((batch, n, spec.d_model), generator=generator, dtype=torch.float64)
    return kv_cache_bytes(module, x.to(dtype))


@pytest.mark.parametrize(
    "window, n, layers, batch, heads, kv_heads, dtype, attention", CASES, ids=repr
)
def test_measured_cache_equals_the_formula(
    window, n, layers, batch, heads, kv_heads, dtype, attention
):
    spec = pc.Transformer(4, heads, 8, layers, window=window, kv_heads=kv_heads)
    assert measured(spec, n, batch, dtype, attention) == pc.kv_cache_bytes(spec, n, batch, dtype)


@pytest.mark.parametrize("window", [None, 2])
def test_a_non_causal_module_is_refused_like_the_formula(window):
    spec = pc.Transformer(4, 2, 8, 1, window=window, causal=False)
    with pytest.raises(ValueError, match="causal"):
        measured(spec, 5, 1, torch.float64)
    with pytest.raises(ValueError, match="causal"):
        pc.kv_cache_bytes(spec, 5)


def test_bad_input_is_refused():
    x = torch.randn(1, 5, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="SelfAttention"):
        kv_cache_bytes(models.seeded(pc.LSTM(4)), x)
    with pytest.raises(ValueError, match="module"):
        kv_cache_bytes(lambda t: t, x)
