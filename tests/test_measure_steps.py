"""Sequential steps measured on the executed graph (measure.steps) against the formula."""

import pytest
import torch
from torch import nn

import pathcost as pc
from pathcost import models
from pathcost.measure.steps import longest_chain, sequential_steps

RECURRENT = [
    (architecture(4, layers), n, "explicit")
    for architecture in (pc.RNN, pc.LSTM)
    for layers in (1, 2, 3)
    for n in (1, 2, 5, 9)
]
CNNS = [
    (pc.CNN(4, kernel=3, layers=1), 1, "explicit"),
    (pc.CNN(4, kernel=3, layers=3), 7, "explicit"),
    (pc.CNN(4, kernel=2, layers=4, dilations=(1, 2, 4, 8)), 5, "explicit"),
    (pc.CNN(4, kernel=3, layers=3, dilations=(4, 1, 2)), 9, "explicit"),
    (pc.CNN(4, kernel=5, layers=2, causal=False), 6, "explicit"),
    (pc.CNN(4, kernel=3, layers=2, dilations=(1, 3), causal=False), 8, "explicit"),
]
TRANSFORMERS = [
    (pc.Transformer(4, heads, 8, layers, window=window, causal=causal), n, attention)
    for heads, layers, window, causal, n, attention in [
        (2, 1, None, True, 1, "explicit"),
        (2, 2, None, True, 7, "explicit"),
        (1, 3, None, False, 5, "explicit"),
        (2, 2, 2, True, 7, "explicit"),  # window shorter than n: blocked local attention
        (2, 3, 1, False, 6, "explicit"),
        (1, 2, 3, True, 4, "explicit"),  # window + 1 == n
        (2, 2, 8, False, 5, "explicit"),  # window longer than n: full attention
        (2, 2, None, True, 7, "sdpa"),  # the fused CPU kernel, causal
        (2, 1, None, False, 5, "sdpa"),
        (2, 2, 2, True, 7, "sdpa"),  # masked blocks: PyTorch's math fallback
    ]
]
TRANSFORMERS.append((pc.Transformer(4, 2, 8, 2, window=2, positional=True), 9, "explicit"))
TRANSFORMERS += [  # grouped-query and multi-query attention: K and V heads shared
    (pc.Transformer(8, 4, 16, 2, kv_heads=kv_heads), 6, attention)
    for kv_heads in (1, 2)
    for attention in ("explicit", "sdpa")
]


HYBRIDS = [  # the front end's one step, then the body's steps on ceil(n / s) tokens
    (pc.Hybrid(stride, then), n, attention)
    for stride, then, n, attention in [
        (4, pc.LSTM(4, 2), 9, "explicit"),
        (3, pc.RNN(4), 1, "explicit"),
        (1, pc.RNN(4, 3), 5, "explicit"),
        (2, pc.CNN(4, kernel=3, layers=3, dilations=(1, 2, 4)), 9, "explicit"),
        (3, pc.CNN(4, kernel=5, layers=2, causal=False), 8, "explicit"),
        (3, pc.Transformer(4, 2, 8, 2), 7, "explicit"),
        (3, pc.Transformer(4, 2, 8, 2), 7, "sdpa"),
        (2, pc.Transformer(4, 2, 8, 2, window=2), 11, "explicit"),
        (2, pc.Transformer(8, 4, 16, 1, kv_heads=2, positional=True), 6, "explicit"),
    ]
]
BEYOND = [  # "Beyond the four": linear attention, the linear recurrence by loop and by scan
    *((pc.LinearAttention(4, 2, 8, layers), n, "explicit") for layers in (1, 2, 3) for n in (1, 6)),
    (pc.LinearAttention(4, 2, 8, 2, positional=True), 9, "explicit"),  # positions: constants
    *(
        (pc.LinearRecurrence(4, layers, scan=scan), n, "explicit")
        for scan in (False, True)
        for layers in (1, 2, 3)
        for n in (1, 2, 3, 4, 5, 7, 9, 16, 17, 23, 33, 40)  # non-powers of two pad and crop
    ),
]


