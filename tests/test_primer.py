"""The primer's pictures and its order measurement, each against an independent route.

The cell drawings name the submodules that the real modules of ``build(spec)`` have; the
routing graph draws as many hop segments as the closed-form path length counts; the
permutation gap is zero exactly where symmetry says it must be.
"""

import math
import re

import matplotlib
import pytest
import torch

import pathcost as pc

matplotlib.use("Agg")

SPECS = {  # one small spec per architecture the primer draws, by registry name
    "rnn": pc.RNN(8),
    "lstm": pc.LSTM(8),
    "cnn": pc.CNN(8, kernel=3, layers=2),
    "transformer": pc.Transformer(8, heads=2, d_ff=32, layers=1),
}

NOTATION = {  # what the primer's prose and the later chapters call each part
    "rnn": ["input", "recurrent", "W_x x(t) + b_x", "W_h h(t-1)", "tanh", "h(t)", "not a hop"],
    "lstm": ["input", "recurrent", "i(t) = σ", "f(t) = σ", "g(t) = tanh", "o(t) = σ", "⊙",
             "c(t-1)", "c(t)"],
    "cnn": ["conv", "t-(k-1) .. t", "dilation 1", "dilation 2", "GELU", "W_0"],
    "transformer": ["norm1", "qkv", "softmax(QKᵀ / √d_k)", "A V", "out", "residual", "ffn",
                    "LayerNorm", "attn"],
}  # fmt: skip


def texts(ax, gid=None):
    return [t.get_text() for t in ax.texts if gid is None or t.get_gid() == gid]


def test_every_single_architecture_has_a_drawing():
    assert set(SPECS) == set(pc.registry.single_architectures())


@pytest.mark.parametrize("arch", SPECS)
def test_the_drawing_names_every_submodule_of_the_real_module(arch):
    ax = pc.plots.draw_cell(arch)
    parts = texts(ax, "part")
    names = {
        name.rsplit(".", 1)[-1] for name, _ in pc.build(SPECS[arch]).named_modules() if name
    } - {"layers"}
    names = {name for name in names if not name.isdigit()}  # Sequential's 0, 1, 2
    assert names, "the module has named parts"
    missing = [n for n in names if not any(re.search(rf"\b{n}\b", p) for p in parts)]
    assert not missing, f"{arch}: no box names {missing}"
    matplotlib.pyplot.close(ax.figure)


@pytest.mark.parametrize("arch", SPECS)
def test_the_drawing_uses_the_books_notation(arch):
    ax = pc.plots.draw_cell(arch)
    drawn = "\n".join(texts(ax))
    assert [label for label in NOTATION[arch] if label not in drawn] == []
    matplotlib.pyplot.close(ax.figure)


def test_an_unknown_architecture_is_refused_by_name():
    with pytest.raises(ValueError, match="arch"):
        pc.plots.draw_cell("gru")


ROUTED = [
    pc.RNN(8),
    pc.RNN(8, layers=2),
    pc.LSTM(8),
    pc.CNN(8, kernel=3, layers=2),
    pc.CNN(8, kernel=3, layers=2, causal=False),
    pc.CNN(8, kernel=2, layers=3, dilations=(1, 2, 4)),
    pc.Transformer(8, heads=2, d_ff=16, layers=1),
    pc.Transformer(8, heads=2, d_ff=16, layers=2, window=2, causal=False),
    pc.Hybrid(2, pc.RNN(8)),
]


def segments(ax, gid):
    return [tuple(zip(*line.get_data())) for line in ax.lines if line.get_gid() == gid]


@pytest.mark.parametrize("spec", ROUTED, ids=pc.registry.label)
def test_the_routing_graph_draws_one_numbered_segment_per_hop(spec):
    n, i = 6, 1
    for j in range(n):
        ax = pc.plots.draw_routing_graph(spec, n, i, j)
        L = pc.paths.path_length_between(spec, i, j)  # the closed form, not the search drawn
        hops = segments(ax, "hop")
        if L == math.inf:
            assert hops == [] and "unreachable" in ax.get_title()
        else:
            assert len(hops) == L, f"x{i + 1} to {j + 1}: {len(hops)} segments, L = {L}"
            assert texts(ax, "hop number") == [str(k) for k in range(1, L + 1)]
            assert f"L = {L} hop" in ax.get_title()
            # hops and dashed non-hops join into one route from x_i up to position j
            route = sorted(hops + segments(ax, "no hop"), key=lambda s: (s[0][1], s[0][0]))
            ends = {s[0] for s in route}  # the start point of every segment
            starts = [s for s in route if s[0] not in {t[1] for t in route}]
            assert len(starts) == 1 and starts[0][0] == (i + 1, 0)
            node, walked = starts[0][0], 0
            while node in ends:
                node = next(s[1] for s in route if s[0] == node)
                walked += 1
            assert walked == len(route) and node[0] == j + 1
        matplotlib.pyplot.close(ax.figure)


