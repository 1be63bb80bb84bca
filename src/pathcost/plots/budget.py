"""Figures of "The whole training budget": the step's bytes by kind, and checkpointing's trade."""

from ..formulas.budget import TrainingMemory
from ..registry import colour, label
from .style import MUTED, figure, shade

KINDS = ("params", "grads", "optimizer", "activations", "transient")  # master: 0 here
LIGHTNESS = dict(zip(KINDS, (0.0, 0.3, 0.5, 0.68, 0.85)))  # one shade per kind
HATCHES = dict(zip(KINDS, ("", "//", "..", "||", "\\\\")))
MiB = 2**20  # bars in binary units, as the book prints bytes


def breakdown(bars, ax=None):
    """Stacked bars of a training step's bytes by kind (MiB), with the modelled and the
    measured peak as markers.

    bars: a list of (spec, n, TrainingMemory, measured peak bytes or None). Each kind is a
    shade of the architecture's colour and a hatch (the legend shows the hatches in grey).
    The bar stacks every kind; the peak holds only part of it at once (gradients grow as
    activations are freed), so the modelled peak (a bar) sits below the top. log y.
    """
    from matplotlib.patches import Patch

    if not bars:
        raise ValueError("bars must hold at least one (spec, n, TrainingMemory, peak)")
    if ax is None:
        _, ax = figure(width=7.8, height=4.2)
    for i, (spec, _, memory, peak) in enumerate(bars):
        if not isinstance(memory, TrainingMemory):
            raise ValueError(f"bars[{i}] must hold a TrainingMemory, got {type(memory).__name__}")
        bottom = 0.0
        for kind in KINDS:
            value = getattr(memory, kind) / MiB
            ax.bar(i, value, bottom=bottom, color=shade(colour(spec), LIGHTNESS[kind]),
                   hatch=HATCHES[kind], edgecolor="#333333", lw=0.4)  # fmt: skip
            bottom += value
        ax.plot([i - 0.4, i + 0.4], [memory.total / MiB] * 2, color="#111111", lw=2,
                label="modelled peak" if i == 0 else None)  # fmt: skip
        if peak is not None:
            ax.plot(i, peak / MiB, marker="D", color="#111111", mfc="white", ms=6,
                    label="measured peak" if i == 0 else None)  # fmt: skip
    handles = [Patch(facecolor=shade("#555555", LIGHTNESS[k]), hatch=HATCHES[k],
                     edgecolor="#333333", label=k) for k in KINDS]  # fmt: skip
    lines, names = ax.get_legend_handles_labels()
    ax.set_xticks(range(len(bars)), [f"{label(s)}, n = {n}" for s, n, _, _ in bars], fontsize=7,
                  rotation=90)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylabel("bytes of one training step (MiB, log)")
    ax.legend(handles=handles + lines, labels=list(KINDS) + names, frameon=False, fontsize=8,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    return ax


def checkpoint_trade(curves, ax=None):
    """Memory against extra compute as more layers are checkpointed, one line per spec.

    curves: {spec: [(recompute FLOPs / training FLOPs without it, modelled peak bytes,
    measured peak bytes or None), ...]} from 0 checkpointed layers to all. Peaks are drawn
    relative to the first point (no checkpointing); measured points are open markers.
    """
    if not curves:
        raise ValueError("curves must hold at least one spec")
    if ax is None:
        _, ax = figure(width=6.4, height=3.8)
    for spec, points in curves.items():
        if not points:
            raise ValueError(f"curves[{label(spec)}] must hold at least one point")
        base = points[0][1]
        xs = [100 * extra for extra, _, _ in points]
        ax.plot(xs, [model / base for _, model, _ in points], color=colour(spec), lw=2,
                marker="o", label=f"{label(spec)}, model")  # fmt: skip
        first = points[0][2]
        measured = [] if first is None else [
            (x, m / first) for x, (_, _, m) in zip(xs, points) if m is not None
        ]
        if measured:
            ax.plot(*zip(*measured), ls="none", marker="o", mfc="white", ms=9,
                    color=colour(spec), label=f"{label(spec)}, measured")  # fmt: skip
    ax.axhline(1.0, color=MUTED, lw=1, zorder=0)
    ax.set_xlabel("extra compute: recomputed FLOPs / training FLOPs (%)")
    ax.set_ylabel("peak memory / peak without checkpointing")
    ax.legend(frameon=False, fontsize=8)
    return ax