@pytest.mark.parametrize(
    "spec, n, attention", RECURRENT + CNNS + TRANSFORMERS + HYBRIDS + BEYOND, ids=repr
)
def test_measured_steps_equal_the_formula(spec, n, attention):
    assert pc.sequential_steps(spec, n) == sequential_steps(spec, n, attention)


def test_the_irregular_steps_of_a_stack_of_scans_are_measured():
    """Each layer pads to a power of two and crops, so a stack's S follows no simple form."""
    measured = {
        layers: [
            sequential_steps(pc.LinearRecurrence(2, layers, scan=True), n) for n in range(1, 10)
        ]
        for layers in (1, 2, 3)
    }
    assert measured == {
        1: [0, 1, 2, 2, 4, 4, 4, 4, 6],
        2: [0, 2, 4, 4, 6, 6, 7, 7, 10],
        3: [0, 3, 5, 6, 8, 8, 9, 10, 13],
    }


class Twice(nn.Module):
    """Two Linear layers, in sequence (b(a(x))) or side by side (a(x) + b(x))."""

    def __init__(self, sequence: bool):
        super().__init__()
        self.sequence, self.a, self.b = sequence, nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        return self.b(self.a(x)) if self.sequence else self.a(x) + self.b(x)


def test_products_in_sequence_chain_and_side_by_side_do_not():
    x = torch.randn(3, 5, 4)
    assert longest_chain(Twice(sequence=True), x) == 2
    assert longest_chain(Twice(sequence=False), x) == 1
    convs = nn.Sequential(nn.Conv1d(4, 4, 3, dilation=2), nn.Conv1d(4, 4, 2, stride=2))
    assert longest_chain(convs, torch.randn(2, 4, 11)) == 2


def test_a_barrier_between_layers_removes_the_wavefront():
    """Layer 2 started from layer 1's last state waits for all of layer 1: 2n, not n + 1."""
    module, n = models.seeded(pc.RNN(4, 2)), 5
    x = models.seeded_input(n, 4)
    assert longest_chain(module, x) == n + 1
    module.layers[1].initial_state = lambda inputs: (inputs[:, -1],)
    assert longest_chain(module, x) == 2 * n


class Apply(nn.Module):
    """A Linear layer, then `then` on its output."""

    def __init__(self, then):
        super().__init__()
        self.linear, self.then = nn.Linear(4, 4), then

    def forward(self, x):
        return self.then(x, self.linear(x))


def test_an_unknown_op_is_refused_by_name():
    with pytest.raises(ValueError, match="cumprod"):
        longest_chain(Apply(lambda x, y: y.cumprod(0)), torch.randn(3, 4))


class Prefix(nn.Module):
    """Position `deep` through three Linear layers, the others through one; a prefix sum over
    positions; then one more Linear layer on position `read` of the sums."""

    def __init__(self, deep: int, read: int):
        super().__init__()
        self.deep, self.read, self.a, self.b = deep, read, nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):  # x: (n, 4)
        rows = [self.a(row) for row in x.unbind(0)]
        rows[self.deep] = self.a(self.a(rows[self.deep]))
        return self.b(torch.stack(rows).cumsum(0)[self.read])


def test_a_prefix_sum_reads_every_earlier_position_and_adds_no_product():
    x = torch.randn(5, 4)
    assert longest_chain(Prefix(deep=0, read=4), x) == 4  # the sum at 4 reads position 0: 3 + 1
    assert longest_chain(Prefix(deep=4, read=0), x) == 3  # the sum at 0 reads no later position
    assert longest_chain(Prefix(deep=2, read=2), x) == 4


def test_an_in_place_op_that_changes_depths_is_refused():
    def overwrite(x, y):
        return x.clone().add_(y)  # the clone had depth 0; the product would make it 1

    with pytest.raises(ValueError, match="add_"):
        longest_chain(Apply(overwrite), torch.randn(3, 4))


def test_bad_input_is_refused():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="module"):
        longest_chain(lambda t: t, x)
    with pytest.raises(ValueError, match="x must"):
        longest_chain(nn.Linear(4, 4), [1.0] * 4)
    with pytest.raises(ValueError, match="products_per_step"):
        longest_chain(Twice(sequence=True), x, products_per_step=3)
    with pytest.raises(ValueError, match="n must"):
        sequential_steps(pc.RNN(4), 0)
