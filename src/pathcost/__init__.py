"""pathcost: choose CNN, RNN, LSTM or Transformer by dependency path length and resource cost.

The layers of the package (CONTRIBUTING.md draws the tree):

- vocabulary: ``specs`` (the architectures' frozen configs) and ``registry`` (one table per
  vocabulary: architecture names, dtypes, attention kernels, run sizes); ``checks``;
- formulas: ``paths`` (axis 1) and ``costs`` (axis 2), pure arithmetic;
- real modules: ``models.build(spec)``;
- measured twins: ``measure`` (FLOP counter, saved bytes, peaks, cache rows, executed-graph
  depth, Jacobians), which knows none of the formulas;
- the reader's device: ``runtime`` (device, run size, threads) and ``bench`` (timing,
  fits, sweeps, records);
- experiments: ``tasks``, ``training``, ``decay``;
- book support: ``plots``, ``book`` (glue, tables), ``exercises``; and the ``cli``.
"""

from . import bench, book, cli, exercises, measure, models, plots, registry, runtime, specs
from .experiments import decay, tasks, training
from .formulas import costs, paths
from .formulas.costs import (
    activation_bytes,
    attention_ffn_crossover,
    attention_weights_bytes,
    forward_flops,
    forward_flops_by_component,
    kv_cache_bytes,
    max_seq_len,
    params,
)
from .formulas.paths import (
    covering_cnn,
    layers_to_cover,
    path_length,
    receptive_field,
    routing_graph,
    sequential_steps,
    shortest_path,
)
from .models import build
from .specs import CNN, LSTM, RNN, Transformer, dilations

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
    "cli",
    "covering_cnn",
    "costs",
    "decay",
    "dilations",
    "exercises",
    "forward_flops",
    "forward_flops_by_component",
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
    "registry",
    "routing_graph",
    "runtime",
    "sequential_steps",
    "shortest_path",
    "specs",
    "tasks",
    "training",
]
