"""Incremental decoding (pathcost.decoding) against one full causal forward of the same module.

The law: decoding n positions one at a time from an explicit state gives the outputs of
module(x) on all n at once, for every causal architecture, in float64 to rounding.
"""

import itertools

import pytest
import torch

import pathcost as pc
from pathcost import models
from pathcost.decoding import Decoder

N, BATCH = 11, 2
TOLERANCE = 1e-12  # float64: only the order of the sums differs

RECURRENT = [kind(6, layers) for kind in (pc.RNN, pc.LSTM) for layers in (1, 2, 3)]
CNNS = [
    pc.CNN(6, kernel=3, layers=1),
    pc.CNN(6, kernel=3, layers=3),
    pc.CNN(6, kernel=2, layers=3, dilations=(1, 2, 4)),  # doubling: reach 1 + 7 of 11
    pc.CNN(6, kernel=3, layers=3, dilations=(4, 1, 2)),  # a dilated bottom layer
    pc.CNN(6, kernel=5, layers=2, dilations=(3, 2)),  # buffers 12 and 8: longer than n
    pc.CNN(6, kernel=1, layers=2),  # no buffer at all
]
TRANSFORMERS = [
    (pc.Transformer(8, 4, 16, 1 + i % 3, window=w, kv_heads=kv, positional=pos), kernel)
    for i, (w, kv, pos, kernel) in enumerate(
        itertools.product(
            [None, 2, 5, 30],  # full; windows shorter than n (blocked) and longer than n
            [None, 4, 2, 1],  # kv_heads: multi-head (None and = heads), grouped, multi-query
            [False, True],  # positional encodings off and on
            ["explicit", "sdpa"],
        )
    )
]
BEYOND = [  # "Beyond the four": prefix sums and a diagonal recurrence, stepped from a state
    pc.LinearAttention(8, 2, 16, 1),
    pc.LinearAttention(8, 4, 12, 2, positional=True),
    pc.LinearAttention(6, 1, 8, 3),  # one head: S is d by d + 1
    *(pc.LinearRecurrence(6, layers, scan=scan) for scan in (False, True) for layers in (1, 3)),
]
CASES = [(spec, "explicit") for spec in RECURRENT + CNNS + BEYOND] + TRANSFORMERS


def _input(spec, n=N, batch=BATCH, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, n, spec.d_model), generator=generator, dtype=torch.float64)


def test_the_cases_cover_every_architecture_and_option():
    kinds = {type(spec) for spec, _ in CASES}  # all but a Hybrid, which wraps one of these
    assert kinds == {e.spec for e in pc.registry.ARCHITECTURES.values() if not e.composite}
    recurrences = {(s.scan, s.layers) for s in BEYOND if isinstance(s, pc.LinearRecurrence)}
    assert recurrences == set(itertools.product([False, True], [1, 3]))  # loop and scan
    specs = [spec for spec, _ in TRANSFORMERS]
    assert {s.window for s in specs} == {None, 2, 5, 30} and {s.layers for s in specs} == {1, 2, 3}
    assert {s.group_size for s in specs} == {1, 2, 4} and {s.positional for s in specs} == {0, 1}


@pytest.mark.parametrize("spec, attention", CASES, ids=repr)
def test_decoding_one_position_at_a_time_equals_the_full_causal_forward(spec, attention):
    module = models.seeded(spec, attention)
    x = _input(spec)
    decoded, state = Decoder(module)(x)
    torch.testing.assert_close(decoded, module(x), rtol=0, atol=TOLERANCE)
    assert state.position == N and len(state.layers) == spec.layers


RESUMED = [
    pc.LSTM(6, 2),
    pc.CNN(6, 3, 2, dilations=(2, 3)),
    pc.Transformer(8, 4, 16, 2, window=3, kv_heads=2, positional=True),
    pc.LinearAttention(8, 2, 16, 2, positional=True),
    pc.LinearRecurrence(6, 2, scan=True),
]


@pytest.mark.parametrize("spec", RESUMED, ids=repr)
def test_the_state_carries_everything_a_later_position_needs(spec):
    module, x = models.seeded(spec), _input(spec)
    decoder = Decoder(module)
    first, state = decoder(x[:, :4])
    rest, _ = decoder(x[:, 4:], state)  # resumed from the explicit state, positions 4 ... n - 1
    torch.testing.assert_close(torch.cat([first, rest], 1), module(x), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    "spec",
    [
        pc.RNN(6, 2),
        pc.CNN(6, 2, 3),
        pc.Transformer(8, 2, 16, 2),
        pc.LinearAttention(8, 2, 16, 2),
        pc.LinearRecurrence(6, 2, scan=True),
    ],
    ids=repr,
)
def test_generation_feeds_each_output_back_as_the_next_input(spec):
    module, x = models.seeded(spec), _input(spec, n=1)
    generated, state = Decoder(module).generate(x[:, 0], 6)
    inputs = torch.cat([x, generated[:, :-1]], dim=1)  # x_0, y_0, ..., y_4
    torch.testing.assert_close(generated, module(inputs), rtol=0, atol=TOLERANCE)
    assert state.position == 6


def test_the_decoder_uses_the_modules_own_weights():
    module = models.seeded(pc.Transformer(8, 4, 16, 2, kv_heads=2))
    decoder = Decoder(module)
    assert all(a is b for a, b in zip(decoder.parameters(), module.parameters(), strict=True))
    with torch.no_grad():
        module.layers[1].attn.out.bias.add_(1.0)  # a change to the module is the decoder's
    x = _input(pc.Transformer(8, 4, 16, 2))
    torch.testing.assert_close(decoder(x)[0], module(x), rtol=0, atol=TOLERANCE)


def test_a_windowed_cache_keeps_what_the_next_query_reads():
    spec = pc.Transformer(8, 4, 16, 1, window=3, kv_heads=1)
    decoder, x = Decoder(models.seeded(spec)), _input(spec)
    state = decoder.start(BATCH)
    for t in range(N):
        _, state = decoder.step(x[:, t], state)
        keys, values = state.layers[0]
        assert keys.shape == values.shape == (BATCH, 1, min(t + 1, 3), 2)


@pytest.mark.parametrize(
    "module, name",
    [
        (pc.build(pc.CNN(6, 3, 2, causal=False)), "causal"),
        (pc.build(pc.Transformer(8, 2, 16, 1, causal=False)), "causal"),
        (pc.build(pc.Transformer(8, 2, 16, 1, window=2, causal=False)), "causal"),
        (pc.downsampling.downsampled(pc.Transformer(8, 2, 16, 1), 2), "module"),
        (torch.nn.Linear(4, 4), "module"),
    ],
    ids=repr,
)
def test_a_module_that_cannot_decode_is_refused(module, name):
    with pytest.raises(ValueError, match=name):
        Decoder(module)


@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
@pytest.mark.parametrize("window", [None, 3])
def test_kv_heads_equal_to_heads_is_multi_head_attention(window, attention):
    plain = pc.Transformer(8, 4, 16, 2, window=window)
    same = pc.Transformer(8, 4, 16, 2, window=window, kv_heads=4)
    x = _input(plain)
    torch.testing.assert_close(
        models.seeded(same, attention)(x), models.seeded(plain, attention)(x), rtol=0, atol=0
    )


def test_bad_sizes_name_the_parameter():
    decoder = Decoder(pc.build(pc.RNN(4)))
    with pytest.raises(ValueError, match="batch"):
        decoder.start(0)
    with pytest.raises(ValueError, match="n"):
        decoder.generate(torch.randn(1, 4), -1)
