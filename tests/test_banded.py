"""Banded local attention: the blocked window's output from only each query's own keys."""

import itertools

import pytest
import torch

import pathcost as pc
from pathcost import banded
from pathcost.bench import causal as probe
from pathcost.formulas import kernels


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny modules: on a shared 2-core machine one thread is about 50 times faster here."""
    with pc.runtime.threads(1):
        yield


CASES = list(itertools.product(
    [True, False],  # causal
    [(12, 4), (13, 4), (4, 4), (100, 7), (9, 1)],  # (n, w): multiple of w, not, w >= n
    [None, 1],  # kv_heads: multi-head, multi-query (grouped: 4 heads share one K, V head)
    ["explicit", "sdpa"],
))  # fmt: skip


@pytest.mark.parametrize("causal,shape,kv_heads,attention", CASES)
def test_banded_output_equals_the_blocked_window(causal, shape, kv_heads, attention):
    n, w = shape
    spec = pc.Transformer(8, 4, 16, 2, window=w, causal=causal, kv_heads=kv_heads)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        blocked = pc.build(spec, attention).double()
        torch.manual_seed(0)
        band = banded.banded(spec, attention).double()  # the same draws: the same weights
    x = pc.models.seeded_input(n, 8)
    torch.testing.assert_close(band(x), blocked(x), rtol=0, atol=1e-12)


MASKS = list(itertools.product([True, False], [1, 3, 16], [1, 5, 40]))


@pytest.mark.parametrize("causal,w,n", MASKS)
def test_the_band_mask_keeps_exactly_the_pairs_the_window_needs(causal, w, n):
    spec = pc.Transformer(16, 4, 24, 1, window=w, causal=causal)
    mask = banded.band_mask(n, w, causal)
    assert mask.shape == (n, 1, kernels.window_size(w, causal))
    assert int(torch.isfinite(mask).sum()) == kernels.window_scores(spec, n).needed
    assert mask.numel() == kernels.banded_scores(spec, n)


@pytest.mark.parametrize("causal", [True, False])
def test_poisoned_values_show_banded_reads_only_needed_keys_and_blocked_more(causal):
    n, w = 70, 8
    spec = pc.Transformer(4, 1, 8, 1, window=w, causal=causal)
    kernels_under_test = {
        "banded": banded.BandedSelfAttention(spec, "explicit"),
        "blocked": pc.models.SelfAttention(spec, "explicit"),
    }
    pairs = {
        name: sum(
            probe.readers(n, attend=lambda q, k, v, a=att: a.local(q, k, v, n), d_head=4).values()
        )  # fmt: skip
        for name, att in kernels_under_test.items()
    }
    scores = kernels.window_scores(spec, n)
    assert pairs["banded"] == scores.needed  # padding is not a real key: never poisoned
    assert scores.needed < pairs["blocked"] <= scores.scored


def test_banded_refuses_a_spec_without_a_window_and_an_unknown_kernel():
    with pytest.raises(ValueError, match="spec"):
        banded.banded(pc.Transformer(8, 2, 16, 1))
    with pytest.raises(ValueError, match="attention"):
        banded.banded(pc.Transformer(8, 2, 16, 1, window=2), "flash")
    with pytest.raises(ValueError, match="window"):
        banded.band_mask(4, 0, True)
    with pytest.raises(ValueError, match="causal"):
        banded.band_mask(4, 2, None)
