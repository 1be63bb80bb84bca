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


@pytest.mark.parametrize(
    "spec, n, attention", RECURRENT + CNNS + TRANSFORMERS + HYBRIDS, ids=repr
)
def test_measured_steps_equal_the_formula(spec, n, attention):
    assert pc.sequential_steps(spec, n) == sequential_steps(spec, n, attention)


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
    with pytest.raises(ValueError, match="cumsum"):
        longest_chain(Apply(lambda x, y: y.cumsum(0)), torch.randn(3, 4))


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
