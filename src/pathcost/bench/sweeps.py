"""Sweeps: time and peak memory of real modules over lengths n, recorded as data.

A point that does not run (over the memory cap, out of memory, no such kernel on this
device) is a ``Record`` with its status, not a crash, so a sweep on any device finishes.
"""

import warnings
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .. import models
from ..checks import require_choice, require_positive
from ..formulas import costs
from ..measure.memory import peak_bytes
from ..registry import ARCHITECTURES, RUN_SIZES, label
from ..runtime import device
from .timing import Timing, time

MODES = ("forward", "forward+backward")
BACKWARD_FACTOR = 3  # NB: backward ~ 2x forward matmul FLOPs (input and weight gradients)
PEAK_FACTOR = 3  # peak ~ up to 3x the bytes saved for backward: scores, masked scores and
# weights are alive at once in explicit attention (measured on CPU); used only for the cap


@dataclass(frozen=True)
class Record:
    """One point of a sweep. status: "ok", "oom" (out of memory), "skipped" (over the cap),
    or "unsupported" (no such kernel on this device); timings are then None. peak_bytes is
    also None where the sweep was asked not to measure memory."""

    label: str
    n: int
    batch: int
    mode: str
    status: str
    median_s: float | None
    iqr_s: float | None
    peak_bytes: int | None
    flops: int
    flop_per_s: float | None
    estimate_bytes: int
    device: str


def _time_only(fn, dev, min_run_time) -> tuple[Timing, None]:
    with warnings.catch_warnings():  # a sweep keeps the IQR in its records instead
        warnings.simplefilter("ignore")
        return time(fn, dev, min_run_time=min_run_time), None


def _run(fn, dev, min_run_time) -> tuple[Timing, int]:
    timing, _ = _time_only(fn, dev, min_run_time)
    return timing, peak_bytes(fn, dev)


def _point(name, fn, n, batch, mode, flops, estimate, dev, cap, min_run_time,
           memory=True) -> Record:  # fmt: skip
    """Time and measure fn, or record why not: over the memory cap, out of memory, no kernel."""
    common = dict(label=name, n=n, batch=batch, mode=mode, flops=flops, device=str(dev))
    common["estimate_bytes"] = estimate

    def missing(status: str) -> Record:
        return Record(**common, status=status, median_s=None, iqr_s=None, peak_bytes=None,
                      flop_per_s=None)  # fmt: skip

    if cap is not None and estimate > cap:
        return missing("skipped")
    try:
        # NB: on a CPU the peak comes from the profiler, which can cost more than the timing
        timing, peak = (_run if memory else _time_only)(fn, dev, min_run_time)
    except torch.OutOfMemoryError:
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return missing("oom")
    except RuntimeError as error:  # a kernel this device lacks is data, not a crash
        if "No available kernel" not in str(error):
            raise
        return missing("unsupported")
    return Record(**common, status="ok", median_s=timing.median, iqr_s=timing.iqr,
                  peak_bytes=peak, flop_per_s=flops / timing.median)  # fmt: skip


def _require_sweep(ns, batches, modes, memory_cap) -> None:
    if not ns or not batches:
        raise ValueError("ns and batches must each hold at least one value")
    require_positive(**{f"ns[{i}]": n for i, n in enumerate(ns)})
    require_positive(**{f"batches[{i}]": b for i, b in enumerate(batches)})
    for mode in modes:
        require_choice("modes", mode, MODES)
    if memory_cap is not None:
        require_positive(memory_cap=memory_cap)


def step(module, n: int, d_model: int, batch: int = 1, mode: str = "forward", dev=None,
         dtype=torch.float32):  # fmt: skip
    """A callable running module on a fresh randn(batch, n, d_model): one forward without
    autograd ("forward"), or a forward, a backward and the gradients freed again
    ("forward+backward"), so that a peak measured around it is the step's own."""
    require_positive(n=n, d_model=d_model, batch=batch)
    require_choice("mode", mode, MODES)
    dev = device() if dev is None else torch.device(dev)

    def run():
        x = torch.randn(batch, n, d_model, device=dev, dtype=dtype)
        if mode == "forward":
            with torch.no_grad():
                return module(x)
        module(x).sum().backward()
        module.zero_grad(set_to_none=True)

    return run


def peaks(spec, ns, attention: str = "explicit", dev=None, dtype=torch.float32) -> dict:
    """Peak bytes of one training step of build(spec, attention) at each n: {n: bytes}.

    "Memory" sets them beside the bytes saved for backward. The first n runs once untimed
    (first calls allocate workspaces); an n that runs out of GPU memory maps to None.
    """
    _require_sweep(ns, [1], [], None)
    dev = device() if dev is None else torch.device(dev)
    module = models.build(spec, attention).to(dev, dtype)
    step(module, ns[0], spec.d_model, 1, "forward+backward", dev, dtype)()  # warm-up
    measured = {}
    for n in ns:
        try:
            measured[n] = peak_bytes(step(module, n, spec.d_model, 1, "forward+backward", dev,
                                          dtype), dev)  # fmt: skip
        except torch.OutOfMemoryError:  # recorded as data, not a crash
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            measured[n] = None
    return measured


