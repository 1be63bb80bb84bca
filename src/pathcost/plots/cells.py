"""What is inside one layer: the RNN and LSTM cell, a convolution layer, a Transformer block.

Drawn in "The four architectures in pictures". Every box carries, in monospace, the name of
the submodule of ``models.build(spec)`` that computes it (``input``, ``recurrent``, ``conv``,
``norm1``, ``attn``, ``qkv``, ``scores``, ``values``, ``out``, ``norm2``, ``ffn``), and
beside it the math in the book's notation. Arrows carry data, bottom or left first.
"""

from matplotlib.colors import to_rgb
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from ..checks import require_choice
from ..registry import ARCHITECTURES, single_architectures
from .style import MUTED, figure, shade

INK = "#222222"
NOTE = "#555555"


def draw_cell(arch: str, ax=None):
    """Draw one layer of `arch` ("rnn", "lstm", "cnn" or "transformer"); returns the axes.

    rnn: h(t) = tanh(W_x x(t) + b + W_h h(t-1)). lstm: gates i, f, o = σ(.), g = tanh(.),
    c(t) = f ⊙ c(t-1) + i ⊙ g, h(t) = o ⊙ tanh(c(t)). cnn: two causal layers, dilation 1
    then 2, output t reading positions t-(k-1)·dilation .. t. transformer: the pre-norm
    block x + attn(norm1(x)), then x + ffn(norm2(x)). The routes that count as hops in
    "Routing graphs" are marked on each drawing.
    """
    require_choice("arch", arch, single_architectures())
    drawer, width, height, xlim, ylim = _DRAWERS[arch]
    if ax is None:
        _, ax = figure(width=width, height=height)
    ax.set_axis_off()
    drawer(ax, ARCHITECTURES[arch].colour)
    ax.set(xlim=xlim, ylim=ylim, aspect="equal")
    return ax


def _box(ax, x, y, w, h, colour, name=None, body="", fontsize=9):
    """A rounded box centred at (x, y): the submodule's name on top in monospace, math below."""
    style = "round,pad=0.02,rounding_size=0.12"
    face = shade(colour, 0.82)
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, lw=1.4,
                                facecolor=face, edgecolor=colour, zorder=2))  # fmt: skip
    if name and body:
        ax.text(x, y + h * 0.2, name, ha="center", va="center", family="monospace",
                fontsize=fontsize, weight="bold", color=INK, zorder=3, gid="part")  # fmt: skip
        ax.text(x, y - h * 0.22, body, ha="center", va="center", fontsize=fontsize - 0.5,
                color=INK, zorder=3)  # fmt: skip
    else:  # an operation that is no submodule of its own (tanh, a gate)
        ax.text(x, y, body, ha="center", va="center", fontsize=fontsize, color=INK, zorder=3)


def _node(ax, x, y, symbol, colour, r=0.28):
    """A small circle holding an elementwise operation: +, ⊙."""
    ax.add_patch(FancyBboxPatch((x - r, y - r), 2 * r, 2 * r, boxstyle="circle,pad=0",
                                facecolor="white", edgecolor=colour, lw=1.4, zorder=2))  # fmt: skip
    ax.text(x, y, symbol, ha="center", va="center", fontsize=11, color=INK, zorder=3)


