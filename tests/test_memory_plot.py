"""The memory figure of "Memory": each line it draws is the bytes measured on real modules."""

import matplotlib.pyplot as plt
import pytest
import torch

import pathcost as pc

MIB = 2**20
SPECS = [pc.RNN(8), pc.LSTM(8), pc.CNN(8, kernel=3, layers=2), pc.Transformer(8, 2, 32, 2)]
NS = [4, 8, 16]


def _lines(ax):
    return {line.get_label().split("  (slope")[0]: line for line in ax.get_lines()}


def _measured_weights_bytes(spec, n):
    """Bytes of the softmax output of the first layer, captured from the running module."""
    module, seen = pc.build(spec), []
    module.layers[0].attn.scores.register_forward_hook(lambda m, i, out: seen.append(out))
    module(torch.randn(1, n, spec.d_model))
    return seen[0].nelement() * seen[0].element_size()


def test_lines_are_the_bytes_autograd_saves_in_real_modules():
    torch.manual_seed(0)
    ax = pc.plots.memory_vs_n(SPECS, NS, dtype=torch.float32, kernels=("explicit", "sdpa"))
    lines = _lines(ax)
    drawn = {
        "RNN": (SPECS[0], "explicit"),
        "LSTM": (SPECS[1], "explicit"),
        "CNN k=3 causal": (SPECS[2], "explicit"),
        "Transformer, explicit": (SPECS[3], "explicit"),
        "Transformer, fused (sdpa)": (SPECS[3], "sdpa"),
    }
    for name, (spec, kernel) in drawn.items():
        xs, ys = lines[name].get_data()
        assert list(xs) == NS
        for n, y in zip(NS, ys):
            saved = pc.measure.saved_bytes(pc.build(spec, kernel), torch.randn(1, n, 8))
            assert y * MIB == saved, (name, n)
    xs, ys = lines["Transformer: attention weights, one layer"].get_data()
    assert [y * MIB for y in ys] == [_measured_weights_bytes(SPECS[3], n) for n in NS]
    plt.close(ax.figure)


def test_legend_slope_is_the_last_segment_and_the_budget_is_a_reference_line():
    spec = pc.Transformer(64, 4, 256, 1)
    ax = pc.plots.memory_vs_n([spec], [2**14, 2**15], budget_bytes=16 * 2**30)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "Transformer: attention weights, one layer  (slope 2.00)" in labels  # exactly n^2
    budget = [line for line in ax.get_lines() if line.get_linestyle() == "-."]
    assert [list(line.get_ydata()) for line in budget] == [[16 * 1024, 16 * 1024]]
    plt.close(ax.figure)


def test_refuses_a_single_length():
    with pytest.raises(ValueError, match="ns"):
        pc.plots.memory_vs_n([pc.RNN(4)], [16])


def test_a_line_hidden_under_an_earlier_one_is_dashed_and_named():
    # elements kept: RNN 6 * 512 (2n + 1), CNN 512 (12n + 12); within 1% for n >= 128
    specs = [pc.CNN(512, kernel=3, layers=6), pc.RNN(512, 6), pc.LSTM(512, 6)]
    ax = pc.plots.memory_vs_n(specs, [128, 1024, 8192])
    styles = {
        line.get_label().split("  (slope")[0]: line.get_linestyle() for line in ax.get_lines()
    }
    assert styles["CNN k=3 causal"] == "-" and styles["LSTM"] == "-"
    assert styles["RNN, ≈ CNN k=3 causal"] == "--"
    plt.close(ax.figure)
