"""Figures of axis 1, dependency path length: routing graphs, path length, receptive fields."""

import matplotlib.pyplot as plt

from ..formulas import paths
from ..registry import colour, label
from ..specs import CNN, dilations
from .style import COLORS, LINESTYLES, MUTED, ZERO_COLOR, figure, plain_log2, shade


def draw_routing_graph(spec, n: int, i: int = 0, j: int | None = None, ax=None, title=None):
    """Draw the unrolled graph of `spec` on n positions with the shortest path i -> j in colour.

    Positions run left to right (1-based labels, as in the prose), layers bottom to top.
    On the path each hop (an edge of ``paths.routing_graph`` with hops 1) is a thick solid
    segment numbered 1 .. L, and an edge that moves nothing (a recurrence's input projection
    x(t) -> h(t), hops 0) is dashed, so the solid segments count L. When j is out of reach,
    the nodes that x_i does reach are ringed, their edges drawn in colour, and the title
    names their positions. Returns the axes.
    """
    j = n - 1 if j is None else j
    length, path = paths.shortest_path(spec, n, i, j)
    if ax is None:
        _, ax = figure(width=4.0, height=2.8)
    edges = {(source, target): hops for source, target, hops in paths.routing_graph(spec, n)}
    for source, target in edges:
        _segment(ax, source, target, color=MUTED, lw=0.6, zorder=1)
    steps = list(zip(path, path[1:]))
    for count, (source, target) in enumerate(s for s in steps if edges[s]):
        _segment(ax, source, target, color=colour(spec), lw=2.4, zorder=3, gid="hop")
        _number(ax, source, target, count + 1)
    for source, target in (s for s in steps if not edges[s]):
        _segment(ax, source, target, color=colour(spec), lw=1.6, ls="--", zorder=3, gid="no hop")
    for layer in range(spec.layers + 1):
        ax.scatter(range(1, n + 1), [layer] * n, s=18, color="#333333", zorder=4)
    if length == float("inf"):
        outcome = _draw_reach(ax, spec, edges, i)
    else:
        outcome = f"L = {length} hop{'' if length == 1 else 's'}"
        if len(steps) > length:
            outcome += "\n(dashed: input projection, not a hop)"
    ax.set_xticks(range(1, n + 1))
    ax.set_yticks(
        range(spec.layers + 1), ["input"] + [f"layer {k}" for k in range(1, spec.layers + 1)]
    )
    ax.set_xlabel("position")
    ax.grid(False)
    ax.set_title(title or f"{label(spec)}\nx{i + 1} to position {j + 1}: {outcome}")
    return ax


def _segment(ax, source, target, **style) -> None:
    """One edge (layer, position) -> (layer, position), positions drawn 1-based."""
    ax.plot([source[1] + 1, target[1] + 1], [source[0], target[0]], **style)


def _number(ax, source, target, count: int) -> None:
    """The hop's number at the middle of its segment."""
    x, y = (source[1] + target[1]) / 2 + 1, (source[0] + target[0]) / 2
    ax.text(x, y, str(count), ha="center", va="center", fontsize=7, zorder=6, gid="hop number",
            bbox=dict(boxstyle="circle,pad=0.15", facecolor="white", edgecolor="none"))


def _draw_reach(ax, spec, edges, i: int) -> str:
    """Ring every node that input i reaches, colour their edges; the title's words for it."""
    reached, frontier = {(0, i)}, [(0, i)]
    while frontier:
        node = frontier.pop()
        for source, target in edges:
            if source == node and target not in reached:
                reached.add(target)
                frontier.append(target)
    for source, target in edges:
        if source in reached:
            _segment(ax, source, target, color=colour(spec), lw=1.0, zorder=2, gid="reach")
    ringed = sorted(node for node in reached if node[0] >= 1)
    ax.scatter([t + 1 for _, t in ringed], [layer for layer, _ in ringed], s=70, lw=1.4,
               facecolors="none", edgecolors=colour(spec), zorder=5, gid="reached")  # fmt: skip
    positions = sorted({t + 1 for _, t in ringed})
    return f"unreachable\nx{i + 1} reaches {_spans(positions)} (ringed)"


