"""Axis 2: every cost formula against a measurement of the module pc.build(spec) makes."""

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

import pathcost as pc


def _transformers():
    grid = itertools.product(
        [16, 64],  # d_model
        [1, 4],  # heads
        [24, 96],  # d_ff
        [1, 2],  # layers
        [None, 3, 40],  # window
        [True, False],  # causal
        [1, 33, 1024, 65536],  # n
    )
    for index, (d, h, f, L, w, causal, n) in enumerate(grid):
        if index % 3 == 0:  # a third of the product: every value of every axis still occurs
            yield pc.Transformer(d, h, f, L, window=w, causal=causal), n, 1 + index % 2


def _grouped_transformers():  # kv_heads < heads: K and V narrower than Q
    grid = itertools.product(
        [(4, 2), (4, 1), (8, 2)],  # (heads, kv_heads): grouped and multi-query
        [None, 3, 40],  # window
        [True, False],  # causal
        [1, 33, 1024, 65536],  # n
    )
    for index, ((h, kv), w, causal, n) in enumerate(grid):
        yield pc.Transformer(64, h, 96, 1 + index % 2, window=w, causal=causal, kv_heads=kv), n, 1


def _cnns():
    shapes = [(3, 4, None), (2, 3, (1, 2, 4)), (5, 2, (2, 1)), (7, 1, None), (3, 3, (1, 1, 8))]
    for (k, L, dil), d, causal, n in itertools.product(
        shapes, [8, 32], [True, False], [1, 100, 65536]
    ):
        if causal or k % 2:
            yield pc.CNN(d, k, L, dilations=dil, causal=causal), n, 2


def _recurrences():  # recurrences loop over n in Python: small n (FLOPs are linear in n)
    for kind, d, L, n, B in itertools.product(
        [pc.RNN, pc.LSTM], [8, 24], [1, 2], [1, 9, 40], [1, 3]
    ):
        yield kind(d, L), n, B


def _hybrids():  # a strided convolution in front of each body; n not a multiple of every s
    bodies = [
        pc.LSTM(8, 2),
        pc.RNN(8),
        pc.CNN(8, 3, 2, dilations=(1, 2)),
        pc.CNN(8, 5, 2, causal=False),
        pc.Transformer(16, 4, 24, 2),
        pc.Transformer(16, 4, 24, 1, window=3, causal=False, kv_heads=2),
    ]
    for index, (then, stride, n) in enumerate(
        itertools.product(bodies, [1, 2, 5], [1, 7, 40, 65536])
    ):
        if n <= 40 or isinstance(then, (pc.CNN, pc.Transformer)):  # a recurrence loops in Python
            yield pc.Hybrid(stride, then), n, 1 + index % 2


def _linear_attentions():  # prefix sums over n: the meta device counts n = 65536 at no cost
    for index, ((d, h), f, L, n) in enumerate(
        itertools.product([(8, 1), (8, 2), (16, 4), (12, 12)], [12, 40], [1, 2], [1, 33, 65536])
    ):
        yield pc.LinearAttention(d, h, f, L, positional=index % 3 == 0), n, 1 + index % 2


def _linear_recurrences():  # the loop runs in Python: small n; the scan pads n to 2^m
    for scan, d, L, n, B in itertools.product(
        [False, True], [4, 8], [1, 2], [1, 2, 3, 5, 8, 9, 33], [1, 3]
    ):
        yield pc.LinearRecurrence(d, L, scan=scan), n, B
    for n in (1000, 1024, 1025, 65536):
        yield pc.LinearRecurrence(8, 2, scan=True), n, 2


GRID = [
    *_transformers(), *_grouped_transformers(), *_cnns(), *_recurrences(), *_hybrids(),
    *_linear_attentions(), *_linear_recurrences(),
]  # fmt: skip


def test_the_grid_is_large_and_covers_every_architecture():
    kinds = {type(spec) for spec, _, _ in GRID}
    registered = {entry.spec for entry in pc.registry.ARCHITECTURES.values()}
    assert len(GRID) >= 200 and kinds == registered
    assert max(n for _, n, _ in GRID) == 65536
    assert {spec.group_size for spec, _, _ in GRID if isinstance(spec, pc.Transformer)} == {
        1, 2, 4
    }  # fmt: skip


def _on_meta(spec, n, batch):
    with torch.device("meta"):
        return pc.build(spec), torch.empty(batch, n, spec.d_model)


