"""The FLOP-shares figure of "Counting compute": what it draws is the measured shares."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

import pathcost as pc


def _measured(spec, n):
    with torch.device("meta"):
        module, x = pc.build(spec), torch.empty(1, n, spec.d_model)
    return pc.measure.flops_by_component(module, x)


def _bands(ax):
    """{label: (xs, lower, upper)} of each stacked area, read back from its polygon."""
    bands = {}
    for area in ax.collections:
        vertices = area.get_paths()[0].vertices
        # fill_between's polygon: a start point, the lower edge left to right, a corner, the
        # upper edge right to left, then the point that closes it
        N = (len(vertices) - 3) // 2
        lower, upper = vertices[1 : 1 + N], vertices[2 + N : 2 + 2 * N][::-1]
        assert list(upper[:, 0]) == list(lower[:, 0])
        bands[area.get_label()] = (lower[:, 0], lower[:, 1], upper[:, 1])
    return bands


def test_bands_are_the_formula_shares_of_the_measured_counts_and_stack_to_one():
    spec = pc.Transformer(64, 4, 256, 1)
    ns = [16, 64, 256, 257, 1024]
    ax = pc.plots.flop_shares(spec, {n: _measured(spec, n) for n in ns}, marks={"n = f + 1": 257})
    bands = _bands(ax)
    assert set(bands) == {"ffn", "qkv", "out", "scores", "values"}
    for name, (xs, lower, upper) in bands.items():
        assert list(xs) == ns
        for n, low, high in zip(ns, lower, upper):
            parts = pc.forward_flops_by_component(spec, n)
            assert high - low == pytest.approx(parts[name] / sum(parts.values()), abs=1e-12)
    assert list(bands["values"][2]) == pytest.approx([1.0] * len(ns), abs=1e-12)  # top of stack
    assert list(bands["ffn"][1]) == [0.0] * len(ns)  # bottom of stack
    plt.close(ax.figure)


def test_legend_lists_the_stack_top_first_then_the_marks_and_colours_follow_the_spec():
    spec = pc.Transformer(64, 4, 256, 1)
    ax = pc.plots.flop_shares(spec, {n: _measured(spec, n) for n in (16, 512)}, marks={"x": 257})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["values", "scores", "out", "qkv", "ffn", "x"]
    scores = next(a for a in ax.collections if a.get_label() == "scores")
    assert matplotlib.colors.to_hex(scores.get_facecolor()[0]) == (
        pc.plots.COLORS["Transformer"].lower()
    )
    assert [line.get_xdata()[0] for line in ax.lines] == [257]
    plt.close(ax.figure)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.plots.flop_shares("RNN", {1: {"input": 1}, 2: {"input": 2}}), "spec"),
        (lambda: pc.plots.flop_shares(pc.RNN(4), {1: {"input": 1}}), "counts"),
        (lambda: pc.plots.flop_shares(pc.RNN(4), {1: {"input": 1}, 2: {"conv": 2}}), "counts"),
        (lambda: pc.plots.flop_shares(pc.RNN(4), {0: {"input": 1}, 2: {"input": 2}}), "counts"),
        (lambda: pc.plots.flop_shares(pc.RNN(4), {1: {"input": 0}, 2: {"input": 2}}), "counts"),
    ],
)
def test_bad_input_is_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def _example(entry):
    return entry.example(8, 2, 16, 2)


@pytest.mark.parametrize("name", sorted(pc.registry.ARCHITECTURES))
def test_every_component_of_every_architecture_has_a_shade_of_its_own(name):
    """Each band of a spec's figure is the formula share, in a named shade (not the near-white
    of an unknown component) that differs from every other band it is drawn beside."""
    spec = _example(pc.registry.ARCHITECTURES[name])
    ns = [4, 16, 64]
    ax = pc.plots.flop_shares(spec, {n: _measured(spec, n) for n in ns})
    bands = _bands(ax)
    assert set(bands) == set(pc.forward_flops_by_component(spec, 4))
    for name, (_, lower, upper) in bands.items():
        for n, low, high in zip(ns, lower, upper):
            parts = pc.forward_flops_by_component(spec, n)
            assert high - low == pytest.approx(parts[name] / sum(parts.values()), abs=1e-12)
    fills = {area.get_label(): (tuple(area.get_facecolor()[0]), area.get_hatch())
             for area in ax.collections}  # fmt: skip
    near_white = pc.plots.style.shade(pc.registry.colour(spec), 0.95)
    assert all(colour[:3] != pytest.approx(near_white) for colour, _ in fills.values())
    assert len(set(fills.values())) == len(fills), fills
    plt.close(ax.figure)


def test_linear_attentions_products_are_hatched_on_top_like_softmax_attentions():
    spec = pc.LinearAttention(16, 2, 32, 1)
    ax = pc.plots.flop_shares(spec, {n: _measured(spec, n) for n in (4, 64)})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["read", "kv", "out", "qkv", "ffn"]  # top of the stack first
    hatches = {area.get_label(): area.get_hatch() for area in ax.collections}
    assert hatches["kv"] and hatches["read"] and hatches["kv"] != hatches["read"]
    assert hatches["ffn"] is hatches["qkv"] is hatches["out"] is None
    plt.close(ax.figure)
