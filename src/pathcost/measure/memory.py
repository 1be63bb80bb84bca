"""Memory measured on a real run: bytes saved for backward, and the peak of allocated bytes.

The measured twins of ``costs.activation_bytes`` and of the training-memory laws of
"Memory". They know none of the formulas; the tests set the two side by side.
"""

import os

import torch

from ..checks import require_module_input

os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # keep the profiler's start/stop lines quiet


def saved_bytes(module, x) -> int:
    """Bytes autograd saves for backward in module(x): each storage once, parameters excluded.

    Counts whole storages (a saved view keeps its whole storage alive). Works on ``meta``
    tensors too, so training-memory laws can be checked at sizes that would not fit.
    """
    require_module_input(module, x)
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

    Counts what fn allocates and frees itself: on the CPU a free of memory allocated
    before the call is not seen, so pass a fn that cleans up after itself.

    On CUDA from the caching allocator's statistics; elsewhere from the PyTorch profiler's
    memory events (every tensor allocation and free, in order). Process RSS is not used:
    it also counts the allocator's cache and the interpreter.
    """
    device = _device(fn, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    live = peak = 0
    for event in memory_events(fn)[0]:
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def _device(fn, device) -> torch.device:
    """Check fn is callable; the device to measure on (CPU by default)."""
    if not callable(fn):
        raise ValueError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    return torch.device("cpu" if device is None else device)


def memory_events(fn) -> tuple:
    """(the profiler's allocation and free events while fn() runs, in order; fn's result).

    NB: the raw event list is the only place with every allocation and free in order (the
    public FunctionEvents fold them into ops and lose peaks inside an op).
    """
    _device(fn, None)
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as profile:
        result = fn()
    events = [e for e in profile.profiler.kineto_results.events() if e.name() == "[memory]"]
    return sorted(events, key=lambda e: e.start_ns()), result