def test_forward_flops_and_params_equal_the_flop_counter_on_the_whole_grid():
    mismatches = []
    for spec, n, batch in GRID:
        module, x = _on_meta(spec, n, batch)
        measured = pc.measure.flops(module, x)
        if measured != pc.forward_flops(spec, n, batch):
            mismatches.append((spec, n, batch, pc.forward_flops(spec, n, batch), measured))
        if sum(p.numel() for p in module.parameters()) != pc.params(spec):
            mismatches.append((spec, "params"))
    assert not mismatches


SMALL = [
    pc.RNN(8),
    pc.RNN(12, 3),
    pc.LSTM(8),
    pc.LSTM(12, 2),
    pc.CNN(8, 3, 3),
    pc.CNN(8, 5, 2, causal=False),
    pc.CNN(8, 2, 3, dilations=(1, 2, 4)),
    pc.Transformer(16, 4, 32, 2),
    pc.Transformer(16, 4, 32, 2, positional=True),
    pc.Transformer(16, 2, 24, 1, causal=False),
    pc.Transformer(16, 4, 32, 2, window=3),
    pc.Transformer(16, 2, 24, 1, window=2, causal=False),
    pc.Transformer(16, 4, 32, 2, kv_heads=2),  # grouped-query attention
    pc.Transformer(16, 4, 32, 1, kv_heads=1, positional=True),  # multi-query
    pc.Transformer(16, 4, 24, 1, kv_heads=2, causal=False),
    pc.Transformer(16, 4, 32, 2, window=3, kv_heads=1),
    pc.Transformer(16, 4, 24, 1, window=2, causal=False, kv_heads=2),
    pc.Hybrid(4, pc.LSTM(8, 2)),
    pc.Hybrid(3, pc.RNN(12)),
    pc.Hybrid(2, pc.CNN(8, 3, 2, dilations=(1, 2))),  # its body's conv adds to its own
    pc.Hybrid(1, pc.CNN(8, 5, 1, causal=False)),
    pc.Hybrid(3, pc.Transformer(16, 4, 32, 2)),
    pc.Hybrid(2, pc.Transformer(16, 4, 32, 1, window=2, kv_heads=2, positional=True)),
    pc.Hybrid(5, pc.Transformer(16, 2, 24, 1, causal=False)),
    pc.LinearAttention(8, 2, 12, 1),
    pc.LinearAttention(16, 4, 24, 2, positional=True),
    pc.LinearAttention(8, 1, 8, 1),  # one head: d_k = d
    pc.LinearRecurrence(8),
    pc.LinearRecurrence(8, 2, scan=True),  # n = 11 pads to 16 positions
    pc.LinearRecurrence(6, 3, scan=True),
]


@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
@pytest.mark.parametrize("spec", SMALL, ids=repr)
def test_flops_by_component_equal_the_counter_per_submodule(spec, attention):
    module, x = pc.build(spec, attention), torch.randn(2, 11, spec.d_model)
    measured = pc.measure.flops_by_component(module, x)
    if "fused" in measured:  # one kernel computes both products: compare their sum
        formula = pc.forward_flops_by_component(spec, 11, 2)
        assert measured.pop("fused") == formula.pop("scores") + formula.pop("values")
        assert measured == formula
    else:
        assert measured == pc.forward_flops_by_component(spec, 11, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
@pytest.mark.parametrize("spec", SMALL, ids=repr)
def test_activation_bytes_equal_the_bytes_autograd_saves(spec, attention, dtype):
    # CPU kernels: "explicit" saves the n^2 softmax; "sdpa" runs the CPU flash kernel
    for n, batch in [(1, 1), (7, 3), (19, 2)]:
        module = pc.build(spec, attention).to(dtype)
        x = torch.randn(batch, n, spec.d_model, dtype=dtype)
        expected = pc.activation_bytes(spec, n, batch, dtype, attention)
        assert pc.measure.saved_bytes(module, x) == expected, (n, batch)


def test_fused_kernel_saves_linear_memory_and_the_explicit_path_quadratic():
    spec = pc.Transformer(16, 4, 32, 1)
    grow = {
        kernel: pc.measure.saved_bytes(pc.build(spec, kernel), torch.randn(1, 256, 16))
        - pc.measure.saved_bytes(pc.build(spec, kernel), torch.randn(1, 128, 16))
        for kernel in ("explicit", "sdpa")
    }
    weights = pc.attention_weights_bytes(256, 4, dtype=torch.float32)
    assert grow["explicit"] - grow["sdpa"] > weights // 2  # the n^2 term is the difference


def test_windowed_attention_equals_dense_attention_under_a_band_mask():
    torch.manual_seed(0)
    for causal in (True, False):
        spec = pc.Transformer(16, 2, 32, 1, window=3, causal=causal)
        attn = pc.build(spec).layers[0].attn
        x = torch.randn(2, 13, 16)
        q, k, v = attn.qkv(x).view(2, 13, 3, 2, 8).permute(2, 0, 3, 1, 4)
        offset = torch.arange(13).view(-1, 1) - torch.arange(13).view(1, -1)  # query - key
        seen = (offset.abs() <= 3) & ((offset >= 0) if causal else True)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~seen, float("-inf"))
        dense = attn.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 13, 16))
        torch.testing.assert_close(attn(x), dense)


