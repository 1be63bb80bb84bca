"""pathcost: choose CNN, RNN, LSTM or Transformer by dependency path length and resource cost.

Formulas live in ``paths`` (axis 1) and ``costs`` (axis 2); ``models.build`` makes the real
modules they describe; ``measure`` and ``jacobians`` measure those modules, and the tests
hold each formula to its measurement.
"""

from . import bench, book, costs, decay, exercises, jacobians, measure, models, paths, plots, tasks
from .costs import (
    activation_bytes,
    attention_ffn_crossover,
    attention_weights_bytes,
    forward_flops,
    forward_flops_by_component,
    kv_cache_bytes,
    max_seq_len,
    params,
)
from .models import build
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
    "activation_bytes",
    "attention_ffn_crossover",
    "attention_weights_bytes",
    "bench",
    "book",
    "build",
    "costs",
    "decay",
    "exercises",
    "forward_flops",
    "forward_flops_by_component",
    "jacobians",
    "kv_cache_bytes",
    "layers_to_cover",
    "max_seq_len",
    "measure",
    "models",
    "params",
    "path_length",
    "paths",
    "plots",
    "receptive_field",
    "routing_graph",
    "sequential_steps",
    "tasks",
    "shortest_path",
]
