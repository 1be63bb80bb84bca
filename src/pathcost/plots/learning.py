"""Figures of learning over distance: gradient norms against steps back, accuracy against span."""

import math

import torch

from ..checks import is_real
from ..experiments.decay import decay_rate
from ..registry import ARCHITECTURES, colour
from .style import LINESTYLES, MARKERS, MUTED, figure, record_colour


def gradient_decay(
    norms: dict,
    ax=None,
    log: bool = True,
    start: int = 1,
    truncation=None,
    ylabel: str = "‖∂y_t / ∂x_(t−Δ)‖ relative to Δ = 0",
):
    """Gradient norm against distance k, divided by its k = 0 value, a line per named curve.

    norms: {label: g} with g[k] the norm k steps back (``jacobians.gradient_norms``). The
    legend gives each line's fitted per-step factor r (``decay.decay_rate`` from k = start).
    On a log axis, exact zeros (a truncated gradient) and underflow are left out of a line.
    Colour follows the label's first word (RNN, LSTM, Transformer; dark grey otherwise); the
    legend sits right of the axes. truncation, if given, is drawn as a vertical reference
    line at k = K. Returns the axes.
    """

    if ax is None:
        _, ax = figure(width=9.0, height=4.2)
    seen = {}
    for name, g in norms.items():
        g = torch.as_tensor(g, dtype=torch.float64).flatten()
        relative = g / g[0]
        k = torch.arange(len(g))
        shown = relative > 0 if log else torch.ones_like(relative, dtype=torch.bool)
        colour = record_colour(name)  # "LSTM, b_f = 1" is an LSTM
        dash = LINESTYLES[seen.setdefault(colour, 0) % len(LINESTYLES)]
        seen[colour] += 1
        text = f"{name}  (r = {decay_rate(g, start=start):.3f} per step)"
        ax.plot(k[shown], relative[shown], color=colour, ls=dash, lw=1.8, label=text)
    if truncation is not None:
        ax.axvline(truncation, color=MUTED, lw=1.2, ls="--", zorder=0)
        ax.annotate(
            f"truncation τ = {truncation}",
            (truncation, 1.0),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
            color="#555555",
        )
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("distance Δ (steps back from the last position)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


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
        colour = record_colour(name)
        variant = seen.setdefault(colour, 0)
        seen[colour] += 1
        ax.plot(
            *zip(*points),
            color=colour,
            ls=LINESTYLES[variant % len(LINESTYLES)],
            marker=MARKERS[variant % len(MARKERS)],
            ms=5,
            lw=1.8,
            label=name,
        )
    spans = sorted({row["span"] for row in rows})
    if bound is not None:
        ax.plot(
            sorted(bound),
            [bound[s] for s in sorted(bound)],
            color="#777777",
            ls="-.",
            lw=1.2,
            label="best without order (bag of tokens)",
        )
    if held_out is not None:
        half = 2 * math.sqrt(chance * (1 - chance) / held_out)
        ax.axhspan(chance - half, chance + half, color=MUTED, alpha=0.35, lw=0)
    ax.axhline(chance, color="#333333", ls=":", lw=1.2, label="chance, 1 / classes")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(spans))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(s) for s in spans])
    return _accuracy_axes(ax, "dependency span (positions)", title, legend)


def _accuracy_axes(ax, xlabel: str, title, legend: bool):
    """The finish of an accuracy figure: 0 to 1 up, its labels, a title, the legend right."""
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("held-out accuracy (fraction)")
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


# component: lightness of its shade of the architecture colour (0 = the colour itself), in
# stacking order; the attention products stay dark (and hatched) against a light FFN


def accuracy_by_bucket(runs, baseline, baseline_label: str, ax=None, title=None,
                       legend: bool = True):  # fmt: skip
    """Held-out accuracy per span bucket, a bar per model in each bucket, and a baseline.

    Drawn in "Capstone" from ``capstone.Run``s (their ``by_span`` rows); a bar takes the
    colour of its spec's architecture, and a second model of one architecture a hatch; its
    whisker is two standard errors, 2 sqrt(p (1 - p) / N) for the bucket's N sequences,
    cut at 0 and 1.
    baseline: an accuracy a model reaches without the decisive token (chance), or one per
    bucket (``capstone.majority_by_span`` rows), drawn dotted across its bucket and
    labelled baseline_label. Returns the axes.
    """
    if not runs:
        raise ValueError("runs must hold at least one capstone.Run")
    rows = runs[0].by_span
    levels = [baseline] * len(rows) if is_real(baseline) else [r[3] for r in baseline]
    if len(levels) != len(rows) or not all(0 < level < 1 for level in levels):
        raise ValueError(f"baseline must be a probability between 0 and 1, or one row per "
                         f"bucket ({len(rows)}), got {baseline!r}")  # fmt: skip
    if ax is None:
        _, ax = figure(width=7.0, height=3.6)
    buckets = [f"{low}–{high}\n({count} held out)" for low, high, count, _ in rows]
    width, seen = 0.8 / len(runs), {}
    for i, run in enumerate(runs):
        tint = colour(run.spec)
        hatch = ("", "//", "..")[seen.setdefault(tint, 0) % 3]
        seen[tint] += 1
        heights = [accuracy for *_, accuracy in run.by_span]
        errors = [2 * math.sqrt(p * (1 - p) / count) if count else 0
                  for (*_, count, p) in run.by_span]  # fmt: skip
        whiskers = [[min(e, h) for e, h in zip(errors, heights)],  # kept inside 0 .. 1
                    [min(e, 1 - h) for e, h in zip(errors, heights)]]  # fmt: skip
        ax.bar([b + (i - (len(runs) - 1) / 2) * width for b in range(len(buckets))], heights,
               width, yerr=whiskers, color=tint, hatch=hatch, edgecolor="white",
               error_kw={"elinewidth": 1, "ecolor": "#333333"}, label=run.name)  # fmt: skip
    for b, level in enumerate(levels):
        ax.plot([b - 0.45, b + 0.45], [level, level], color="#333333", ls=":", lw=1.4,
                label=baseline_label if b == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(buckets)), buckets)
    return _accuracy_axes(ax, "dependency span of the held-out sequence (positions)", title,
                          legend)  # fmt: skip


def attention_against_span(spans, mass_by_distance, ax=None):
    """Where a trained Transformer's last query looks against where the answer is.

    Drawn in "Capstone": the share of held-out sequences whose span is d (the truth) and
    the share of the last query's attention mass at distance d (``advisor.attention_span``
    with query=-1), both against d. Returns the axes.
    """
    spans = torch.as_tensor(spans).flatten()
    mass = torch.as_tensor(mass_by_distance, dtype=torch.float64)
    if len(spans) == 0 or mass.sum() <= 0:
        raise ValueError("spans and mass_by_distance must each hold something to draw")
    if ax is None:
        _, ax = figure(width=7.0, height=3.4)
    top = max(int(spans.max()), len(mass) - 1)
    truth = torch.bincount(spans, minlength=top + 1).double()
    distances = range(top + 1)
    ax.step(distances, truth / truth.sum(), where="mid", color="#333333", lw=1.6,
            label="true span (share of sequences)")  # fmt: skip
    learned = torch.cat([mass, mass.new_zeros(top + 1 - len(mass))])
    tint = ARCHITECTURES["transformer"].colour
    ax.step(distances, learned / learned.sum(), where="mid", color=tint, lw=1.6, ls="--",
            label="attention of the last query (share of mass)")  # fmt: skip
    ax.set_xlabel("distance back from the last position (positions)")
    ax.set_ylabel("share")
    ax.legend(frameon=False, fontsize=8)
    return ax