def test_the_article_numbers_recomputed():
    mib = 2**20
    assert pc.attention_weights_bytes(2048, heads=8, batch=4) == 256 * mib  # the article: 512
    assert pc.attention_weights_bytes(2048, heads=1) == 8 * mib
    assert pc.costs.weights_max_seq_len(8 * 2**30, heads=8, batch=2) == 16384
    assert pc.attention_ffn_crossover(pc.Transformer(512, 8, 2048, 6)) == 2049  # not 4096
    kv = pc.kv_cache_bytes(pc.Transformer(512, 8, 2048, 6), 4096, batch=1)
    assert kv == 2 * 6 * 4096 * 512 * 2  # 48 MiB with K and V in 6 layers; one tensor is 4 MiB
    grouped = pc.kv_cache_bytes(pc.Transformer(512, 8, 2048, 6, kv_heads=2), 4096, batch=1)
    assert grouped == kv // 4  # 2 of 8 K, V heads: a quarter of the cache


@pytest.mark.parametrize(
    "spec",
    [
        pc.Transformer(64, 4, 256, 1),
        pc.Transformer(64, 4, 30, 1, window=8),
        pc.Transformer(64, 4, 300, 1, window=8),
        pc.Transformer(64, 4, 40, 1, window=16, causal=False),
    ],
    ids=repr,
)
def test_attention_ffn_crossover_is_the_first_n_where_measured_attention_wins(spec):
    def attention_wins(n):
        module, x = _on_meta(spec, n, 1)
        parts = pc.measure.flops_by_component(module, x)
        return parts["scores"] + parts["values"] > parts["ffn"]

    crossover = pc.attention_ffn_crossover(spec)
    if crossover == math.inf:
        assert not any(attention_wins(n) for n in range(1, 400))
    else:
        assert attention_wins(crossover) and not any(map(attention_wins, range(1, crossover)))


def test_korthikanti_estimate_as_published():
    # s b h (34 + 5 a s / h) for s = 2048, b = 1, h = 1024, a = 16, one layer (their Eq. 2)
    spec = pc.Transformer(1024, 16, 4096, 1)
    assert pc.costs.korthikanti_activation_bytes(spec, 2048) == 2048 * 1024 * (34 + 5 * 16 * 2)
    deeper = pc.Transformer(1024, 16, 4096, 24)
    assert pc.costs.korthikanti_activation_bytes(deeper, 2048, 2) == 48 * 2048 * 1024 * 194
    with pytest.raises(ValueError, match="spec"):
        pc.costs.korthikanti_activation_bytes(pc.LSTM(8), 16)


@given(n=st.integers(1, 10**5), heads=st.integers(1, 64), batch=st.integers(1, 64))
def test_attention_weights_quadruple_when_n_doubles(n, heads, batch):
    assert pc.attention_weights_bytes(2 * n, heads, batch) == 4 * pc.attention_weights_bytes(
        n, heads, batch
    )


@given(d=st.integers(1, 512), layers=st.integers(1, 4), n=st.integers(1, 10**5))
def test_recurrent_flops_are_linear_in_n_and_lstm_is_four_rnns(d, layers, n):
    rnn, lstm = pc.RNN(d, layers), pc.LSTM(d, layers)
    assert pc.forward_flops(rnn, 2 * n) == 2 * pc.forward_flops(rnn, n)
    assert pc.forward_flops(lstm, 2 * n) == 2 * pc.forward_flops(lstm, n)
    assert pc.forward_flops(lstm, n) == 4 * pc.forward_flops(rnn, n)


