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


ZERO_COLOR = "#DDDDDD"  # an exact zero in a dependency image: no route, not a small number


def _shade(colour: str, lightness: float) -> tuple:
    """`colour` mixed with white: lightness 0 is the colour itself, 1 is white."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1 - c) * lightness for c in to_rgb(colour))


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


def _plain_log2(ax, which: str) -> None:
    """Make axis `which` ("x" or "y") log base 2, ticks as plain numbers (4096, not 2^12)."""
    from matplotlib.ticker import FuncFormatter

    getattr(ax, f"set_{which}scale")("log", base=2)
    getattr(ax, f"{which}axis").set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _dilated(kernel: int, layers: int, base: int):
    """A d_model = 1 CNN spec whose layer l has dilation base^l (base 1: no dilation)."""
    from .specs import CNN

    return CNN(1, kernel, layers, dilations=tuple(base**layer for layer in range(layers)))


def _kernel_schedules(kernels):
    """(kernel, dilation base, line style) for each kernel, undilated and doubling dilations."""
    for index, kernel in enumerate(kernels):
        shade = _shade(COLORS["CNN"], 0.6 * index / max(len(kernels) - 1, 1))
        for base, dash, name in ((1, "-", "no dilation"), (2, "--", "dilations 1, 2, 4, ...")):
            yield kernel, base, dict(ls=dash, color=shade, lw=2, label=f"k={kernel}, {name}")


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
        fields = [paths.receptive_field(_dilated(kernel, depth, base)) for depth in depths]
        ax.plot(depths, fields, **style)
    _plain_log2(ax, "y")
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
    _plain_log2(ax, "x")
    _plain_log2(ax, "y")
    side = "back (causal)" if causal else "to one side (centred)"
    ax.set_xlabel(f"distance d reached {side} (positions)")
    ax.set_ylabel("layers needed")
    ax.legend(frameon=False, fontsize=8)
    return ax


def gradient_decay(
    norms: dict,
    ax=None,
    log: bool = True,
    start: int = 1,
    truncation=None,
    ylabel: str = "‖∂y_T / ∂x_(T−k)‖ relative to k = 0",
):
    """Gradient norm against distance k, divided by its k = 0 value, a line per named curve.

    norms: {label: g} with g[k] the norm k steps back (``jacobians.gradient_norms``). The
    legend gives each line's fitted per-step factor r (``decay.decay_rate`` from k = start).
    On a log axis, exact zeros (a truncated gradient) and underflow are left out of a line.
    Colour follows the label's first word (RNN, LSTM, Transformer; dark grey otherwise); the
    legend sits right of the axes. truncation, if given, is drawn as a vertical reference
    line at k = K. Returns the axes.
    """
    import torch

    from .decay import decay_rate

    if ax is None:
        _, ax = figure(width=9.0, height=4.2)
    seen = {}
    for name, g in norms.items():
        g = torch.as_tensor(g, dtype=torch.float64).flatten()
        relative = g / g[0]
        k = torch.arange(len(g))
        shown = relative > 0 if log else torch.ones_like(relative, dtype=torch.bool)
        colour = _record_color(name.replace(",", " "))  # "LSTM, b_f = 1" is an LSTM
        dash = LINESTYLES[seen.setdefault(colour, 0) % len(LINESTYLES)]
        seen[colour] += 1
        text = f"{name}  (r = {decay_rate(g, start=start):.3f} per step)"
        ax.plot(k[shown], relative[shown], color=colour, ls=dash, lw=1.8, label=text)
    if truncation is not None:
        ax.axvline(truncation, color=MUTED, lw=1.2, ls="--", zorder=0)
        ax.annotate(
            f"truncation K = {truncation}",
            (truncation, 1.0),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
            color="#555555",
        )
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("distance k (steps back from the last position)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


MARKERS = ("o", "s", "^", "D")


def accuracy_vs_span(
    rows, chance: float, held_out=None, bound=None, ax=None, title=None, legend: bool = True
):
    """Held-out accuracy against dependency span, a line per model, chance as a reference line.

    Drawn in "Long-range tasks" from ``tasks.sweep`` rows {"model", "span", "accuracy"}. A
    line takes its architecture's colour from the label's first word; a second model of the
    same architecture keeps the colour and changes dash and marker. With `held_out` (the
    number of held-out sequences N) a band chance +/- 2 sqrt(p (1 - p) / N) shows where a
    model blind to the label lands about 95% of the time. bound: {span: accuracy}, drawn as
    a grey dash-dot line (the best a model blind to order can do). legend=False leaves the
    legend to the caller (one legend for several panels). Returns the axes.
    """
    import math

    from matplotlib.ticker import FixedLocator, NullLocator

    if not 0 < chance < 1:
        raise ValueError(f"chance must be a probability between 0 and 1, got {chance!r}")
    if ax is None:
        _, ax = figure()
    lines = {}
    for row in rows:
        lines.setdefault(row["model"], []).append((row["span"], row["accuracy"]))
    seen = {}
    for name, points in lines.items():
        points.sort()
        colour = COLORS.get(name.split()[0].rstrip(","), "#333333")
        variant = seen.setdefault(colour, 0)
        seen[colour] += 1
        ax.plot(*zip(*points), color=colour, ls=LINESTYLES[variant % len(LINESTYLES)],
                marker=MARKERS[variant % len(MARKERS)], ms=5, lw=1.8, label=name)
    spans = sorted({row["span"] for row in rows})
    if bound is not None:
        ax.plot(sorted(bound), [bound[s] for s in sorted(bound)], color="#777777", ls="-.",
                lw=1.2, label="best without order (bag of tokens)")
    if held_out is not None:
        half = 2 * math.sqrt(chance * (1 - chance) / held_out)
        ax.axhspan(chance - half, chance + half, color=MUTED, alpha=0.35, lw=0)
    ax.axhline(chance, color="#333333", ls=":", lw=1.2, label="chance, 1 / classes")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(spans))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(s) for s in spans])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("dependency span (positions)")
    ax.set_ylabel("held-out accuracy (fraction)")
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


# component: lightness of its shade of the architecture colour (0 = the colour itself), in
# stacking order; the attention products stay dark (and hatched) against a light FFN
_SHARE_SHADES = {
    "input": 0.0, "recurrent": 0.5, "conv": 0.0,
    "ffn": 0.55, "qkv": 0.75, "out": 0.88, "scores": 0.0, "values": 0.3, "fused": 0.0,
}  # fmt: skip


def flop_shares(spec, counts: dict, ax=None, marks=None):
    """Share of forward FLOPs per component against n, stacked areas that sum to 1.

    Drawn in "Counting compute": share_c(n) = FLOPs_c(n) / sum over components of FLOPs(n),
    from counts {n: {component: FLOPs}} such as ``measure.flops_by_component`` returns on
    the meta device. Components are stacked in a fixed order (FFN at the bottom, the
    attention products, dark and hatched, on top) in shades of the spec's architecture
    colour; a component the book does not name is drawn near-white above them.
    marks: {label: n}, vertical reference lines such as a crossover. Returns the axes.
    """
    require_spec(spec)
    if not isinstance(counts, dict) or len(counts) < 2:
        raise ValueError(f"counts must map two or more lengths n to FLOPs by component: {counts!r}")
    ns = sorted(counts)
    names = set(counts[ns[0]])
    if any(set(counts[n]) != names for n in ns):
        raise ValueError("counts must name the same components at every n")
    if any(not isinstance(n, int) or n < 1 or sum(counts[n].values()) <= 0 for n in ns):
        raise ValueError("counts must have integer lengths n >= 1 and a positive total at each")
    order = [c for c in _SHARE_SHADES if c in names] + sorted(names - set(_SHARE_SHADES))
    totals = [sum(counts[n].values()) for n in ns]
    if ax is None:
        _, ax = figure(width=7.0, height=3.8)
    bottom = [0.0] * len(ns)
    for name in order:
        share = [counts[n][name] / total for n, total in zip(ns, totals)]
        top = [b + s for b, s in zip(bottom, share)]
        shade = _shade(color(spec), _SHARE_SHADES.get(name, 0.95))
        hatch = {"scores": "//", "values": "\\\\"}.get(name)
        ax.fill_between(
            ns, bottom, top, facecolor=shade, edgecolor="white", lw=0.6, hatch=hatch, label=name
        )
        bottom = top
    for index, (text, n) in enumerate((marks or {}).items()):
        ax.axvline(n, color="#333333", lw=1.3, ls=LINESTYLES[1 + index % 3], label=text)
    _plain_log2(ax, "x")
    ax.set_xlim(ns[0], ns[-1])
    ax.set_ylim(0, 1)
    ax.grid(False)
    ax.set_xlabel("sequence length n (tokens)")
    ax.set_ylabel("share of forward FLOPs")
    handles, labels = ax.get_legend_handles_labels()
    areas = len(order)  # listed top of the stack first, as they are drawn, then the marks
    handles, labels = handles[:areas][::-1] + handles[areas:], labels[:areas][::-1] + labels[areas:]
    ax.legend(handles, labels, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return ax


def memory_vs_n(
    specs, ns, batch: int = 1, dtype=None, budget_bytes=None, kernels=("explicit",), ax=None
):
    """Training activations against n, log-log in MiB, a line per spec (and attention kernel).

    Drawn in "Memory" from ``costs.activation_bytes`` (bytes autograd saves in one training
    forward): a Transformer gets one line per attention kernel in `kernels` (explicit solid,
    "sdpa" dashed) and a dotted line for the attention weights of ONE layer,
    B h n^2 bytes(dtype) (``costs.attention_weights_bytes``). dtype defaults to float16.
    The legend gives each line's slope between its last two points (2 where the n^2 term
    dominates, 1 for a linear law); a line within 1% of one drawn before it at every n (an
    RNN and a CNN both keep about 2 d elements per token and layer) is dashed on top and
    says so in the legend.
    budget_bytes, if given, is a horizontal reference line. Returns the axes.
    """
    import math

    import torch

    from . import costs
    from .specs import Transformer

    dtype = torch.float16 if dtype is None else dtype
    ns = sorted(ns)
    if len(ns) < 2:
        raise ValueError(f"ns must hold at least two lengths, got {ns!r}")
    if ax is None:
        _, ax = figure(width=7.4, height=4.4)
    mib, drawn = 2**20, []

    def draw(values, spec, dash, text):
        slope = math.log(values[-1] / values[-2]) / math.log(ns[-1] / ns[-2])
        for earlier, name in drawn:  # a line hidden under an earlier one: dash it on top
            if all(math.isclose(v, e, rel_tol=0.01) for v, e in zip(values, earlier)):
                dash, text = (0, (3, 3)), f"{text}, ≈ {name}"
                break
        drawn.append((values, text))
        text = f"{text}  (slope {slope:.2f})"
        ax.plot(ns, [v / mib for v in values], color=color(spec), ls=dash, lw=2, label=text)

    for spec in specs:
        name = label(spec)
        if not isinstance(spec, Transformer):
            draw([costs.activation_bytes(spec, n, batch, dtype) for n in ns], spec, "-", name)
            continue
        for kernel in kernels:
            values = [costs.activation_bytes(spec, n, batch, dtype, kernel) for n in ns]
            text = f"{name}, {'explicit' if kernel == 'explicit' else 'fused (sdpa)'}"
            draw(values, spec, "-" if kernel == "explicit" else "--", text)
        weights = [costs.attention_weights_bytes(n, spec.heads, batch, dtype) for n in ns]
        draw(weights, spec, ":", f"{name}: attention weights, one layer")
    if budget_bytes is not None:
        ax.axhline(budget_bytes / mib, color="#333333", ls="-.", lw=1.2, zorder=0)
        ax.annotate(
            f"budget {budget_bytes / 2**30:g} GiB",
            (ns[0], budget_bytes / mib),
            xytext=(2, 4),
            textcoords="offset points",
            fontsize=8,
            color="#333333",
        )
    _plain_log2(ax, "x")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n (tokens)")
    ax.set_ylabel(f"bytes saved for backward (MiB, {str(dtype).removeprefix('torch.')})")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def attention_kernels(records, axes=None):
    """Peak memory (left) and median time (right) of the attention core against n, log-log.

    Drawn in "Cutting the n^2" from ``bench.attention_kernels`` records: a line per kernel
    ("explicit", "sdpa", or the CUDA backends "flash", "efficient", "math"), the slope p of
    a least-squares fit log y = p log n + c (``bench.fit_exponent``) in the legend when three
    or more points ran. Points that did not run (out of memory, unsupported) are left out.
    axes: two axes side by side, or None for a new figure. Returns the two axes.
    """
    from .bench import fit_exponent

    if axes is None:
        _, axes = figure(ncols=2, width=9.0, height=3.8)
    groups = {}
    for record in records:
        if record.status == "ok":
            groups.setdefault(record.label, []).append(record)
    panels = ((axes[0], "peak_bytes", 2**20, "peak memory (MiB)"),
              (axes[1], "median_s", 1.0, "median time (s)"))  # fmt: skip
    for index, (name, points) in enumerate(groups.items()):
        points.sort(key=lambda r: r.n)
        ns = [r.n for r in points]
        for ax, field, unit, _ in panels:
            values = [getattr(r, field) / unit for r in points]
            text = name.removeprefix("attention (").removesuffix(")")
            if len(ns) >= 3:
                text += f"  (slope {fit_exponent(ns, values)[0]:.2f})"
            ax.plot(ns, values, color=_record_color(name), ls=LINESTYLES[index % len(LINESTYLES)],
                    marker=MARKERS[index % len(MARKERS)], ms=4, lw=1.8, label=text)  # fmt: skip
    for ax, _, _, ylabel in panels:
        _plain_log2(ax, "x")
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n (tokens)")
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, fontsize=8)
    return axes


def flops_vs_n(counts: dict, ax=None, colors=None):
    """Forward FLOPs against n, log-log, a line per named variant, its local slope in the legend.

    Drawn in "Cutting the n^2": counts {label: {n: FLOPs}} (measured on the meta device or
    from ``costs``); the slope is d log FLOPs / d log n between the last two lengths (2 for
    an n^2 law, 1 for a linear one). colors: {label: colour}, the Transformer colour by
    default; lines of one colour change dash. Returns the axes.
    """
    import math

    if not isinstance(counts, dict) or not counts:
        raise ValueError(f"counts must map labels to {{n: FLOPs}}, got {counts!r}")
    if ax is None:
        _, ax = figure(width=7.0, height=4.0)
    seen = {}
    for name, points in counts.items():
        ns = sorted(points)
        if len(ns) < 2:
            raise ValueError(f"counts[{name!r}] must hold two or more lengths, got {ns!r}")
        flops = [points[n] for n in ns]
        slope = math.log(flops[-1] / flops[-2]) / math.log(ns[-1] / ns[-2])
        colour = (colors or {}).get(name, COLORS["Transformer"])
        dash = LINESTYLES[seen.setdefault(colour, 0) % len(LINESTYLES)]
        seen[colour] += 1
        ax.plot(ns, flops, color=colour, ls=dash, lw=2, marker="o", ms=3,
                label=f"{name}  (slope {slope:.2f})")  # fmt: skip
    _plain_log2(ax, "x")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n (tokens)")
    ax.set_ylabel("forward FLOPs (one pass)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def utilization(records, peak_flop_per_s: float, ax=None):
    """Achieved FLOP/s as a percentage of a measured peak: a bar per (label, mode), the peak a line.

    Drawn in "Time and parallelism": U = (FLOPs / median time) / peak, from ``bench.sweep``
    Records and ``bench.matmul_peak``. Where several records share a label and mode, the one
    with the largest n (then batch) is drawn; the tick label gives its n. Records that did not
    run are left out. One colour per architecture; forward+backward hatched. Returns the axes.
    """
    import math

    from matplotlib.patches import Patch

    if isinstance(peak_flop_per_s, bool) or not isinstance(peak_flop_per_s, (int, float)):
        raise ValueError(f"peak_flop_per_s must be a number of FLOP/s, got {peak_flop_per_s!r}")
    if not (math.isfinite(peak_flop_per_s) and peak_flop_per_s > 0):
        raise ValueError(f"peak_flop_per_s must be positive and finite, got {peak_flop_per_s!r}")
    chosen = {}
    for record in records:
        key = (record.label, record.mode)
        if record.status == "ok" and (
            key not in chosen or (record.n, record.batch) > (chosen[key].n, chosen[key].batch)
        ):
            chosen[key] = record
    if not chosen:
        raise ValueError("records must hold at least one point that ran (status 'ok')")
    names = list(dict.fromkeys(name for name, _ in chosen))
    modes = list(dict.fromkeys(mode for _, mode in chosen))
    if ax is None:  # wide enough for every group's tick label
        _, ax = figure(width=max(6.4, 0.65 * len(names) * len(modes) + 2.4), height=3.8)
    width, hatches = 0.8 / len(modes), {mode: (None, "//", "..", "xx")[i] for i, mode in
                                        enumerate(modes)}  # fmt: skip
    ticks = []
    for i, name in enumerate(names):
        shown = [chosen[name, mode] for mode in modes if (name, mode) in chosen]
        ticks.append(f"{name}\nn = {max(r.n for r in shown)}")
        for j, mode in enumerate(modes):
            if (name, mode) not in chosen:
                continue
            value = 100 * chosen[name, mode].flop_per_s / peak_flop_per_s
            x = i + (j - (len(modes) - 1) / 2) * width
            ax.bar(x, value, 0.92 * width, color=_record_color(name), hatch=hatches[mode],
                   edgecolor="white", lw=0.6)  # fmt: skip
            ax.annotate(f"{value:.2g}%", (x, value), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.axhline(100, color="#333333", ls="--", lw=1.2, zorder=0)
    ax.annotate("matmul peak", (len(names) - 0.5, 100), xytext=(0, 3), textcoords="offset points",
                ha="right", fontsize=8, color="#333333")  # fmt: skip
    ax.set_xticks(range(len(names)), ticks, fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    top = max(100 * r.flop_per_s / peak_flop_per_s for r in chosen.values())
    ax.set_ylim(0, 1.12 * max(100, top))  # a noisy peak can be beaten: keep every bar in view
    ax.grid(axis="x", visible=False)
    ax.set_axisbelow(True)  # grid lines behind the bars
    ax.set_ylabel("achieved / matmul peak (%)")
    handles = [Patch(facecolor="#999999", hatch=hatches[mode], edgecolor="white", label=mode)
               for mode in modes]  # fmt: skip
    ax.legend(handles=handles, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return ax
