"""The book's figures, in one style: ``style`` sets it, the other modules draw one axis each.

``paths`` draws axis 1 (routing graphs, path length, receptive fields), ``learning`` what
training sees over distance (gradient norms, accuracy against span), ``costs`` axis 2
(FLOP shares, memory, time and utilisation against n), ``budget`` a training step's bytes,
``cells`` what is inside one layer of each architecture, ``beyond`` the figures of "Beyond
the four".
"""

from . import advisor, beyond
from .budget import breakdown, checkpoint_trade
from .cells import draw_cell
from .costs import attention_kernels, flop_shares, flops_vs_n, memory_vs_n, scaling, utilization
from .learning import accuracy_vs_span, gradient_decay
from .paths import (
    dependency_image,
    draw_routing_graph,
    layers_to_cover_curves,
    path_length_curves,
    receptive_field_growth,
)
from .style import COLORS, LINESTYLES, MARKERS, MUTED, figure

__all__ = [
    "COLORS",
    "LINESTYLES",
    "MARKERS",
    "MUTED",
    "accuracy_vs_span",
    "advisor",
    "attention_kernels",
    "beyond",
    "breakdown",
    "checkpoint_trade",
    "dependency_image",
    "draw_cell",
    "draw_routing_graph",
    "figure",
    "flop_shares",
    "flops_vs_n",
    "gradient_decay",
    "layers_to_cover_curves",
    "memory_vs_n",
    "path_length_curves",
    "receptive_field_growth",
    "scaling",
    "utilization",
]