def _arrow(ax, start, end, colour=INK, lw=1.2):
    """An arrow from start to end, head at end."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=lw,
                                 color=colour, shrinkA=0, shrinkB=0, zorder=1))  # fmt: skip


def _line(ax, points, colour=INK, lw=1.2):
    """A polyline through points, without arrow heads."""
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=colour, lw=lw, zorder=1, solid_capstyle="butt")


def _text(ax, x, y, text, colour=INK, size=9, **kw):
    """Text centred at (x, y); a colour other than ink or grey is darkened to read as text."""
    if colour not in (INK, NOTE):
        colour = tuple(0.6 * c for c in to_rgb(colour))
    ax.text(x, y, text, ha=kw.pop("ha", "center"), va=kw.pop("va", "center"), fontsize=size,
            color=colour, zorder=3, **kw)  # fmt: skip


def _rnn(ax, colour):
    _text(ax, 4.4, 0.3, "x(t)", size=10)
    _arrow(ax, (4.4, 0.55), (4.4, 1.05))
    _box(ax, 4.4, 1.55, 2.8, 1.0, colour, "input", "W_x x(t) + b_x")
    _arrow(ax, (4.4, 2.05), (4.4, 3.02))
    _text(ax, 0.55, 3.3, "h(t-1)", size=10)
    _arrow(ax, (1.2, 3.3), (1.45, 3.3))
    _box(ax, 2.35, 3.3, 1.8, 1.0, colour, "recurrent", "W_h h(t-1)")
    _arrow(ax, (3.25, 3.3), (4.12, 3.3))
    _node(ax, 4.4, 3.3, "+", colour)
    _arrow(ax, (4.68, 3.3), (5.6, 3.3))
    _box(ax, 6.2, 3.3, 1.2, 0.7, colour, body="tanh", fontsize=10)
    _arrow(ax, (6.8, 3.3), (8.9, 3.3))
    _text(ax, 9.45, 3.3, "h(t)", size=10)
    _arrow(ax, (7.9, 3.3), (7.9, 4.7))
    _text(ax, 7.9, 4.95, "h(t): the output y(t), or the layer above", NOTE, 8)
    _text(ax, 8.15, 2.75, "to step t+1", NOTE, 8, ha="left")
    _text(ax, 4.7, 4.0, "state transfer h(t-1) → h(t): 1 hop", colour, 8.5, ha="right",
          style="italic")  # fmt: skip
    _text(ax, 4.6, 2.55, "x(t) → h(t): not a hop", colour, 8.5, ha="left", style="italic")
    _text(ax, 0.2, 0.3, "same W_x, W_h, b_x at every t", NOTE, 8, ha="left")


def _lstm(ax, colour):
    top, gates = 6.0, 3.7
    _text(ax, 0.55, top, "c(t-1)", size=10)
    _arrow(ax, (1.15, top), (2.72, top), colour, 2.0)
    _node(ax, 3.0, top, "⊙", colour)
    _arrow(ax, (3.28, top), (5.32, top), colour, 2.0)
    _node(ax, 5.6, top, "+", colour)
    _arrow(ax, (5.88, top), (11.0, top), colour, 2.0)
    _text(ax, 11.5, top, "c(t)", size=10)
    _text(ax, 1.2, top + 0.45, "cell state c: scaled by f(t) once per step", colour, 8.5,
          ha="left", style="italic")  # fmt: skip
    for x, gate, act, word in ((3.0, "f", "σ", "forget"), (4.7, "i", "σ", "input gate"),
                               (6.5, "g", "tanh", "candidate"), (8.3, "o", "σ", "output gate")):
        _box(ax, x, gates, 1.5, 0.9, colour, body=f"{gate}(t) = {act}(·)\n{word}", fontsize=9)
    _arrow(ax, (3.0, gates + 0.45), (3.0, top - 0.28))
    _node(ax, 5.6, 4.9, "⊙", colour)
    _line(ax, [(4.7, gates + 0.45), (4.7, 4.9)])
    _arrow(ax, (4.7, 4.9), (5.32, 4.9))
    _line(ax, [(6.5, gates + 0.45), (6.5, 4.9)])
    _arrow(ax, (6.5, 4.9), (5.88, 4.9))
    _arrow(ax, (5.6, 5.18), (5.6, top - 0.28))
    _line(ax, [(9.9, top), (9.9, 5.35)])
    _box(ax, 9.9, 5.0, 1.1, 0.6, colour, body="tanh")
    _arrow(ax, (9.9, 4.7), (9.9, gates + 0.28))
    _node(ax, 9.9, gates, "⊙", colour)
    _arrow(ax, (8.95, gates), (9.62, gates))
    _arrow(ax, (10.18, gates), (11.0, gates))
    _text(ax, 11.5, gates, "h(t)", size=10)
    _text(ax, 11.5, gates - 0.6, "the output,\nlayer above,\nstep t+1", NOTE, 7.5)
    _node(ax, 5.6, 2.3, "+", colour)
    for x in (3.0, 4.7, 6.5, 8.3):  # z(t) splits into four d-wide blocks, one per gate
        _arrow(ax, (5.6, 2.58), (x, gates - 0.45), lw=0.9)
    _box(ax, 3.0, 1.05, 2.0, 0.95, colour, "recurrent", "W_h h(t-1)")
    _arrow(ax, (3.0, 1.53), (5.35, 2.15))
    _text(ax, 0.55, 1.05, "h(t-1)", size=10)
    _arrow(ax, (1.15, 1.05), (1.98, 1.05))
    _box(ax, 8.2, 1.05, 2.3, 0.95, colour, "input", "W_x x(t) + b_x")
    _arrow(ax, (8.2, 1.53), (5.85, 2.15))
    _text(ax, 8.2, -0.05, "x(t)", size=10)
    _arrow(ax, (8.2, 0.2), (8.2, 0.57))
    _text(ax, 5.6, 0.45, "z(t) = the sum, split into\n4 blocks of width d,\none per gate", NOTE,
          7.5)  # fmt: skip


def _cnn(ax, colour):
    k, columns = 3, 7
    xs = [1.6 + 1.45 * m for m in range(columns)]  # positions t-6 .. t
    rows = [0.6, 2.5, 4.4]  # input, layer 1 (dilation 1), layer 2 (dilation 2)
    for name, y in zip(("input x", "layer 1", "layer 2"), rows):
        _text(ax, 0.0, y, name, NOTE, 8.5, ha="left")
    for m, x in enumerate(xs):
        offset = columns - 1 - m
        _text(ax, x, 0.05, "t" if offset == 0 else f"t-{offset}", size=9)
    for layer, dilation in ((1, 1), (2, 2)):
        below, above = rows[layer - 1], rows[layer]
        for column in range(columns):  # faint: the kernel of every other output
            for tap in range(k):
                if column - tap * dilation >= 0:
                    _line(ax, [(xs[column - tap * dilation], below), (xs[column], above)],
                          MUTED, 0.6)  # fmt: skip
        for tap in range(k):  # in colour: the kernel of output t
            source = xs[-1 - tap * dilation]
            _line(ax, [(source, below), (xs[-1], above)], colour, 2.0)
            at = 0.3 if tap else 0.5
            _text(ax, source + at * (xs[-1] - source) - 0.12, below + at * (above - below),
                  f"W_{tap}", colour, 8, ha="right")  # fmt: skip
    for y in rows:
        ax.scatter(xs, [y] * columns, s=30, color=INK, zorder=4)
    first = xs[-k] - 0.35
    ax.add_patch(Rectangle((first, rows[0] - 0.3), xs[-1] + 0.35 - first, 0.6, fill=False,
                           edgecolor=colour, lw=1.0, ls="--", zorder=1))  # fmt: skip
    _text(ax, (first + xs[-1] + 0.35) / 2, -0.6, "kernel of width k = 3: positions t-(k-1) .. t",
          colour, 8)  # fmt: skip
    _text(ax, 0.0, -0.6, "causal; a centred kernel reads (k-1)/2 positions each side", NOTE, 8,
          ha="left")  # fmt: skip
    right = xs[-1] + 2.15
    for y, dilation in zip(rows[1:], (1, 2)):
        _box(ax, right, y, 2.6, 0.95, colour, "conv", f"k = 3, dilation {dilation}")
        _text(ax, right, y - 0.72, "then GELU", NOTE, 8)
    _text(ax, 6.4, 5.35, "y(t) = GELU(b_c + Σ_m W_m x(t - m·δ)),  m = 0 .. k-1", size=9)
    _text(ax, 6.4, 5.85, "the same W_0 .. W_(k-1) and b_c at every t; one layer = 1 hop", colour,
          8.5, style="italic")  # fmt: skip


def _transformer(ax, colour):
    x0, left, side = 4.6, 1.0, 7.25
    _text(ax, x0, 0.25, "x: n positions × d_model", size=9.5)
    _arrow(ax, (x0, 0.5), (x0, 1.25))
    _box(ax, x0, 1.65, 3.2, 0.8, colour, "norm1", "LayerNorm")
    _arrow(ax, (x0, 2.05), (x0, 2.7))
    _box(ax, x0, 3.15, 3.2, 0.9, colour, "qkv", "Q, K, V projections")
    _arrow(ax, (x0, 3.6), (x0, 4.25))
    _text(ax, x0 + 0.1, 3.93, "Q, K", NOTE, 8, ha="left")
    _box(ax, x0, 4.75, 3.2, 1.0, colour, "scores", "A = softmax(QKᵀ / √d_k)")
    _arrow(ax, (x0, 5.25), (x0, 5.9))
    _line(ax, [(x0 + 1.6, 3.15), (x0 + 2.0, 3.15), (x0 + 2.0, 6.3)])
    _arrow(ax, (x0 + 2.0, 6.3), (x0 + 1.6, 6.3))
    _text(ax, x0 + 2.1, 3.5, "V", NOTE, 8, ha="left")
    _box(ax, x0, 6.3, 3.2, 0.8, colour, "values", "A V")
    _arrow(ax, (x0, 6.7), (x0, 7.3))
    _box(ax, x0, 7.7, 3.2, 0.8, colour, "out", "heads joined, W_o")
    _arrow(ax, (x0, 8.1), (x0, 8.62))
    ax.add_patch(Rectangle((x0 - 1.85, 2.6), 4.3, 5.6, fill=False, edgecolor=colour, lw=1.0,
                           ls="--", zorder=1))  # fmt: skip
    _text(ax, side, 7.95, "attn", colour, 9.5, ha="left", family="monospace", weight="bold",
          gid="part")  # fmt: skip
    _text(ax, side, 7.5, "self-attention", colour, 8, ha="left")
    _line(ax, [(side - 0.05, 4.25), (side + 0.1, 4.25), (side + 0.1, 6.7), (side - 0.05, 6.7)],
          colour, 1.0)  # fmt: skip
    _text(ax, side + 0.25, 5.5, "scores and\nvalues mix\npositions:\n1 hop", colour, 8,
          ha="left", style="italic")  # fmt: skip
    _text(ax, side, 3.15, "causal:\n-∞ above the\ndiagonal of\nthe scores", NOTE, 7.5,
          ha="left")  # fmt: skip
    _node(ax, x0, 8.9, "+", colour)
    _line(ax, [(x0, 0.9), (left, 0.9), (left, 8.9)], colour, 1.4)
    _arrow(ax, (left, 8.9), (x0 - 0.28, 8.9), colour, 1.4)
    _text(ax, left - 0.2, 4.9, "residual", colour, 8.5, ha="right", rotation=90)
    _arrow(ax, (x0, 9.18), (x0, 9.85))
    _box(ax, x0, 10.25, 3.2, 0.8, colour, "norm2", "LayerNorm")
    _arrow(ax, (x0, 10.65), (x0, 11.1))
    _box(ax, x0, 11.7, 3.6, 1.2, colour, "ffn", "Linear d → d_ff, GELU,\nLinear d_ff → d")
    _arrow(ax, (x0, 12.3), (x0, 12.72))
    _node(ax, x0, 13.0, "+", colour)
    _line(ax, [(x0, 9.55), (left, 9.55), (left, 13.0)], colour, 1.4)
    _arrow(ax, (left, 13.0), (x0 - 0.28, 13.0), colour, 1.4)
    _text(ax, left - 0.2, 11.3, "residual", colour, 8.5, ha="right", rotation=90)
    _arrow(ax, (x0, 13.28), (x0, 13.85))
    _text(ax, x0, 14.1, "y: same shape as x", size=9.5)
    _text(ax, side, 11.0, "each position\non its own", NOTE, 8, ha="left")


_DRAWERS = {  # arch -> (drawer, figure width, height, xlim, ylim), one per single architecture
    "rnn": (_rnn, 6.4, 3.4, (-0.1, 10.0), (0.0, 5.2)),
    "lstm": (_lstm, 7.2, 3.9, (-0.1, 12.7), (-0.3, 6.7)),
    "cnn": (_cnn, 7.4, 3.7, (-0.1, 14.0), (-1.0, 6.2)),
    "transformer": (_transformer, 5.0, 7.0, (-0.2, 9.4), (0.0, 14.4)),
}
