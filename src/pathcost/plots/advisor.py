"""Figures of "Choosing a model": the 2 x 2 decision matrix and the two-axis map."""

from ..checks import require_positive
from ..registry import architecture, colour, label
from .style import MUTED, figure

MATRIX = {  # the article's matrix, by (span large, budget large)
    (False, False): "CNN / LSTM",
    (False, True): "small Transformer or CNN",
    (True, False): "local attention or hybrid",
    (True, True): "full Transformer",
}


def decision_matrix(points, span_long: int, ax=None):
    """The 2 x 2 matrix: span against explicit attention's memory (its training step, or its
    weights and decode state for inference) over the budget, log-log.

    points: (name, span, explicit training bytes / budget, choice) per case. The vertical
    line is the long-span threshold, the horizontal one the budget (ratio 1); each quadrant
    carries the article's advice, each point the advisor's choice.
    """
    if not points:
        raise ValueError("points must hold at least one (name, span, ratio, choice)")
    require_positive(span_long=span_long)
    if ax is None:
        _, ax = figure(width=7.0, height=4.6)
    spans = [s for _, s, _, _ in points] + [span_long]
    ratios = [r for _, _, r, _ in points] + [1.0]
    low_x, high_x = min(spans) / 4, max(spans) * 4
    low_y, high_y = min(ratios) / 4, max(ratios) * 4
    ax.axvline(span_long, color="#333333", lw=1)
    ax.axhline(1.0, color="#333333", lw=1)
    for (long, large), text in MATRIX.items():
        x = (span_long * high_x) ** 0.5 if long else (low_x * span_long) ** 0.5
        y = (low_y * 1.0) ** 0.5 if large else (1.0 * high_y) ** 0.5  # large budget: ratio < 1
        ax.text(x, y, text, ha="center", va="center", color=MUTED, fontsize=10, style="italic")
    for name, span, ratio, choice in points:
        ax.plot(span, ratio, "o", color="#111111", ms=7)
        ax.annotate(f"{name}\n→ {choice}", (span, ratio), xytext=(6, 4),
                    textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set(xscale="log", yscale="log", xlim=(low_x, high_x), ylim=(low_y, high_y))
    ax.set_xlabel("dependency span P90 (tokens)")
    ax.set_ylabel("explicit attention's memory / budget")
    return ax


def two_axis_map(points, ax=None):
    """Path length at the span (x) against the cost at n (y), log-log, one point per model.

    points: (spec, path length, FLOPs, measured) per model; measured points are small and
    filled, drawn over the large open formula points, so a measurement on its formula sits
    inside it. Colour and label from the registry; a windowed Transformer is a square, the
    two architectures of "Beyond the four" are diamonds.
    """
    if not points:
        raise ValueError("points must hold at least one (spec, path length, flops, measured)")
    if ax is None:
        _, ax = figure(width=7.0, height=4.4)
    seen = set()
    for spec, path, flops, measured in sorted(points, key=lambda p: p[3]):  # formula first
        windowed = getattr(spec, "window", None) is not None
        name = label(spec) + (", windowed" if windowed else "")
        text = f"{name} ({'measured' if measured else 'formula'})"
        marker = "s" if windowed else "D" if architecture(spec).beyond else "o"
        ax.plot(path, flops, marker, ms=5 if measured else 11,
                color=colour(spec), mfc=colour(spec) if measured else "white",
                label=None if text in seen else text)  # fmt: skip
        seen.add(text)
    ax.set(xscale="log", yscale="log")
    ax.set_xlabel("path length at the span (hops)")
    ax.set_ylabel("forward FLOPs at n")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax
