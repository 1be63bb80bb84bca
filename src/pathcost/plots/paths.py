"""Figures of axis 1, dependency path length: routing graphs, path length, receptive fields."""

import matplotlib.pyplot as plt

from ..formulas import paths
from ..registry import colour, label
from ..specs import CNN, dilations
from .style import COLORS, LINESTYLES, MUTED, ZERO_COLOR, figure, plain_log2, shade


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
            color=colour(spec) if highlight else MUTED,
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
        ax.step(*zip(*shown), where="post", color=colour(spec), ls=dash, label=label(spec), lw=2)
    ax.set_xlabel("distance d = |i - j| (positions)")
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
    ax.set_xlabel("layers L")
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
    ax.set_xlabel(f"distance d reached {side} (positions)")
    ax.set_ylabel("layers needed")
    ax.legend(frameon=False, fontsize=8)
    return ax
