"""The support of "Beyond the four": the recall probe, the loop-against-scan timing, the figures.

The probe's weights are held to other implementations of the same attention (the prefix sums
of the real linear-attention module, PyTorch's fused softmax attention); the timing to its
own bookkeeping (no wall-clock value is asserted); the figures to their labels and units.
"""

import matplotlib
import pytest
import torch
import torch.nn.functional as F

import pathcost as pc
from pathcost.advisor.points import two_axis_points
from pathcost.experiments import recall

matplotlib.use("Agg")


def _identity_attention(d):
    """A one-head LinearSelfAttention whose q, k and v are the input itself."""
    attn = pc.linear.LinearSelfAttention(pc.LinearAttention(d, heads=1, d_ff=4, layers=1))
    with torch.no_grad():
        attn.qkv.weight.copy_(torch.cat([torch.eye(d)] * 3))
        attn.qkv.bias.zero_()
    return attn.double()


def test_linear_weights_equal_the_prefix_sums_of_the_real_module():
    d, n = 6, 9
    x = torch.randn(1, n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    attn = _identity_attention(d)
    q, k, v1 = attn.project(x)
    module_read = attn.normalise(attn.read(q, attn.kv(k, v1).cumsum(dim=1)))  # (1, n, d)
    for t in range(n):  # query t reads keys 0 .. t: the probe's weights over that prefix
        weights = recall.recall_weights(x[:, t : t + 1], x[:, : t + 1], "linear")
        torch.testing.assert_close(weights @ x[:, : t + 1], module_read[:, t : t + 1])


def test_softmax_weights_equal_pytorchs_fused_attention():
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(3, 7, 5, dtype=torch.float64, generator=g) for _ in range(3))
    probe = recall.recall_weights(q, k, "softmax") @ v
    torch.testing.assert_close(probe, F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize("kernel", recall.KERNELS)
def test_weights_are_positive_and_rows_sum_to_one(kernel):
    g = torch.Generator().manual_seed(5)
    q, k = (torch.randn(2, 6, 4, dtype=torch.float64, generator=g) for _ in range(2))
    weights = recall.recall_weights(q, k, kernel)
    assert (weights > 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 6, dtype=torch.float64))


@pytest.mark.parametrize("kernel", recall.KERNELS)
def test_recall_equals_a_read_of_every_query_by_hand(kernel):
    trials, pairs, d_k = 3, 6, 4
    g = torch.Generator().manual_seed(0)  # the probe's own draws, in its order
    keys, values = (torch.randn(trials, pairs, d_k, generator=g, dtype=torch.float64)
                    for _ in range(2))  # fmt: skip
    hits = 0
    for t in range(trials):
        for i in range(pairs):  # one query at a time, weights written out
            q = keys[t, i]
            if kernel == "softmax":
                scores = torch.stack([q @ keys[t, j] / d_k**0.5 for j in range(pairs)]).exp()
            else:
                phi = pc.linear.feature_map
                scores = torch.stack([phi(q) @ phi(keys[t, j]) for j in range(pairs)])
            read = (scores / scores.sum()) @ values[t]
            distances = [float((read - values[t, j]).norm()) for j in range(pairs)]
            hits += distances.index(min(distances)) == i
    assert recall.recall_accuracy(pairs, d_k, kernel, trials=trials, seed=0) == hits / (
        trials * pairs)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: recall.recall_accuracy(0, 8, "linear"), "pairs"),
        (lambda: recall.recall_accuracy(2, 0, "linear"), "d_k"),
        (lambda: recall.recall_accuracy(2, 8, "cosine"), "kernel"),
        (lambda: recall.recall_accuracy(2, 8, "linear", trials=0), "trials"),
        (lambda: recall.recall_weights(torch.ones(1, 2), torch.ones(1, 2), "dot"), "kernel"),
    ],
)
def test_bad_probe_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_loop_against_scan_times_both_and_keeps_its_ratio():
    rows = pc.bench.loop_against_scan([3, 8], d_model=4, batch=1, min_run_time=0.01)
    assert [row["n"] for row in rows] == [3, 8]
    for row in rows:
        assert row["loop_s"] > 0 and row["scan_s"] > 0
        assert row["ratio"] == row["loop_s"] / row["scan_s"]


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(ns=[]), "ns"), (dict(ns=[4, 0]), r"ns\[1\]"), (dict(ns=[4], d_model=0), "d_model")],
)
def test_loop_against_scan_refuses_bad_sizes_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        pc.bench.loop_against_scan(**kwargs)


def test_the_figures_label_both_axes_with_units():
    recall_rows = [{"kernel": k, "d_k": 8, "pairs": p, "accuracy": 0.5}
                   for k in recall.KERNELS for p in (2, 4)]  # fmt: skip
    timing = [{"n": n, "loop_s": 1e-3 * n, "scan_s": 2e-3} for n in (4, 8)]
    spec = pc.LinearAttention(8, 2, 16, 1)
    states = [{"spec": spec, "n": n, "formula": 80, "measured": 80} for n in (1, 2)]
    for ax in (pc.plots.beyond.recall_curves(recall_rows),
               pc.plots.beyond.loop_against_scan(timing),
               pc.plots.beyond.state_against_n(states)):  # fmt: skip
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()
        assert ax.get_legend() is not None


@pytest.mark.parametrize(
    "draw", [pc.plots.beyond.recall_curves, pc.plots.beyond.loop_against_scan,
             pc.plots.beyond.state_against_n],  # fmt: skip
)
def test_a_figure_without_rows_is_refused(draw):
    with pytest.raises(ValueError, match="rows"):
        draw([])


def test_the_two_axis_points_put_each_measurement_on_its_formula():
    points = two_axis_points(12, 24, d_model=8, heads=2, window=4)
    measured = [p for p in points if p[3]]
    formula = [p for p in points if not p[3]]
    names = set(pc.advisor.choice.candidates(12, 8, 2, {"window": 4})) - {"transformer-fused"}
    assert len(measured) == len(formula) == len(names)
    for (spec, path, flops, _), (same, path_f, flops_f, _) in zip(measured, formula, strict=True):
        assert spec == same and (path, flops) == (path_f, flops_f), spec


def test_two_axis_points_need_a_length_beyond_the_span():
    with pytest.raises(ValueError, match="n must be longer"):
        two_axis_points(12, 12, d_model=8, heads=2)