@pytest.mark.parametrize("spec,n,i,j", [
    (pc.CNN(8, kernel=3, layers=2, causal=False), 4, 0, 3),
    (pc.CNN(8, kernel=3, layers=2, dilations=(1, 2), causal=False), 8, 0, 7),
    (pc.Transformer(8, heads=2, d_ff=16, layers=1, window=2), 8, 2, 7),
    (pc.RNN(8), 5, 3, 1),
])  # fmt: skip
def test_an_unreachable_pair_rings_exactly_the_positions_the_input_reaches(spec, n, i, j):
    ax = pc.plots.draw_routing_graph(spec, n, i, j)
    (rings,) = [c for c in ax.collections if c.get_gid() == "reached"]
    ringed = {int(round(x)) for x, _ in rings.get_offsets()}
    reached = {p + 1 for p in range(n) if pc.paths.path_length_between(spec, i, p) < math.inf}
    assert ringed == reached and j + 1 not in reached
    assert f"reaches position{'s' if len(reached) > 1 else ''} {min(reached)}" in ax.get_title()
    matplotlib.pyplot.close(ax.figure)


X = pc.models.seeded_input(7, 8)
SHUFFLE = [4, 0, 6, 2, 1, 5, 3]


def gap(spec, x=X, permutation=SHUFFLE):
    return pc.measure.permutation_gap(pc.models.seeded(spec), x, permutation)


@pytest.mark.parametrize("layers", [1, 3])
def test_attention_without_positions_or_mask_is_blind_to_order(layers):
    encoder = pc.Transformer(8, heads=2, d_ff=16, layers=layers, causal=False)
    assert gap(encoder) < 1e-12  # float64: only rounding
    assert gap(encoder, permutation=list(reversed(range(7)))) < 1e-12


@pytest.mark.parametrize("spec", [
    pc.Transformer(8, heads=2, d_ff=16, layers=1, causal=False, positional=True),
    pc.Transformer(8, heads=2, d_ff=16, layers=1),  # causal, no positions
    pc.RNN(8),
    pc.LSTM(8),
    pc.CNN(8, kernel=3, layers=2),
], ids=pc.registry.label)  # fmt: skip
def test_positions_a_mask_a_recurrence_or_a_kernel_break_the_symmetry(spec):
    assert gap(spec) > 1e-3


def test_a_causal_layer_sees_the_set_of_earlier_tokens_and_two_layers_see_their_order():
    swap = [1, 0, 2, 3, 4, 5, 6]  # exchange the first two tokens
    one, two = (pc.models.seeded(pc.Transformer(8, 2, 16, layers)) for layers in (1, 2))
    later_one = pc.measure.permutation_gaps(one, X, swap)[2:]
    later_two = pc.measure.permutation_gaps(two, X, swap)[2:]
    assert later_one.max() < 1e-12  # positions 3.. read the same set {x1, x2, ...} in one hop
    assert later_two.min() > 1e-6  # layer 2 reads layer 1's outputs at 1 and 2, which differ


def test_the_identity_permutation_changes_nothing():
    for spec in SPECS.values():
        assert gap(spec, permutation=range(7)) == 0


@pytest.mark.parametrize("call,name", [
    (lambda: pc.measure.permutation_gap(pc.build(pc.RNN(8)), X.float(), [0, 1]), "permutation"),
    (lambda: pc.measure.permutation_gap(pc.build(pc.RNN(8)), X.float(), [0] * 7), "permutation"),
    (lambda: pc.measure.permutation_gap(pc.build(pc.RNN(8)), X.float(), 3), "permutation"),
    (lambda: pc.measure.permutation_gap(pc.build(pc.RNN(8)), X[0].float(), SHUFFLE), "x"),
    (lambda: pc.measure.permutation_gap("rnn", X, SHUFFLE), "module"),
])  # fmt: skip
def test_bad_input_is_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_a_float32_module_on_a_tensor_permutation_works_too():
    module = pc.build(pc.Transformer(8, heads=2, d_ff=16, layers=1, causal=False))
    x = torch.randn(2, 7, 8)
    assert pc.measure.permutation_gap(module, x, torch.tensor(SHUFFLE)) < 1e-5
