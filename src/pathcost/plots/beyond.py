"""The figures of "Beyond the four": recall against pairs, loop against scan, state against n."""

from ..registry import ARCHITECTURES, colour, label
from .style import LINESTYLES, MARKERS, figure


def recall_curves(rows, ax=None):
    """Recall accuracy (y) against stored pairs (x, log 2), one line per kernel and d_k.

    rows: {"kernel", "d_k", "pairs", "accuracy"} (``experiments.recall.recall_accuracy``);
    softmax in the Transformer's colour, linear in linear attention's; chance 1 / pairs dotted.
    """
    if not rows:
        raise ValueError("rows must hold at least one recall measurement")
    if ax is None:
        _, ax = figure()
    tints = {"softmax": ARCHITECTURES["transformer"].colour,
             "linear": ARCHITECTURES["linear-attention"].colour}  # fmt: skip
    widths = sorted({row["d_k"] for row in rows})
    for kernel in tints:
        for style, d_k in zip(LINESTYLES, widths):
            line = sorted((r["pairs"], r["accuracy"]) for r in rows
                          if r["kernel"] == kernel and r["d_k"] == d_k)  # fmt: skip
            if line:
                ax.plot(*zip(*line), style, marker="o", ms=4, color=tints[kernel],
                        label=f"{kernel}, $d_k$ = {d_k}")  # fmt: skip
    pairs = sorted({row["pairs"] for row in rows})
    ax.plot(pairs, [1 / p for p in pairs], ":", color="#777777", label="chance, 1 / pairs")
    ax.set(ylim=(0, 1.02))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("key-value pairs stored (count)")
    ax.set_ylabel("recall accuracy (fraction)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def loop_against_scan(rows, ax=None):
    """Forward time (y, s) against n (x), log-log: the loop and the scan of one recurrence.

    rows: {"n", "loop_s", "scan_s"} (``bench.scan.loop_against_scan``).
    """
    if not rows:
        raise ValueError("rows must hold at least one timing")
    if ax is None:
        _, ax = figure()
    tint = ARCHITECTURES["linear-recurrence"].colour
    ns = [row["n"] for row in rows]
    for key, style, marker, name in (("loop_s", "-", "o", "loop: n transfers in turn"),
                                     ("scan_s", "--", "s", "Brent-Kung scan")):  # fmt: skip
        ax.plot(ns, [row[key] for row in rows], style, marker=marker, ms=4, color=tint,
                label=name)  # fmt: skip
    ax.set(xscale="log", yscale="log")
    ax.set_xlabel("sequence length n (positions)")
    ax.set_ylabel("forward time (s)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def state_against_n(rows, ax=None):
    """Decode state (y, bytes) against tokens decoded (x), log-log, one line per spec.

    rows: {"spec", "n", "formula", "measured"}; the formula is a line, the bytes of the real
    decoder's state (``measure.cache.state_bytes``) are markers on it.
    """
    if not rows:
        raise ValueError("rows must hold at least one state measurement")
    if ax is None:
        _, ax = figure()
    specs = list(dict.fromkeys(row["spec"] for row in rows))
    for marker, spec in zip(MARKERS * len(specs), specs):
        mine = sorted((r["n"], r["formula"], r["measured"]) for r in rows if r["spec"] == spec)
        ns, formula, measured = zip(*mine)
        ax.plot(ns, formula, "-", color=colour(spec), label=f"{label(spec)} (formula)")
        ax.plot(ns, measured, marker, ms=5, ls="none", color=colour(spec), mfc="white",
                label=f"{label(spec)} (measured)")  # fmt: skip
    ax.set(xscale="log", yscale="log")
    ax.set_xlabel("tokens decoded n (count)")
    ax.set_ylabel("decode state (bytes)")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax
