"""pathcost: choose CNN, RNN, LSTM or Transformer by dependency path length and resource cost.

A Hybrid (a strided convolution, then one of the four) is registered beside them, and so
are the two of "Beyond the four": LinearAttention and LinearRecurrence (``linear``).

The layers of the package (CONTRIBUTING.md draws the tree):

- vocabulary: ``specs`` (the architectures' frozen configs) and ``registry`` (one table per
  vocabulary: architecture names, dtypes, attention kernels, run sizes); ``checks``;
- formulas: ``paths`` (axis 1), ``costs``, ``decode``, ``traffic`` and ``budget`` (axis 2),
  pure arithmetic;
- real modules: ``models.build(spec)`` (with ``linear``), ``decoding``, and
  ``training_step`` (one real step);
- measured twins: ``measure`` (FLOP counter, saved bytes, peaks, cache rows, executed-graph
  depth, Jacobians), which knows none of the formulas;
- the reader's device: ``runtime`` (device, run size, threads) and ``bench`` (timing,
  fits, sweeps, records);
- experiments: ``tasks``, ``training``, ``decay``, ``capstone``, ``recall``;
- book support: ``plots``, ``book`` (glue, tables), ``exercises`` and ``assignments`` (their
  nbgrader export), ``claims`` (the rules of thumb, recomputed), ``gpu_report``; and the ``cli``.
"""

from . import (
    advisor,
    assignments,
    banded,
    bench,
    book,
    claims,
    cli,
    decoding,
    devices,
    downsampling,
    exercises,
    gpu_report,
    linear,
    measure,
    models,
    plots,
    registry,
    reports,
    runtime,
    specs,
    training_step,
)
from .decoding import Decoder
from .devices import device_profile, roofline_time
from .experiments import capstone, decay, recall, tasks, training
from .formulas import budget, costs, decode, kernels, paths
from .formulas.budget import max_batch, max_seq_len, training_memory
from .formulas.costs import (
    activation_bytes,
    attention_ffn_crossover,
    attention_weights_bytes,
    forward_flops,
    forward_flops_by_component,
    kv_cache_bytes,
    kv_cache_rows,
    params,
)
from .formulas.decode import decode_state_bytes, decode_step_flops, generation_steps
from .formulas.kernels import (
    causal_crossover,
    executed_attention_flops,
    executed_forward_flops,
    window_scores,
    window_size,
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
from .formulas.traffic import arithmetic_intensity, bytes_moved
from .models import build
from .specs import CNN, LSTM, RNN, Hybrid, LinearAttention, LinearRecurrence, Transformer, dilations

__version__ = "0.1.0"

__all__ = [
    "CNN",
    "Decoder",
    "Hybrid",
    "LSTM",
    "LinearAttention",
    "LinearRecurrence",
    "RNN",
    "Transformer",
    "activation_bytes",
    "advisor",
    "assignments",
    "arithmetic_intensity",
    "attention_ffn_crossover",
    "attention_weights_bytes",
    "banded",
    "bench",
    "book",
    "budget",
    "build",
    "bytes_moved",
    "capstone",
    "claims",
    "causal_crossover",
    "cli",
    "covering_cnn",
    "costs",
    "decay",
    "decode",
    "decode_state_bytes",
    "decode_step_flops",
    "decoding",
    "device_profile",
    "devices",
    "downsampling",
    "dilations",
    "executed_attention_flops",
    "executed_forward_flops",
    "exercises",
    "gpu_report",
    "forward_flops",
    "forward_flops_by_component",
    "generation_steps",
    "kernels",
    "kv_cache_bytes",
    "kv_cache_rows",
    "layers_to_cover",
    "linear",
    "max_batch",
    "max_seq_len",
    "measure",
    "models",
    "params",
    "path_length",
    "paths",
    "plots",
    "recall",
    "receptive_field",
    "registry",
    "reports",
    "roofline_time",
    "routing_graph",
    "runtime",
    "sequential_steps",
    "shortest_path",
    "specs",
    "tasks",
    "training",
    "training_memory",
    "training_step",
    "window_scores",
    "window_size",
]
