"""pathcost: choose CNN, RNN, LSTM or Transformer by dependency path length and resource cost.

The formulas (``paths``) are checked in the tests against measurements of real modules.
"""

from . import bench, book, paths, plots
from .paths import (
    layers_to_cover,
    path_length,
    receptive_field,
    routing_graph,
    sequential_steps,
    shortest_path,
)
from .specs import CNN, LSTM, RNN, Transformer

__version__ = "0.1.0"

__all__ = [
    "CNN",
    "LSTM",
    "RNN",
    "Transformer",
    "bench",
    "book",
    "layers_to_cover",
    "path_length",
    "paths",
    "plots",
    "receptive_field",
    "routing_graph",
    "sequential_steps",
    "shortest_path",
]
