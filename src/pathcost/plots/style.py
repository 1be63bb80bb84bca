"""The book's one figure style: colours, line styles, the figure factory, shared axes helpers.

Okabe-Ito colours (safe for colour-blind readers) come from ``registry.ARCHITECTURES``, one
per architecture in every chapter; a solid white background so figures read on light and
dark page themes alike.
"""

import os
import sys

import matplotlib.pyplot as plt

from ..registry import ARCHITECTURES

# `make pdf` sets this to 1: a kernel then shows each figure as PDF (vector, which the LaTeX
# build embeds) beside the PNG (which HTML and Jupyter show); unset, figures are PNG only.
VECTOR_FIGURES = "PATHCOST_VECTOR_FIGURES"

COLORS = {entry.title: entry.colour for entry in ARCHITECTURES.values()}
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
MARKERS = ("o", "s", "^", "D")
ZERO_COLOR = "#DDDDDD"  # an exact zero in a dependency image: no route, not a small number


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6):
    """A new figure in the book's style: (fig, axes) as from ``plt.subplots``."""
    plt.rcParams.update(STYLE)
    if os.environ.get(VECTOR_FIGURES) == "1":
        _show_pdf_too()
    return plt.subplots(nrows, ncols, figsize=(width, height))


def _show_pdf_too() -> None:
    """In an IPython kernel, display figures as PNG and PDF from now on; elsewhere nothing."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; plain Python has not
    if ipython is not None and ipython.get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png", "pdf")


def record_colour(label_text: str) -> str:
    """Architecture colour from a label's first word ("LSTM", "LSTM, b_f = 1", "attention
    (sdpa)", ...); dark grey for a label that names no architecture."""
    first = label_text.replace(",", " ").split()[0]
    return COLORS.get(first, COLORS["Transformer"] if first == "attention" else "#333333")


def shade(colour: str, lightness: float) -> tuple:
    """`colour` mixed with white: lightness 0 is the colour itself, 1 is white."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1 - c) * lightness for c in to_rgb(colour))


def plain_log2(ax, which: str) -> None:
    """Make axis `which` ("x" or "y") log base 2, ticks as plain numbers (4096, not 2^12)."""
    from matplotlib.ticker import FuncFormatter

    getattr(ax, f"set_{which}scale")("log", base=2)
    getattr(ax, f"{which}axis").set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