def sweep(
    spec,
    ns,
    batches=(1,),
    modes=("forward",),
    dev=None,
    dtype=torch.float32,
    attention="explicit",
    memory_cap=None,
    min_run_time=0.1,
    progress=True,
    memory=True,
) -> list:
    """Time and peak memory of build(spec) over lengths ns and batch sizes, as Records.

    "forward" runs without autograd; "forward+backward" runs a training step (its FLOPs
    taken as BACKWARD_FACTOR x forward). A point whose estimated bytes (PEAK_FACTOR x the
    activations saved for backward, plus parameters) exceed memory_cap is skipped, so a CPU
    run never swaps; on a GPU an out-of-memory error is recorded, the allocator cache
    emptied, and the sweep goes on. memory=False times only (peak_bytes None): on a CPU the
    profiler that measures the peak runs one more call per point, and a slower one.
    """
    _require_sweep(ns, batches, modes, memory_cap)
    dev = device() if dev is None else torch.device(dev)
    module = models.build(spec, attention).to(dev, dtype)
    name, size = label(spec), costs.itemsize(dtype)
    grid = [(b, n, m) for b in batches for n in ns for m in modes]
    records = []
    for batch, n, mode in tqdm(grid, desc=name, disable=not progress, leave=False):
        estimate = PEAK_FACTOR * costs.activation_bytes(spec, n, batch, dtype, attention)
        estimate += costs.params(spec) * size

        fn = step(module, n, spec.d_model, batch, mode, dev, dtype)
        flops = costs.forward_flops(spec, n, batch) * (1 if mode == "forward" else BACKWARD_FACTOR)
        records.append(
            _point(name, fn, n, batch, mode, flops, estimate, dev, memory_cap, min_run_time, memory)
        )
    return records


def _attention_calls(q, k, v, backends: dict) -> dict:
    """Forward-only callables of the attention core: explicit, and fused per SDPA backend."""
    from torch.nn.attention import sdpa_kernel

    scores, values, fused = models.Scores(), models.Values(), models.Fused()

    @torch.no_grad()
    def explicit():
        return values(scores(q, k, 0.0), v)

    def fused_with(backend):
        @torch.no_grad()
        def call():
            if backend is None:  # whatever PyTorch picks on this device
                return fused(q, k, v, None)
            with sdpa_kernel(backend):
                return fused(q, k, v, None)

        return call

    return {"explicit": explicit, **{name: fused_with(b) for name, b in backends.items()}}


def attention_kernels(
    ns, d_model=64, heads=4, batch=1, dev=None, dtype=torch.float32, memory_cap=None,
    min_run_time=0.1, progress=True, memory=True,
) -> list:  # fmt: skip
    """The attention core softmax(Q K^T / sqrt(d_k)) V, explicit against fused, over lengths ns.

    On a CPU: "explicit" and PyTorch's default "sdpa" kernel. On CUDA each SDPA backend is
    asked for by name ("flash", "efficient", "math") with ``torch.nn.attention.sdpa_kernel``;
    one the device lacks is recorded as "unsupported". FLOPs: 4 B n^2 d for both products.
    The estimate for the memory cap: Q, K, V and output, plus PEAK_FACTOR x the weights for
    the kernels that materialise them. memory=False times only, as in ``sweep``.
    """
    from torch.nn.attention import SDPBackend

    _require_sweep(ns, [batch], ["forward"], memory_cap)
    require_positive(d_model=d_model, heads=heads)
    if d_model % heads:
        raise ValueError(f"d_model must be divisible by heads, got {d_model} and {heads}")
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        backends = {
            "flash": SDPBackend.FLASH_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "math": SDPBackend.MATH,
        }
    else:
        backends = {"sdpa": None}
    records = []
    for n in tqdm(ns, desc="attention kernels", disable=not progress, leave=False):
        shape = (batch, heads, n, d_model // heads)
        q, k, v = (torch.randn(shape, device=dev, dtype=dtype) for _ in range(3))
        flops = 4 * batch * n * n * d_model
        weights = costs.attention_weights_bytes(n, heads, batch, dtype)
        for name, fn in _attention_calls(q, k, v, backends).items():
            estimate = 4 * q.nbytes + (PEAK_FACTOR * weights if name in ("explicit", "math") else 0)
            point = (n, batch, "forward", flops, estimate, dev, memory_cap, min_run_time, memory)
            records.append(_point(f"attention ({name})", fn, *point))
    return records


def workload(run_size: str) -> dict:
    """The spec of every architecture a benchmark times at a run size: small on a CPU, real on
    a GPU. One entry per name in ``registry.ARCHITECTURES``, built by its ``example``."""
    require_choice("run_size", run_size, RUN_SIZES)
    d, heads, d_ff, depth = (64, 4, 256, 1) if run_size == "quick" else (512, 8, 2048, 2)
    return {name: entry.example(d, heads, d_ff, depth) for name, entry in ARCHITECTURES.items()}
