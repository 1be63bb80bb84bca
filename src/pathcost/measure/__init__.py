"""The measured twins: each formula of ``paths`` and ``costs`` read off a real module run.

Nothing here knows a formula. ``flops`` counts matrix products with PyTorch's FLOP counter,
``memory`` reads bytes saved for backward and allocation peaks, ``cache`` the K and V rows
a decoder keeps, ``steps`` the longest chain of dependent products in the executed graph,
``jacobians`` path length and receptive field from autograd, ``order`` whether a module
sees the order of its input. The tests set every formula beside its twin; the chapters
show both.
"""

from .cache import kv_cache_bytes, state_bytes
from .flops import COMPONENTS, flops, flops_by_component
from .jacobians import (
    dependency_matrix,
    dependency_row,
    gradient_norms,
    path_length,
    receptive_field,
)
from .memory import peak_bytes, saved_bytes
from .order import permutation_gap, permutation_gaps
from .steps import longest_chain, sequential_steps
from .traffic import TrafficCounter, decode_traffic, forward_traffic, prefill_traffic

__all__ = [
    "COMPONENTS",
    "TrafficCounter",
    "dependency_matrix",
    "decode_traffic",
    "dependency_row",
    "flops",
    "flops_by_component",
    "forward_traffic",
    "gradient_norms",
    "kv_cache_bytes",
    "longest_chain",
    "path_length",
    "peak_bytes",
    "permutation_gap",
    "permutation_gaps",
    "prefill_traffic",
    "receptive_field",
    "saved_bytes",
    "sequential_steps",
    "state_bytes",
]
