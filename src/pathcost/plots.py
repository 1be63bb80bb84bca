"""The book's one figure style, and the figures every chapter shares.

Okabe-Ito colours (safe for colour-blind readers), one per architecture in every chapter;
a solid white background so figures read on light and dark page themes alike.
"""

import matplotlib.pyplot as plt

from . import paths
from .specs import label, require_spec

COLORS = {
    "RNN": "#E69F00",
    "LSTM": "#D55E00",
    "CNN": "#009E73",
    "Transformer": "#0072B2",
}
MUTED = "#BBBBBB"
LINESTYLES = ("-", "--", ":", "-.")

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.edgecolor": "#333333",
    "axes.labelcolor": "#111111",
    "text.color": "#111111",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "axes.grid": True,
    "grid.color": "#E5E5E5",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "axes.titlesize": 11,
    "figure.dpi": 110,
    "figure.constrained_layout.use": True,
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6):
    """A new figure in the book's style: (fig, axes) as from ``plt.subplots``."""
    plt.rcParams.update(STYLE)
    return plt.subplots(nrows, ncols, figsize=(width, height))


def color(spec) -> str:
    """The colour of a spec's architecture, the same in every chapter."""
    require_spec(spec)
    return COLORS[type(spec).__name__]


def draw_routing_graph(spec, n: int, i: int = 0, j: int | None = None, ax=None, title=None):
    """Draw the unrolled graph of `spec` on n positions with the shortest path i -> j in colour.

    Positions run left to right (1-based labels, as in the prose), layers bottom to top.
    Returns the axes.
    """
    j = n - 1 if j is None else j
    hops, path = paths.shortest_path(spec, n, i, j)
    if ax is None:
        _, ax = figure(width=4.0, height=2.8)
    on_path = set(zip(path, path[1:]))
    for source, target, _ in paths.routing_graph(spec, n):
        highlight = (source, target) in on_path
        ax.plot(
            [source[1] + 1, target[1] + 1],
            [source[0], target[0]],
            color=color(spec) if highlight else MUTED,
            lw=2.4 if highlight else 0.6,
            zorder=3 if highlight else 1,
        )
    layers = spec.layers
    for layer in range(layers + 1):
        ax.scatter(range(1, n + 1), [layer] * n, s=18, color="#333333", zorder=4)
    ax.set_xticks(range(1, n + 1))
    ax.set_yticks(range(layers + 1), ["input"] + [f"layer {k}" for k in range(1, layers + 1)])
    ax.set_xlabel("position")
    ax.grid(False)
    reached = "unreachable" if hops == float("inf") else f"L = {hops}"
    ax.set_title(title or f"{label(spec)}\nx{i + 1} to position {j + 1}: {reached}")
    return ax


def path_length_curves(specs, max_distance: int, ax=None):
    """Path length L against distance d = 0 .. max_distance for each spec; returns the axes.

    Unreachable distances (L = inf) are left out of a spec's line.
    """
    if ax is None:
        _, ax = figure()
    distances = range(max_distance + 1)
    seen = {}  # a second spec of one architecture keeps its colour and changes its dash
    for spec in specs:
        lengths = [paths.path_length(spec, d) for d in distances]
        shown = [(d, L) for d, L in zip(distances, lengths) if L != float("inf")]
        dash = LINESTYLES[seen.setdefault(type(spec), 0) % len(LINESTYLES)]
        seen[type(spec)] += 1
        ax.step(*zip(*shown), where="post", color=color(spec), ls=dash, label=label(spec), lw=2)
    ax.set_xlabel("distance d = |i - j| (positions)")
    ax.set_ylabel("path length L (hops)")
    ax.legend(frameon=False)
    return ax


def _record_color(label_text: str) -> str:
    """Architecture colour from a record label ("LSTM", "attention (sdpa)", ...)."""
    first = label_text.split()[0]
    return COLORS.get(first, COLORS["Transformer"] if first == "attention" else "#333333")


def scaling(records, ax=None, min_n: int = 1):
    """Median time against n, log-log, a line per (label, mode), its fitted slope in the legend.

    Only points that ran ("ok") are drawn; the slope is fitted on those with n >= min_n.
    Returns the axes.
    """
    from .bench import fit_exponent

    if ax is None:
        _, ax = figure(width=7.0, height=4.2)
    groups = {}
    for record in records:
        if record.status == "ok":
            groups.setdefault((record.label, record.mode), []).append(record)
    seen = {}
    for (name, mode), points in groups.items():
        points.sort(key=lambda r: r.n)
        ns, seconds = [r.n for r in points], [r.median_s for r in points]
        colour = _record_color(name)
        dash = LINESTYLES[seen.setdefault(colour, 0) % len(LINESTYLES)]
        seen[colour] += 1
        fitted = [(n, t) for n, t in zip(ns, seconds) if n >= min_n]
        text = name if mode == "forward" else f"{name}, {mode}"
        if len(fitted) >= 3:
            text += f"  (slope {fit_exponent(*zip(*fitted))[0]:.2f})"
        ax.plot(ns, seconds, marker="o", ms=3, color=colour, ls=dash, label=text)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n (tokens)")
    ax.set_ylabel("median time (s)")
    ax.legend(frameon=False, fontsize=8)
    return ax
