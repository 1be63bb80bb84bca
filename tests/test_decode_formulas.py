"""formulas.decode against a real decoder (pathcost.decoding): state bytes, step FLOPs, steps.

Each law sets the formula beside a measurement of a real Decoder run: the nbytes of the
tensors its state holds (measure.state_bytes), the FLOP counter on one real decode step
(measure.flops), and the longest chain of dependent products of the generation loop
(measure.longest_chain).
"""

import itertools
from dataclasses import replace

import pytest
import torch
from torch import nn

import pathcost as pc
from pathcost import models
from pathcost.decoding import Decoder
from pathcost.measure.steps import longest_chain

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


TRANSFORMERS = [
    pc.Transformer(8, heads, 16, layers, window=window, kv_heads=kv)
    for (heads, kv), layers, window in itertools.product(
        [(4, None), (4, 2), (4, 1), (2, 2)], [1, 2], [None, 1, 3, 20]
    )
]
CACHE_GRID = [  # (spec, batch, dtype): each decodes STEPS tokens, its cache checked after each
    (spec, 1 + i % 2, DTYPES[(i + i // 4) % len(DTYPES)]) for i, spec in enumerate(TRANSFORMERS)
]
STEPS = 7


def _states(spec, batch, dtype, steps=STEPS, attention="explicit"):
    """The states of a real decoder of `spec` after 0, 1, ..., steps tokens of a seeded input."""
    decoder = Decoder(models.seeded(spec, attention).to(dtype))
    generator = torch.Generator().manual_seed(1)
    x = torch.randn((batch, steps, spec.d_model), generator=generator, dtype=torch.float64)
    states = [decoder.start(batch)]
    for x_t in x.to(dtype).unbind(1):
        states.append(decoder.step(x_t, states[-1])[1])
    return states


def test_the_cache_grid_has_windows_kv_heads_and_every_dtype():
    assert len(CACHE_GRID) * (STEPS + 1) == 256  # configurations (spec, n, batch, dtype)
    assert {spec.group_size for spec, *_ in CACHE_GRID} == {1, 2, 4}
    assert {spec.window for spec, *_ in CACHE_GRID} == {None, 1, 3, 20}
    assert {(batch, dtype) for _, batch, dtype in CACHE_GRID} == set(
        itertools.product([1, 2], DTYPES)
    )


@pytest.mark.parametrize("spec, batch, dtype", CACHE_GRID, ids=repr)
def test_kv_cache_bytes_equal_the_real_cache_after_n_tokens(spec, batch, dtype):
    for n, state in enumerate(_states(spec, batch, dtype)):
        expected = pc.kv_cache_bytes(spec, n, batch, dtype)
        assert pc.measure.state_bytes(state) == expected, n
        assert pc.decode_state_bytes(spec, n, batch, dtype) == expected


@pytest.mark.parametrize("spec", TRANSFORMERS[::3], ids=repr)
def test_the_real_cache_keeps_exactly_the_rows_the_gradient_says_are_read(spec):
    states = _states(spec, 2, torch.float64, steps=5)
    for n in (1, 2, 5):  # two twins, no formula: the decoder's tensors and the gradient's rows
        x = torch.randn(2, n, spec.d_model, dtype=torch.float64)
        read = pc.measure.kv_cache_bytes(models.seeded(spec), x)
        assert pc.measure.state_bytes(states[n]) == read


OTHERS = [
    pc.RNN(6),
    pc.RNN(4, 3),
    pc.LSTM(6),
    pc.LSTM(4, 2),
    pc.CNN(6, 3, 2),
    pc.CNN(4, 2, 3, dilations=(1, 2, 4)),
    pc.CNN(4, 5, 2, dilations=(3, 1)),
    pc.CNN(4, 1, 2),
]
BEYOND = [  # "Beyond the four": a fixed-size state, no KV cache
    pc.LinearAttention(8, 2, 12, 1),
    pc.LinearAttention(8, 4, 8, 2, positional=True),
    pc.LinearAttention(6, 1, 4, 1),  # one head: S is d by d + 1
    pc.LinearRecurrence(6),
    pc.LinearRecurrence(4, 3, scan=True),  # a decoder steps the recurrence, scan or not
]


@pytest.mark.parametrize("spec", OTHERS + BEYOND, ids=repr)
def test_decode_state_bytes_equal_the_real_state_and_stay_constant_in_n(spec):
    for batch, dtype in [(1, torch.float32), (3, torch.float64), (2, torch.bfloat16)]:
        for n, state in enumerate(_states(spec, batch, dtype, steps=9)):
            expected = pc.decode_state_bytes(spec, n, batch, dtype)
            assert pc.measure.state_bytes(state) == expected, (n, batch, dtype)
            assert expected == pc.decode_state_bytes(spec, 1000, batch, dtype)  # constant in n


class _OneStep(nn.Module):
    """One decode step from a fixed state, as a module the FLOP counter can run."""

    def __init__(self, decoder, state):
        super().__init__()
        self.decoder, self.state = decoder, state

    def forward(self, x):
        return self.decoder.step(x, self.state)


STEP_SPECS = [
    *OTHERS[::2],
    pc.Transformer(8, 4, 16, 2),
    pc.Transformer(8, 4, 16, 1, kv_heads=2, window=3),
    pc.Transformer(8, 4, 24, 2, kv_heads=1, window=20, positional=True),
    pc.Transformer(8, 2, 16, 3, window=1),
    *BEYOND,
]
STEP_GRID = [
    (spec, n, 1 + i % 3, ("explicit", "sdpa")[i // 4 % 2])
    for i, (spec, n) in enumerate(itertools.product(STEP_SPECS, [0, 1, 2, 5, 9]))
]


def _decoding_architectures() -> set:
    """Every registered spec class but those that wrap another (a Hybrid never decodes)."""
    return {entry.spec for entry in pc.registry.ARCHITECTURES.values() if not entry.composite}


def test_the_step_grid_is_large_enough_and_covers_every_architecture_that_decodes():
    kinds = {type(spec) for spec, *_ in STEP_GRID}
    assert len(STEP_GRID) >= 50 and kinds == _decoding_architectures()
    assert {type(spec) for spec in OTHERS + BEYOND} | {pc.Transformer} == kinds
    assert {spec.scan for spec in BEYOND if isinstance(spec, pc.LinearRecurrence)} == {False, True}


@pytest.mark.parametrize("spec, n, batch, attention", STEP_GRID, ids=repr)
def test_decode_step_flops_equal_the_flop_counter_on_one_real_step(spec, n, batch, attention):
    decoder = Decoder(models.seeded(spec, attention))
    state = decoder(torch.randn(batch, n, spec.d_model, dtype=torch.float64))[1]
    x = torch.randn(batch, spec.d_model, dtype=torch.float64)
    measured = pc.measure.flops(_OneStep(decoder, state), x)
    assert measured == pc.decode_step_flops(spec, n, batch)


class _Generation(nn.Module):
    """The generation loop of n tokens from a first input, as a module longest_chain can run."""

    def __init__(self, decoder, n):
        super().__init__()
        self.decoder, self.n = decoder, n

    def forward(self, x):
        return self.decoder.generate(x[:, 0], self.n)


def _one_application(spec):
    """`spec` cut to its bottom layer: the unit of sequential steps (one layer or one cell)."""
    if getattr(spec, "dilations", None) is not None:
        return replace(spec, layers=1, dilations=spec.dilations[:1])
    return replace(spec, layers=1)


def _unit(spec):
    if isinstance(spec, pc.LinearRecurrence):  # a decoder steps the loop: at n = 1 a scan
        spec = replace(spec, scan=False)  # runs no transfer, the loop's one step runs one
    one = models.seeded(_one_application(spec))
    return longest_chain(one, models.seeded_input(1, spec.d_model))


CHAINS = [
    (pc.RNN(4, 2), 4),
    (pc.LSTM(4, 3), 3),
    (pc.CNN(4, 2, 3, dilations=(1, 2, 4)), 4),
    (pc.Transformer(4, 2, 8, 2, kv_heads=1), 3),
    (pc.Transformer(4, 2, 8, 3, window=1, positional=True), 4),
    (pc.LinearAttention(4, 2, 8, 2), 3),
    (pc.LinearAttention(4, 1, 4, 3, positional=True), 4),
    (pc.LinearRecurrence(4, 2), 4),
    (pc.LinearRecurrence(4, 3, scan=True), 5),
]


@pytest.mark.parametrize("spec, n", CHAINS, ids=repr)
def test_generation_steps_equal_the_longest_chain_of_the_generation_loop(spec, n):
    decoder, unit = Decoder(models.seeded(spec)), _unit(spec)
    chain = longest_chain(_Generation(decoder, n), models.seeded_input(1, spec.d_model), unit)
    assert chain == pc.generation_steps(spec, n)
    # decoding given inputs one at a time keeps the forward pass's chain: S = L or n + L - 1
    x = models.seeded_input(n, spec.d_model)
    if isinstance(spec, pc.LinearRecurrence):  # S counts transfers; a decoder always loops
        first = models.seeded_input(1, spec.d_model)
        transfers = longest_chain(_Generation(decoder, n), first, counting="transfers")
        assert transfers == pc.generation_steps(spec, n)  # one transfer per layer and token
        given = longest_chain(decoder, x, counting="transfers")
        assert given == pc.sequential_steps(replace(spec, scan=False), n) == n + spec.layers - 1
    else:
        assert longest_chain(decoder, x, unit) == pc.sequential_steps(spec, n)


def test_the_chains_cover_every_architecture_that_decodes():
    assert {type(spec) for spec, _ in CHAINS} == _decoding_architectures()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.decode_state_bytes(pc.CNN(4, 3, causal=False), 4), "spec"),
        (lambda: pc.decode_step_flops(pc.Transformer(8, 2, causal=False), 4), "spec"),
        (lambda: pc.generation_steps(pc.Transformer(8, 2, window=2, causal=False), 4), "spec"),
        (lambda: pc.decode_state_bytes(object(), 4), "spec"),
        (lambda: pc.decode_state_bytes(pc.RNN(4), -1), "n"),
        (lambda: pc.decode_step_flops(pc.LSTM(4), 2, batch=0), "batch"),
        (lambda: pc.decode_state_bytes(pc.LSTM(4), 2, dtype=torch.int8), "dtype"),
        (lambda: pc.generation_steps(pc.RNN(4), 0), "n"),
        (lambda: pc.kv_cache_bytes(pc.Transformer(8, 2), -1), "n"),
        (lambda: pc.kv_cache_rows(pc.RNN(4), 3), "spec"),
        (lambda: pc.decode_state_bytes(pc.Hybrid(1, pc.LSTM(4)), 4), "spec must not be a Hybrid"),
        (lambda: pc.decode_step_flops(pc.Hybrid(4, pc.RNN(4)), 4), "spec must not be a Hybrid"),
        (lambda: pc.generation_steps(pc.Hybrid(1, pc.CNN(4)), 4), "spec must not be a Hybrid"),
        (lambda: pc.kv_cache_bytes(pc.Hybrid(1, pc.Transformer(8, 2)), 4), "Hybrid"),
        (lambda: pc.kv_cache_bytes(pc.LinearAttention(8, 2), 4), "spec.*LinearAttention"),
        (lambda: pc.kv_cache_rows(pc.LinearRecurrence(4, scan=True), 4), "spec.*LinearRecurr"),
        (lambda: pc.decode_state_bytes(pc.LinearAttention(8, 2), -1), "n"),
        (lambda: pc.decode_step_flops(pc.LinearRecurrence(4), 2, batch=0), "batch"),
        (lambda: pc.decode_state_bytes(pc.LinearRecurrence(4), 2, dtype=torch.int8), "dtype"),
        (lambda: pc.generation_steps(pc.LinearAttention(8, 2), 0), "n"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
