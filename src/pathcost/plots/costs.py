"""Figures of axis 2, resource complexity: FLOP shares, memory, time and utilisation against n."""

import math

import torch

from ..bench.fits import fit_exponent
from ..checks import require_real
from ..formulas import costs
from ..registry import colour, label, require_spec
from ..specs import Transformer
from .style import COLORS, LINESTYLES, MARKERS, figure, plain_log2, record_colour, shade


def scaling(records, ax=None, min_n: int = 1):
    """Median time against n, log-log, a line per (label, mode), its fitted slope in the legend.

    Only points that ran ("ok") are drawn; the slope is fitted on those with n >= min_n.
    Returns the axes.
    """
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
        colour = record_colour(name)
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


# conv is a CNN's only component, and a Hybrid's front end beside an LSTM's input (0.0);
# a linear recurrence draws input, recurrent and out; linear attention's kv and read (its
# outer products and its read of the prefix sums) sit where softmax attention's products do
_SHARE_SHADES = {
    "input": 0.0, "recurrent": 0.5, "conv": 0.25,
    "ffn": 0.55, "qkv": 0.75, "out": 0.88, "scores": 0.0, "values": 0.3, "fused": 0.0,
    "kv": 0.0, "read": 0.3,
}  # fmt: skip
_HATCHES = {"scores": "//", "values": "\\\\", "kv": "//", "read": "\\\\"}


def flop_shares(spec, counts: dict, ax=None, marks=None):
    """Share of forward FLOPs per component against n, stacked areas that sum to 1.

    Drawn in "Counting compute": share_c(n) = FLOPs_c(n) / sum over components of FLOPs(n),
    from counts {n: {component: FLOPs}} such as ``measure.flops_by_component`` returns on
    the meta device. Components are stacked in a fixed order (FFN at the bottom, the
    attention products, dark and hatched, on top: QK^T and AV, or linear attention's kv and
    read) in shades of the spec's architecture colour, each distinct from the others the
    spec draws; a component the book does not name is drawn near-white above them.
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
        tint = shade(colour(spec), _SHARE_SHADES.get(name, 0.95))
        hatch = _HATCHES.get(name)
        ax.fill_between(
            ns, bottom, top, facecolor=tint, edgecolor="white", lw=0.6, hatch=hatch, label=name
        )
        bottom = top
    for index, (text, n) in enumerate((marks or {}).items()):
        ax.axvline(n, color="#333333", lw=1.3, ls=LINESTYLES[1 + index % 3], label=text)
    plain_log2(ax, "x")
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
        ax.plot(ns, [v / mib for v in values], color=colour(spec), ls=dash, lw=2, label=text)

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
            f"budget {budget_bytes / 2**30:.1f} GiB",
            (ns[0], budget_bytes / mib),
            xytext=(2, 4),
            textcoords="offset points",
            fontsize=8,
            color="#333333",
        )
    plain_log2(ax, "x")
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
            ax.plot(ns, values, color=record_colour(name), ls=LINESTYLES[index % len(LINESTYLES)],
                    marker=MARKERS[index % len(MARKERS)], ms=4, lw=1.8, label=text)  # fmt: skip
    for ax, _, _, ylabel in panels:
        plain_log2(ax, "x")
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
    plain_log2(ax, "x")
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
    from matplotlib.patches import Patch

    require_real("peak_flop_per_s", peak_flop_per_s, low=0, low_open=True)
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
            ax.bar(x, value, 0.92 * width, color=record_colour(name), hatch=hatches[mode],
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