def _spans(positions: list[int]) -> str:
    """[1, 2, 3, 5] -> "positions 1 to 3 and 5"; [] -> "no position"."""
    runs = []
    for p in positions:
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    words = [str(a) if a == b else f"{a} to {b}" for a, b in runs]
    if not words:
        return "no position"
    plural = "s" if len(positions) > 1 else ""
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"position{plural} {listed}"


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
        ax.step(*zip(*shown), where="post", color=colour(spec), ls=dash, label=label(spec), lw=2)
    ax.set_xlabel("distance Δ = |i - j| (positions)")
    ax.set_ylabel("path length L (hops)")
    ax.legend(frameon=False)
    return ax


def dependency_image(matrix, ax=None, title=None):
    """Draw M[j, i] = ||d y_j / d x_i||_F: input position i across, output position j down.

    Drawn in "Receptive fields" from ``jacobians.dependency_matrix``. Nonzero entries on a
    logarithmic colour scale with a colour bar; exact zeros (output j cannot read input i)
    in flat light grey, named in the legend. Returns the axes.
    """
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch

    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 1:
        raise ValueError(f"matrix must be a square (n, n) array, got shape {values.shape}")
    if ax is None:
        _, ax = figure(width=4.4, height=4.0)
    nonzero = np.abs(values[values != 0])
    norm = None
    if nonzero.size and nonzero.min() < nonzero.max():
        norm = LogNorm(vmin=nonzero.min(), vmax=nonzero.max())
    cmap = plt.get_cmap("viridis").with_extremes(bad=ZERO_COLOR)  # masked entries: exact zeros
    image = ax.imshow(np.ma.masked_equal(values, 0), cmap=cmap, norm=norm, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="‖∂y_j / ∂x_i‖ (Frobenius)")
    ax.legend(
        handles=[Patch(facecolor=ZERO_COLOR, edgecolor="#999999", label="exactly 0: no route")],
        loc="upper left",
        bbox_to_anchor=(0.0, -0.16),
        frameon=False,
        fontsize=8,
    )
    ax.grid(False)
    ax.set_xlabel("input position i")
    ax.set_ylabel("output position j")
    if title is not None:
        ax.set_title(title)
    return ax


def _kernel_schedules(kernels):
    """(kernel, dilation base, line style) for each kernel, undilated and doubling dilations."""
    for index, kernel in enumerate(kernels):
        lighter = shade(COLORS["CNN"], 0.6 * index / max(len(kernels) - 1, 1))
        for base, dash, name in ((1, "-", "no dilation"), (2, "--", "dilations 1, 2, 4, ...")):
            yield kernel, base, dict(ls=dash, color=lighter, lw=2, label=f"k={kernel}, {name}")


def receptive_field_growth(kernels=(3, 5), max_layers: int = 10, ax=None):
    """Receptive field R against depth L, without dilation (solid) and doubling dilations (dashed).

    Derived in "Receptive fields": R = 1 + (k - 1) L without dilation and
    R = 1 + (k - 1)(2^L - 1) with dilations 1, 2, 4, ...; on the logarithmic R axis the
    second is a straight line. One CNN colour, lighter for wider kernels. Returns the axes.
    """
    if ax is None:
        _, ax = figure()
    depths = range(1, max_layers + 1)
    for kernel, base, style in _kernel_schedules(kernels):
        stacks = [CNN(1, kernel, depth, dilations=dilations(depth, base)) for depth in depths]
        fields = [paths.receptive_field(stack) for stack in stacks]
        ax.plot(depths, fields, **style)
    plain_log2(ax, "y")
    ax.set_xlabel("layers D")
    ax.set_ylabel("receptive field R (positions)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def layers_to_cover_curves(kernels=(3, 5, 7), max_distance: int = 4096, causal=True, ax=None):
    """Layers needed to reach distance d, log-log: no dilation (solid), doubling dilations (dashed).

    Derived in "Receptive fields" from ``paths.layers_to_cover``: ceil(d / (k - 1)) causal
    without dilation, a power law of slope 1; about log2(d / (k - 1)) with doubling
    dilations. One CNN colour, lighter for wider kernels. Returns the axes.
    """
    if ax is None:
        _, ax = figure()
    distances = range(1, max_distance + 1)
    for kernel, base, style in _kernel_schedules(kernels):
        layers = [paths.layers_to_cover(d, kernel, causal, base) for d in distances]
        ax.step(distances, layers, where="post", **style)
    plain_log2(ax, "x")
    plain_log2(ax, "y")
    side = "back (causal)" if causal else "to one side (centred)"
    ax.set_xlabel(f"distance Δ reached {side} (positions)")
    ax.set_ylabel("layers needed")
    ax.legend(frameon=False, fontsize=8)
    return ax