@given(kernel=st.integers(2, 9), layers=st.integers(1, 20))
def test_receptive_field_linear_in_layers_exponential_with_doubling_dilations(kernel, layers):
    plain = pc.CNN(1, kernel, layers)
    doubled = pc.CNN(1, kernel, layers, dilations=[2**i for i in range(layers)])
    assert pc.receptive_field(plain) == 1 + (kernel - 1) * layers
    assert pc.receptive_field(doubled) == 1 + (kernel - 1) * (2**layers - 1)


@given(
    budget=st.integers(1, 2**40),
    heads=st.integers(1, 32),
    batch=st.integers(1, 8),
    dtype=st.sampled_from(tuple(pc.registry.DTYPES.values())),
    overhead=st.sampled_from([1.0, 1.5, 4, 8.0]),
)
def test_max_seq_len_inverts_attention_weights_bytes(budget, heads, batch, dtype, overhead):
    def fits(n):
        return pc.attention_weights_bytes(n, heads, batch, dtype) * overhead <= budget

    if not fits(1):
        with pytest.raises(ValueError, match="budget_bytes"):
            pc.costs.weights_max_seq_len(budget, heads, batch, dtype, overhead)
        return
    n = pc.costs.weights_max_seq_len(budget, heads, batch, dtype, overhead)
    assert fits(n) and not fits(n + 1)


class _AnyTensorOp(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        return func(*args, **(kwargs or {}))


def test_estimators_do_no_tensor_work():
    spec = pc.Transformer(512, 8, 2048, 6)
    calls = [
        lambda: pc.forward_flops(spec, 4096, 4),
        lambda: pc.activation_bytes(spec, 4096, 4, torch.float16),
        lambda: pc.kv_cache_bytes(spec, 4096),
        lambda: pc.costs.weights_max_seq_len(8 * 2**30, 8, 2),
        lambda: pc.attention_ffn_crossover(spec),
        lambda: pc.params(spec),
        lambda: pc.decode_state_bytes(spec, 4096, 4),
        lambda: pc.decode_step_flops(spec, 4096, 4),
        lambda: pc.generation_steps(spec, 4096),
    ]
    for beyond in (pc.LinearAttention(512, 8, 2048, 6), pc.LinearRecurrence(512, 6, scan=True)):
        calls += [
            lambda spec=beyond: pc.forward_flops(spec, 4097, 4),
            lambda spec=beyond: pc.activation_bytes(spec, 4097, 1, torch.bfloat16),
            lambda spec=beyond: pc.params(spec),
            lambda spec=beyond: pc.decode_state_bytes(spec, 4096, 4),
            lambda spec=beyond: pc.decode_step_flops(spec, 4096, 4),
        ]
    with _AnyTensorOp() as mode:
        for call in calls:
            call()
    assert mode.ops == []


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.forward_flops(pc.RNN(4), 0), "n"),
        (lambda: pc.forward_flops(pc.RNN(4), 4, batch=0), "batch"),
        (lambda: pc.attention_weights_bytes(16, 8, dtype=torch.int8), "dtype"),
        (lambda: pc.attention_weights_bytes(16, 8, dtype="fp16"), "dtype"),
        (lambda: pc.attention_weights_bytes(16, 0), "heads"),
        (lambda: pc.activation_bytes(pc.RNN(4), 4, attention="flash"), "attention"),
        (lambda: pc.kv_cache_bytes(pc.LSTM(4), 16), "spec"),
        (lambda: pc.kv_cache_bytes(pc.Transformer(8, 2, causal=False), 16), "spec"),
        (lambda: pc.kv_cache_bytes(pc.LinearAttention(8, 2), 16), "spec.*LinearAttention"),
        (lambda: pc.kv_cache_rows(pc.LinearRecurrence(8), 16), "spec.*LinearRecurrence"),
        (lambda: pc.activation_bytes(pc.LinearRecurrence(4), 4, attention="flash"), "attention"),
        (lambda: pc.forward_flops(pc.LinearRecurrence(4, scan=True), 0), "n"),
        (lambda: pc.costs.weights_max_seq_len(100, 8, overhead=0), "overhead"),
        (lambda: pc.costs.weights_max_seq_len(1, 8), "budget_bytes"),
        (lambda: pc.attention_ffn_crossover(pc.CNN(4)), "spec"),
        (lambda: pc.build(pc.RNN(4), attention="flash"), "attention"),
        (lambda: pc.params(object()), "spec"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
