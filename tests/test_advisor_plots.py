"""The advisor's figures draw what they are given, where they are told, and refuse an empty list."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import pathcost as pc  # noqa: E402


def test_decision_matrix_places_each_case_and_the_two_lines():
    points = [("a", 32, 0.01, "cnn"), ("b", 2048, 3.0, "transformer-fused")]
    ax = pc.plots.advisor.decision_matrix(points, span_long=512)
    drawn = [tuple(line.get_xydata()[0]) for line in ax.lines if line.get_marker() == "o"]
    assert drawn == [(32.0, 0.01), (2048.0, 3.0)]
    assert {line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "-"} >= {512}
    texts = {t.get_text() for t in ax.texts}
    assert set(pc.plots.advisor.MATRIX.values()) <= texts and "a\n→ cnn" in texts


def test_two_axis_map_fills_measured_points_only():
    spec = pc.LSTM(8)
    ax = pc.plots.advisor.two_axis_map([(spec, 12, 100, True), (spec, 12, 100, False)])
    faces = [line.get_markerfacecolor() for line in ax.lines]
    assert faces[0] == "white" and faces[1] != "white"  # the measurement drawn on top
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_two_axis_map_marks_the_windowed_and_the_linear_models_apart():
    specs = [pc.LSTM(8), pc.Transformer(8, 2, 16, 1, window=4), pc.LinearAttention(8, 2, 16, 1),
             pc.LinearRecurrence(8, scan=True)]  # fmt: skip
    ax = pc.plots.advisor.two_axis_map([(s, 1 + i, 10 * (1 + i), False) for i, s in
                                        enumerate(specs)])  # fmt: skip
    assert [line.get_marker() for line in ax.lines] == ["o", "s", "D", "D"]
    assert [line.get_color() for line in ax.lines] == [pc.registry.colour(s) for s in specs]
    assert ax.lines[2].get_label() == "Linear attention (formula)"


@pytest.mark.parametrize("draw", [lambda: pc.plots.advisor.decision_matrix([], 512),
                                  lambda: pc.plots.advisor.two_axis_map([])])
def test_nothing_to_draw_is_refused(draw):
    with pytest.raises(ValueError, match="points"):
        draw()


def test_checkpoint_trade_skips_measurements_without_a_first_one():
    spec = pc.LSTM(8)
    ax = pc.plots.checkpoint_trade({spec: [(0.0, 100, None), (0.1, 80, 90)]})
    assert len(ax.lines) == 2  # the model's line and the reference at 1, no measured points
    with pytest.raises(ValueError, match="curves"):
        pc.plots.checkpoint_trade({spec: []})


@pytest.mark.parametrize(
    "kwargs,name", [({"choice": "gru"}, "choice"), ({"dtype": "int8"}, "dtype"), ({"n": 0}, "n")]
)
def test_the_advisors_estimate_refuses_bad_input_by_name(kwargs, name):
    from pathcost.advisor.choice import estimate

    args = dict(choice="lstm", spec=pc.LSTM(8), span=4, n=16, batch=1, dtype="fp32",
                profile=pc.device_profile("t4"), budget=10**9, training=True)  # fmt: skip
    with pytest.raises(ValueError, match=name):
        estimate(**{**args, **kwargs})
