"""Measured twins of the cost formulas: FLOPs counted, bytes saved for backward, peak memory.

Each function measures a real module run and knows none of the formulas in ``costs.py``;
the tests set the two side by side. The path-length twins (Jacobian reachability) live in
``jacobians.py`` and are re-exported here.

Blind spots of ``torch.utils.flop_counter.FlopCounterMode`` handled here (PyTorch 2.13, CPU):
the oneDNN LSTM kernel and the CPU flash-attention kernel are counted as 0 unless oneDNN is
switched off and the CPU attention op is given a formula. On the ``meta`` device no fused
path runs and every count is exact, so large n is counted there at no memory cost.
"""

import os
import warnings
from collections import defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .jacobians import gradient_norms, path_length, receptive_field

os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # keep the profiler's start/stop lines quiet

COMPONENTS = ("input", "recurrent", "conv", "qkv", "scores", "values", "fused", "out", "ffn")

__all__ = [
    "COMPONENTS",
    "flops",
    "flops_by_component",
    "gradient_norms",
    "path_length",
    "peak_bytes",
    "receptive_field",
    "saved_bytes",
]


def _cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """NB: like PyTorch's own sdpa formula, counts both products in full even when causal."""
    return sdpa_flop_count(query, key, value)


_CPU_BLIND_SPOTS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops,
}


def _require_module_input(module, x) -> None:
    """Raise ValueError unless module is a torch module and x a tensor it can take."""
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")


def _count(module, x) -> FlopCounterMode:
    _require_module_input(module, x)
    counter = FlopCounterMode(display=False, custom_mapping=_CPU_BLIND_SPOTS)
    with warnings.catch_warnings():  # mkldnn.flags() warns about TF32 on Intel GPUs
        warnings.filterwarnings("ignore", message="TF32 acceleration")
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), counter:
            module(x)
    return counter


def flops(module, x) -> int:
    """Matmul and convolution FLOPs (2 per multiply-accumulate) of one forward pass module(x)."""
    return _count(module, x).get_total_flops()


def flops_by_component(module, x) -> dict[str, int]:
    """FLOPs of one forward pass summed by component: the last name of each submodule path.

    Components are the names in COMPONENTS that ``models.build`` gives its submodules
    (``layers.3.attn.qkv`` counts as ``qkv``); FLOPs outside them land in ``other``.
    """
    counts = _count(module, x).get_flop_counts()
    by_component = defaultdict(int)
    for path, per_op in counts.items():
        name = path.rsplit(".", 1)[-1]
        if name in COMPONENTS:
            by_component[name] += sum(per_op.values())
    other = sum(counts["Global"].values()) - sum(by_component.values())
    if other:
        by_component["other"] = other
    return dict(by_component)


def saved_bytes(module, x) -> int:
    """Bytes autograd saves for backward in module(x): each storage once, parameters excluded.

    Counts whole storages (a saved view keeps its whole storage alive). Works on ``meta``
    tensors too, so training-memory laws can be checked at sizes that would not fit.
    """
    _require_module_input(module, x)
    parameters = {p.untyped_storage()._cdata for p in module.parameters()}
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in parameters:
            saved[storage._cdata] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(x)
    return sum(saved.values())


def peak_bytes(fn, device=None) -> int:
    """Peak bytes allocated while fn() runs, above what was allocated when it started.

    On CUDA from the caching allocator's statistics; elsewhere from the PyTorch profiler's
    memory events (every tensor allocation and free, in order). Process RSS is not used:
    it also counts the allocator's cache and the interpreter.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as profile:
        fn()
    # NB: the raw event list is the only place with every allocation and free in order
    # (the public FunctionEvents fold them into ops and lose peaks inside an op).
    events = [e for e in profile.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak
