"""Executed attention products, kernel by kernel: every formula of formulas.kernels against a
measurement of the kernel it describes (the FLOP counter, the masks, NaN-poisoned values)."""

import functools
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


def _scored_by_tiles(n, q_tile, kv_tile) -> int:
    """Brute force over positions: query i runs key j's tile iff that tile starts before the
    end of i's tile (the end clipped to n). Knows nothing of the closed form's sums."""
    i, j = torch.arange(n).view(n, 1), torch.arange(n).view(1, n)
    tile_end = torch.clamp((i // q_tile + 1) * q_tile, max=n)
    return int(((j // kv_tile) * kv_tile < tile_end).sum())


TILES = list(itertools.product([1, 5, 64, 1000], [1, 3, 64, 512], [1, 2, 7, 300, 777, 1100]))


@pytest.mark.parametrize("n,q_tile,kv_tile", [(n, q, kv) for q, kv, n in TILES])
def test_tiled_causal_pairs_equal_the_pairs_enumerated_position_by_position(n, q_tile, kv_tile):
    assert kernels.tiled_causal_pairs(n, q_tile, kv_tile) == _scored_by_tiles(n, q_tile, kv_tile)


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000])
def test_causal_pairs_are_the_entries_a_causal_mask_keeps(n):
    kept = int(torch.ones(n, n).tril().sum())
    assert kernels.causal_pairs(n) == kept == kernels.tiled_causal_pairs(n, 1, 1)
    assert kernels.causal_pairs(n) <= kernels.tiled_causal_pairs(n, *kernels.cpu_flash_tiles(n))


@pytest.mark.parametrize("n", [100, 600, 800])
def test_the_cpu_flash_kernel_executes_the_tiled_count_measured_by_poisoned_values(n):
    # every key probed: the sum is the pairs whose A V product the real kernel ran
    assert _poisoned_pairs(n) == kernels.tiled_causal_pairs(n, *kernels.cpu_flash_tiles(n))


def test_the_cpu_flash_kernel_reads_each_key_from_its_query_tile_on():
    n = 1100  # query tiles of 256, key tiles of 512: keys either side of each tile edge
    keys = [0, 255, 256, 511, 512, 767, 1023, 1024, 1099]
    q_tile, kv_tile = kernels.cpu_flash_tiles(n)
    expected = {j: n - (j // kv_tile * kv_tile) // q_tile * q_tile for j in keys}
    assert probe.readers(n, keys) == expected
    assert (q_tile, kv_tile) == (256, 512)


def test_the_explicit_kernel_reads_every_key_for_every_query_measured():
    n = 50
    mask = torch.full((n, n), float("-inf")).triu(1)

    def explicit(q, k, v):
        return pc.models.Values()(pc.models.Scores()(q, k, mask), v)

    assert sum(probe.readers(n, attend=explicit).values()) == n * n


@functools.cache
def _poisoned_pairs(n) -> int:
    """The (query, key) pairs the CPU flash kernel ran at length n, every key probed."""
    return sum(probe.readers(n).values())


def _counted(module, n, d) -> dict:
    with torch.device("meta"):
        return pc.measure.flops_by_component(module(), torch.empty(1, n, d))


SPECS = [
    pc.Transformer(16, 4, 24, 2),
    pc.Transformer(16, 4, 24, 1, causal=False),
    pc.Transformer(16, 4, 24, 1, window=40),
    pc.Transformer(16, 4, 24, 2, window=3, causal=False),
    pc.Transformer(16, 4, 24, 1, kv_heads=2),
]


@pytest.mark.parametrize("spec,n", list(itertools.product(SPECS, [1, 33, 600, 4096])))
def test_explicit_execution_is_what_the_flop_counter_counts_on_build(spec, n):
    counts = _counted(lambda: pc.build(spec), n, spec.d_model)
    executed = kernels.executed_attention_flops(spec, n, 1, "explicit")
    assert executed == counts["scores"] + counts["values"]
    assert kernels.executed_forward_flops(spec, n, 1, "explicit") == sum(counts.values())


@pytest.mark.parametrize("spec,n", list(itertools.product(SPECS, [33, 600])))
def test_fused_execution_is_the_counted_products_or_the_poisoned_pairs(spec, n):
    counts = _counted(lambda: pc.build(spec, "sdpa"), n, spec.d_model)  # meta: no skipping
    executed = kernels.executed_forward_flops(spec, n, 1, "sdpa")
    if spec.causal and (spec.window is None or spec.window >= n):
        pairs = _poisoned_pairs(n)  # the real CPU kernel's executed pairs
        attention = 4 * spec.layers * spec.d_model * pairs
        assert executed == sum(counts.values()) - counts["fused"] + attention
        assert kernels.executed_attention_flops(spec, n, 1, "sdpa") == attention
    else:  # no causal mask, or blocks through the math fallback: everything counted runs
        assert executed == sum(counts.values())


@pytest.mark.parametrize("then", [pc.Transformer(16, 4, 24, 1), pc.Transformer(16, 4, 24, 2,
                                                                          causal=False)])
@pytest.mark.parametrize("stride,n", [(4, 600), (3, 100), (1, 33)])
def test_a_hybrids_transformer_body_executes_on_its_tokens(then, stride, n):
    spec = pc.Hybrid(stride, then)
    counts = _counted(lambda: pc.build(spec, "sdpa"), n, spec.d_model)  # meta: no skipping
    executed = kernels.executed_forward_flops(spec, n, 1, "sdpa")
    if then.causal:
        attention = 4 * then.layers * then.d_model * _poisoned_pairs(-(-n // stride))
        assert executed == sum(counts.values()) - counts["fused"] + attention
    else:
        assert executed == sum(counts.values())
    explicit = _counted(lambda: pc.build(spec), n, spec.d_model)
    assert kernels.executed_forward_flops(spec, n, 1, "explicit") == sum(explicit.values())


def test_executed_flops_scale_with_batch_and_leave_other_architectures_alone():
    spec = pc.Transformer(16, 4, 24, 2)
    one = kernels.executed_attention_flops(spec, 2048, 1, "sdpa")
    assert kernels.executed_attention_flops(spec, 2048, 3, "sdpa") == 3 * one
    for other in (pc.RNN(8), pc.LSTM(8), pc.CNN(8, 3, 2), pc.Hybrid(2, pc.LSTM(8))):
        executed = kernels.executed_forward_flops(other, 40, 2, "sdpa")
        assert executed == pc.forward_flops(other, 40, 2)


BEYOND = [pc.LinearAttention(16, 4, 24, 2), pc.LinearAttention(12, 1, 8, 1),
          pc.LinearRecurrence(16, 2), pc.LinearRecurrence(16, 2, scan=True),
          pc.LinearAttention(16, 2, 24, 1, positional=True)]  # fmt: skip


@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
@pytest.mark.parametrize("spec,n,batch", [(s, n, b) for s in BEYOND for n, b in [(1, 1), (3, 2),
                                                                             (33, 3)]], ids=repr)
def test_the_linear_models_execute_exactly_what_the_flop_counter_counts(spec, n, batch, attention):
    # no (query, key) pairs, so no causal tiles: either kernel runs the counted products
    with torch.device("meta"):
        counted = pc.measure.flops(pc.build(spec, attention), torch.empty(batch, n, spec.d_model))
    assert kernels.executed_forward_flops(spec, n, batch, attention) == counted > 0


class _OneTransfer(torch.nn.Module):
    """The real state transfer of ``linear.DiagonalRecurrence``, on a held state h_(t-1)."""

    def __init__(self, d, batch, dtype):
        super().__init__()
        self.recurrence = pc.linear.DiagonalRecurrence(d, parallel=False).to(dtype)
        self.register_buffer("h", torch.zeros(batch, d, dtype=dtype))
        self.register_buffer("a", self.recurrence.decays().detach())  # as the loop: once

    def forward(self, u):
        return self.recurrence.transfer(u, self.h, self.a)


@pytest.mark.parametrize("d,batch,dtype", [(1, 1, torch.float32), (8, 3, torch.float16),
                                           (64, 2, torch.bfloat16), (5, 4, torch.float64)])
def test_one_state_transfer_is_the_flops_and_bytes_of_its_addcmul_measured(d, batch, dtype):
    spec, module = pc.LinearRecurrence(d), _OneTransfer(d, batch, dtype)
    u = torch.randn(batch, d).to(dtype)
    assert kernels.state_transfer_flops(spec, batch) == pc.measure.flops(module, u)
    with pc.measure.traffic.TrafficCounter() as counter:
        module(u)
    assert [name for name, _ in counter.ops] == ["aten.addcmul"]
    assert kernels.state_transfer_bytes(spec, batch, dtype) == counter.total


@pytest.mark.parametrize("n,batch", [(1, 1), (7, 2), (33, 3)])
def test_the_loop_runs_n_transfers_and_every_level_of_the_scan_one_at_least(n, batch):
    d, dtype = 8, torch.float16
    for scan in (False, True):
        spec = pc.LinearRecurrence(d, scan=scan)
        module, x = pc.build(spec).to(dtype), torch.randn(batch, n, d).to(dtype)
        counts = pc.measure.flops_by_component(module, x)
        with torch.no_grad(), pc.measure.traffic.TrafficCounter() as counter:
            module(x)
        moved = [bytes for name, bytes in counter.ops if name == "aten.addcmul"]
        one = kernels.state_transfer_bytes(spec, batch, dtype)
        if not scan:  # n transfers, one after another, each exactly one
            assert moved == [one] * n
            assert counts["recurrent"] == n * kernels.state_transfer_flops(spec, batch)
        else:  # each level's combine covers at least one position of the state
            assert all(level >= one for level in moved)
            assert counts.get("recurrent", 0) >= len(moved) * kernels.state_transfer_flops(
                spec, batch)


@pytest.mark.parametrize("d_ff", [24, 256, 511, 600, 2048])
def test_causal_crossover_is_the_first_n_whose_executed_products_pass_the_ffn(d_ff):
    spec = pc.Transformer(64, 4, d_ff, 1)

    def wins(n, tiles=None):
        ffn = pc.forward_flops_by_component(spec, n)["ffn"]
        return kernels.executed_attention_flops(spec, n, 1, "sdpa", tiles) > ffn

    n = kernels.causal_crossover(spec)
    assert wins(n) and not wins(n - 1)
    assert d_ff < n <= 2 * d_ff
    stays = range(n, 3 * d_ff, 1 + d_ff // 64)  # and it stays won (the pairs alone: quicker)
    assert all(kernels.tiled_causal_pairs(m, *kernels.cpu_flash_tiles(m)) > m * d_ff for m in stays)
    ideal = kernels.causal_crossover(spec, tiles=(1, 1))
    assert ideal == 2 * d_ff and wins(ideal, (1, 1)) and not wins(ideal - 1, (1, 1))
    assert pc.attention_ffn_crossover(spec) == d_ff + 1  # the explicit kernel's, unchanged


def test_a_key_tile_as_long_as_the_sequence_skips_nothing():
    spec = pc.Transformer(64, 4, 300, 1)  # crossover below 512: one key tile, all of n^2
    assert kernels.causal_crossover(spec) == pc.attention_ffn_crossover(spec) == 301


@pytest.mark.parametrize("w,causal", list(itertools.product([1, 3, 16], [True, False])))
def test_window_size_is_the_keys_a_query_inside_the_sequence_sees_in_the_mask(w, causal):
    n = 8 * w
    rows = torch.isfinite(pc.models.window_mask(n, w, causal)).flatten(0, 1)  # (queries, keys)
    assert int(rows[4 * w].sum()) == kernels.window_size(w, causal)


WINDOWED = list(itertools.product([None, 1, 3, 40], [True, False], [1, 3, 40, 41, 100, 2048]))


@pytest.mark.parametrize("w,causal,n", WINDOWED)
def test_window_scores_are_the_masks_entries_and_its_finite_ones(w, causal, n):
    spec = pc.Transformer(16, 4, 24, 1, window=w, causal=causal)
    scores = kernels.window_scores(spec, n)
    if w is None or w >= n:
        mask = torch.ones(n, n).tril() if causal else torch.ones(n, n)
        assert scores == (n * n, int(mask.sum()))
    else:
        mask = pc.models.window_mask(n, w, causal)
        real = torch.isfinite(mask).flatten(0, 1)[:n]  # the padded queries past n dropped
        assert scores == (mask.numel(), int(real.sum()))
    counts = _counted(lambda: pc.build(spec), n, spec.d_model)
    assert 2 * spec.d_model * scores.scored == counts["scores"]
    assert scores.wasted == scores.scored - scores.needed >= 0


@pytest.mark.parametrize("w,causal,n", [c for c in WINDOWED if c[0] is not None])
def test_banded_scores_are_the_products_the_banded_module_runs(w, causal, n):
    spec = pc.Transformer(16, 4, 24, 2, window=w, causal=causal)
    counts = _counted(lambda: banded.banded(spec), n, spec.d_model)
    band = kernels.banded_scores(spec, n)
    if w < n:
        assert counts["scores"] == counts["values"] == 2 * 2 * spec.d_model * band
        assert band >= kernels.window_scores(spec, n).needed
    if n > w:  # padding past one end (causal) or two
        padding = (1 if causal else 2) * w * (w + 1) // 2
        assert band - kernels.window_scores(spec, n).needed == padding


def test_the_articles_window_numbers():
    n, spec = 2048, pc.Transformer(512, 8, 2048, 1, window=256)
    scored, needed = kernels.window_scores(spec, n)
    assert scored == n * 2 * 256  # 2w keys scored per query
    assert needed == n * 257 - 256 * 257 // 2  # w + 1 kept, fewer for the first w queries
    assert kernels.window_size(256, True) == 257


BAD = [
    (kernels.cpu_flash_tiles, dict(n=0), "n"),
    (kernels.causal_pairs, dict(n=-1), "n"),
    (kernels.tiled_causal_pairs, dict(n=4, q_tile=0, kv_tile=2), "q_tile"),
    (kernels.tiled_causal_pairs, dict(n=4, q_tile=2, kv_tile=1.5), "kv_tile"),
    (kernels.executed_attention_flops, dict(spec=pc.RNN(8), n=4), "spec"),
    (kernels.executed_attention_flops, dict(spec=BEYOND[0], n=4), "spec"),
    (kernels.executed_forward_flops, dict(spec=BEYOND[0], n=0), "n"),
    (kernels.executed_forward_flops, dict(spec=BEYOND[2], n=4, batch=0), "batch"),
    (kernels.causal_crossover, dict(spec=BEYOND[0]), "spec"),
    (kernels.window_scores, dict(spec=BEYOND[0], n=4), "spec"),
    (kernels.banded_scores, dict(spec=BEYOND[0], n=4), "spec"),
    (kernels.state_transfer_flops, dict(spec=pc.LSTM(8)), "spec"),
    (kernels.state_transfer_flops, dict(spec=BEYOND[2], batch=0), "batch"),
    (kernels.state_transfer_bytes, dict(spec=BEYOND[0]), "spec"),
    (kernels.state_transfer_bytes, dict(spec=BEYOND[3], batch=-1), "batch"),
    (kernels.state_transfer_bytes, dict(spec=BEYOND[3], dtype=torch.int8), "dtype"),
    (kernels.executed_attention_flops, dict(spec=SPECS[0], n=0), "n"),
    (kernels.executed_attention_flops, dict(spec=SPECS[0], n=4, batch=0), "batch"),
    (kernels.executed_attention_flops, dict(spec=SPECS[0], n=4, attention="flash"), "attention"),
    (kernels.executed_attention_flops, dict(spec=SPECS[0], n=4, tiles=(4,)), "tiles"),
    (kernels.executed_attention_flops, dict(spec=SPECS[0], n=4, tiles=(0, 4)), "q_tile"),
    (kernels.executed_forward_flops, dict(spec="gpt", n=4), "spec"),
    (kernels.executed_forward_flops, dict(spec=SPECS[0], n=4, attention="x"), "attention"),
    (kernels.causal_crossover, dict(spec=pc.CNN(8, 3, 1)), "spec"),
    (kernels.causal_crossover, dict(spec=SPECS[1]), "spec"),
    (kernels.causal_crossover, dict(spec=SPECS[2]), "spec"),
    (kernels.window_size, dict(window=0, causal=True), "window"),
    (kernels.window_size, dict(window=3, causal=1), "causal"),
    (kernels.window_scores, dict(spec=pc.LSTM(8), n=4), "spec"),
    (kernels.window_scores, dict(spec=SPECS[0], n=0), "n"),
    (kernels.banded_scores, dict(spec=SPECS[0], n=4), "spec"),
    (kernels.banded_scores, dict(spec=SPECS[2], n=0), "n"),
    (probe.readers, dict(n=0), "n"),
    (probe.readers, dict(n=4, keys=[4]), "key"),
    (probe.readers, dict(n=4, attend=None), "attend"),
    (probe.causal_saving, dict(n=64, d_model=10, heads=4), "d_model"),
    (probe.causal_saving, dict(n=64, rounds=0), "rounds"),
]


@pytest.mark.parametrize("fn,kwargs,name", BAD, ids=[f"{f.__name__}-{n}" for f, _, n in BAD])
def test_bad_input_is_refused_by_name(fn, kwargs, name):
    with pytest.raises(ValueError, match=name):
        fn(**kwargs)


def test_causal_saving_times_both_calls_and_reports_their_ratio():
    saving = probe.causal_saving(n=64, d_model=16, heads=2, min_run_time=0.001, rounds=2,
                                 threads=1)  # fmt: skip
    assert (saving.n, saving.threads, len(saving.ratios)) == (64, 1, 2)
    assert saving.device == str(pc.runtime.device())
    assert saving.causal.median > 0 and saving.full.median > 0 and saving.ratio > 0
