"""Measuring time and memory on the reader's device: the only module that knows CUDA or CPU.

Every chapter's first cell calls ``setup()``: a GPU gets the ``full`` size, a CPU the
``quick`` one, and the environment variable PATHCOST_SIZE overrides either. Timings use
``torch.utils.benchmark`` with the device synchronised before every clock reading; peak
memory comes from ``measure.peak_bytes``. Timing numbers belong in reports and figures,
never in an asserting test: they vary from run to run and machine to machine.
"""

import csv
import json
import math
import os
import sys
import timeit
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.utils.benchmark as benchmark
from tqdm.auto import tqdm

from . import costs, measure, models
from ._checks import require_positive
from .specs import CNN, LSTM, RNN, Transformer, label

SIZES = ("quick", "full")


def device() -> torch.device:
    """The fastest device here: CUDA if available, else Apple MPS where it runs, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        try:
            torch.ones(1, device="mps").sum().item()  # some builds report MPS and then fail
            return torch.device("mps")
        except RuntimeError:
            pass
    return torch.device("cpu")


def size(dev: torch.device | None = None) -> str:
    """'full' on a GPU, 'quick' elsewhere, unless PATHCOST_SIZE says 'quick' or 'full'."""
    chosen = os.environ.get("PATHCOST_SIZE", "").strip().lower()
    if chosen:
        if chosen not in SIZES:
            raise ValueError(f"PATHCOST_SIZE must be one of {SIZES}, got {chosen!r}")
        return chosen
    dev = device() if dev is None else torch.device(dev)
    return "full" if dev.type == "cuda" else "quick"


def setup() -> tuple[torch.device, str]:
    """Pick device and size, say which, and point a Colab reader without a GPU to the switch."""
    dev = device()
    run_size = size(dev)
    print(f"pathcost on {dev.type}, size {run_size!r}, torch {torch.__version__}")
    if "google.colab" in sys.modules and dev.type != "cuda":
        print(
            "This Colab runtime has no GPU. For the full size choose Runtime > "
            "Change runtime type > T4 GPU, then run the notebook again; "
            "quick mode works on the CPU meanwhile."
        )
    return dev, run_size


# --- timing -------------------------------------------------------------------------------

HIGH_SPREAD = 0.25  # IQR / median above which a timing is flagged as noisy


@dataclass(frozen=True)
class Timing:
    """One timed function: median and interquartile range in seconds, and the raw samples."""

    median: float
    iqr: float
    samples: tuple

    @property
    def spread(self) -> float:
        """The IQR over the median; below about 0.1 a timing is steady, above HIGH_SPREAD noisy."""
        return self.iqr / self.median if self.median > 0 else math.inf


def synchronize(dev: torch.device) -> None:
    """Wait for the device's queued work; a no-op on the CPU, which runs eagerly."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def time(fn, dev=None, min_run_time: float = 0.2, threads: int | None = None, warmup: int = 2):
    """Time fn() with ``torch.utils.benchmark``: warm-up runs, then ``blocked_autorange``.

    The clock is read only after the device has finished (CUDA and MPS queue work
    asynchronously). CPU work may use `threads` threads, by default every thread torch has.
    Returns a Timing; warns when the IQR is over HIGH_SPREAD of the median.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    if not min_run_time > 0:
        raise ValueError(f"min_run_time must be > 0 seconds, got {min_run_time!r}")
    require_positive(warmup=warmup, threads=threads or torch.get_num_threads())
    dev = device() if dev is None else torch.device(dev)
    for _ in range(warmup):  # first calls pay for allocation, kernel choice and caches
        fn()
    synchronize(dev)

    def clock() -> float:
        synchronize(dev)
        return timeit.default_timer()

    timer = benchmark.Timer(
        stmt="fn()", globals={"fn": fn}, timer=clock, num_threads=threads or torch.get_num_threads()
    )
    measured = timer.blocked_autorange(min_run_time=min_run_time)
    result = Timing(measured.median, measured.iqr, tuple(measured.times))
    if result.spread > HIGH_SPREAD:
        warnings.warn(
            f"noisy timing: IQR is {result.spread:.0%} of the median {result.median:.3g} s",
            stacklevel=2,
        )
    return result


def fit_exponent(ns, ys) -> tuple[float, tuple[float, float]]:
    """Least-squares slope p of log y = p log n + c, with its 95% confidence interval.

    Derived in "Time and parallelism". The interval is slope +/- t * standard error, t the
    97.5% quantile of Student's t with len(ns) - 2 degrees of freedom (three points at least).
    """
    ns, ys = np.asarray(ns, dtype=float), np.asarray(ys, dtype=float)
    if ns.shape != ys.shape or ns.ndim != 1:
        raise ValueError(f"ns and ys must be 1-D and of equal length, got {ns.shape}, {ys.shape}")
    if len(ns) < 3:
        raise ValueError(f"ns must hold at least 3 points to give an interval, got {len(ns)}")
    if not (np.isfinite(ns).all() and np.isfinite(ys).all() and (ns > 0).all() and (ys > 0).all()):
        raise ValueError("ns and ys must be positive and finite to take logarithms")
    x, y = np.log(ns), np.log(ys)
    if np.ptp(x) == 0:
        raise ValueError("ns must hold at least two different lengths")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    dof = len(x) - 2
    error = math.sqrt((residual @ residual) / dof / ((x - x.mean()) @ (x - x.mean()))) if dof else 0
    half = _t975(dof) * error
    return float(slope), (float(slope - half), float(slope + half))


# 97.5% quantiles of Student's t for 1..30 degrees of freedom (any statistics table);
# beyond 30 the normal quantile 1.960 is within 2%.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def _t975(dof: int) -> float:
    return _T975[dof - 1] if 1 <= dof <= len(_T975) else 1.960


def matmul_peak(dtype=torch.float32, dev=None, n: int | None = None) -> float:
    """Achieved FLOP/s of one large n x n matmul, 2 n^3 FLOPs: a practical peak for this device.

    n defaults to 1024 on a CPU and 8192 on a GPU. Utilisation = achieved / this peak.
    """
    dev = device() if dev is None else torch.device(dev)
    n = n or (1024 if dev.type == "cpu" else 8192)
    require_positive(n=n)
    a = torch.randn(n, n, device=dev).to(dtype)
    b = torch.randn(n, n, device=dev).to(dtype)
    return 2 * n**3 / time(lambda: a @ b, dev, min_run_time=0.3).median


# --- sweeps -------------------------------------------------------------------------------

MODES = ("forward", "forward+backward")
BACKWARD_FACTOR = 3  # NB: backward ~ 2x forward matmul FLOPs (input and weight gradients)
PEAK_FACTOR = 3  # peak ~ up to 3x the bytes saved for backward: scores, masked scores and
# weights are alive at once in explicit attention (measured on CPU); used only for the cap


@dataclass(frozen=True)
class Record:
    """One point of a sweep. status: "ok", "oom" (out of memory), "skipped" (over the cap),
    or "unsupported" (no such kernel on this device); timings are then None."""

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


def _run(fn, dev, min_run_time) -> tuple[Timing, int]:
    with warnings.catch_warnings():  # a sweep keeps the IQR in its records instead
        warnings.simplefilter("ignore")
        timing = time(fn, dev, min_run_time=min_run_time)
    return timing, measure.peak_bytes(fn, dev)


def _point(name, fn, n, batch, mode, flops, estimate, dev, cap, min_run_time) -> Record:
    """Time and measure fn, or record why not: over the memory cap, out of memory, no kernel."""
    common = dict(label=name, n=n, batch=batch, mode=mode, flops=flops, device=str(dev))
    common["estimate_bytes"] = estimate

    def missing(status: str) -> Record:
        return Record(**common, status=status, median_s=None, iqr_s=None, peak_bytes=None,
                      flop_per_s=None)  # fmt: skip

    if cap is not None and estimate > cap:
        return missing("skipped")
    try:
        timing, peak = _run(fn, dev, min_run_time)
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
        if mode not in MODES:
            raise ValueError(f"modes must be among {MODES}, got {mode!r}")
    if memory_cap is not None:
        require_positive(memory_cap=memory_cap)


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
) -> list:
    """Time and peak memory of build(spec) over lengths ns and batch sizes, as Records.

    "forward" runs without autograd; "forward+backward" runs a training step (its FLOPs
    taken as BACKWARD_FACTOR x forward). A point whose estimated bytes (PEAK_FACTOR x the
    activations saved for backward, plus parameters) exceed memory_cap is skipped, so a CPU
    run never swaps; on a GPU an out-of-memory error is recorded, the allocator cache
    emptied, and the sweep goes on.
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

        def fn(batch=batch, n=n, mode=mode):
            x = torch.randn(batch, n, spec.d_model, device=dev, dtype=dtype)
            if mode == "forward":
                with torch.no_grad():
                    return module(x)
            module(x).sum().backward()
            module.zero_grad(set_to_none=True)  # freed inside the call: peaks stay its own

        flops = costs.forward_flops(spec, n, batch) * (1 if mode == "forward" else BACKWARD_FACTOR)
        records.append(
            _point(name, fn, n, batch, mode, flops, estimate, dev, memory_cap, min_run_time)
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
    min_run_time=0.1, progress=True,
) -> list:  # fmt: skip
    """The attention core softmax(Q K^T / sqrt(d_k)) V, explicit against fused, over lengths ns.

    On a CPU: "explicit" and PyTorch's default "sdpa" kernel. On CUDA each SDPA backend is
    asked for by name ("flash", "efficient", "math") with ``torch.nn.attention.sdpa_kernel``;
    one the device lacks is recorded as "unsupported". FLOPs: 4 B n^2 d for both products.
    The estimate for the memory cap: Q, K, V and output, plus PEAK_FACTOR x the weights for
    the kernels that materialise them.
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
            point = (n, batch, "forward", flops, estimate, dev, memory_cap, min_run_time)
            records.append(_point(f"attention ({name})", fn, *point))
    return records


@dataclass(frozen=True)
class RecurrentLatency:
    """One recurrent step timed alone, and the whole n-step forward pass timed."""

    step: Timing
    forward: Timing
    steps: int  # cell steps run one after another: n * layers, layer after layer

    @property
    def predicted_s(self) -> float:
        """What the serial chain alone costs, the steps times the median latency of one step."""
        return self.steps * self.step.median


def recurrent_latency(spec, n: int, batch: int = 1, dev=None, dtype=torch.float32,
                      min_run_time: float = 0.2) -> RecurrentLatency:  # fmt: skip
    """Latency of one state transfer of an RNN or LSTM, and of its full forward over n steps.

    Derived in "Time and parallelism": the forward takes about steps x step latency, since
    no step can start before the one before it ends, however idle the device is.
    """
    if not isinstance(spec, (RNN, LSTM)):
        raise ValueError(f"spec must be an RNN or LSTM, got {spec!r}")
    require_positive(n=n, batch=batch)
    dev = device() if dev is None else torch.device(dev)
    module = models.build(spec).to(dev, dtype)
    layer = module.layers[0]
    x = torch.randn(batch, n, spec.d_model, device=dev, dtype=dtype)
    with torch.no_grad():
        u_t, state = layer.input(x[:, 0]), layer.initial_state(x)
        step = time(lambda: layer.step(u_t, state), dev, min_run_time=min_run_time)
        forward = time(lambda: module(x), dev, min_run_time=min_run_time)
    return RecurrentLatency(step, forward, n * spec.layers)


# --- records out and in -------------------------------------------------------------------

_FIELDS = [field.name for field in fields(Record)]
_INTS = {"n", "batch", "peak_bytes", "flops", "estimate_bytes"}
_FLOATS = {"median_s", "iqr_s", "flop_per_s"}


def save(records, path) -> None:
    """Write Records to a .csv or .json file (by its extension)."""
    path = Path(path)
    rows = [asdict(record) for record in records]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1))
    elif path.suffix == ".csv":
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f"path must end in .csv or .json, got {path.name!r}")


def load(path) -> list:
    """Read the Records that ``save`` wrote."""
    path = Path(path)
    if path.suffix == ".json":
        return [Record(**row) for row in json.loads(path.read_text())]
    if path.suffix != ".csv":
        raise ValueError(f"path must end in .csv or .json, got {path.name!r}")
    with path.open(newline="") as file:
        return [Record(**{k: _parse(k, v) for k, v in row.items()}) for row in csv.DictReader(file)]


def _parse(name: str, text: str):
    """A CSV cell back to its Record field's type: '' is None."""
    if text == "":
        return None
    return int(text) if name in _INTS else float(text) if name in _FLOATS else text


# --- the benchmark the command line runs -------------------------------------------------


def workload(run_size: str) -> dict:
    """The four specs a benchmark times at each run size: small on a CPU, real on a GPU."""
    if run_size not in SIZES:
        raise ValueError(f"run_size must be one of {SIZES}, got {run_size!r}")
    d, heads, d_ff, depth = (64, 4, 256, 1) if run_size == "quick" else (512, 8, 2048, 2)
    return {
        "rnn": RNN(d, depth),
        "lstm": LSTM(d, depth),
        "cnn": CNN(d, kernel=3, layers=4 * depth),
        "transformer": Transformer(d, heads, d_ff, depth),
    }


def exponents(records, min_n: int = 512) -> dict:
    """Fitted time exponent (slope, 95% interval) per (label, mode), over points with n >= min_n.

    Falls back to every point when fewer than three reach min_n; groups with fewer than three
    points that ran are left out.
    """
    groups = {}
    for record in records:
        if record.status == "ok":
            groups.setdefault((record.label, record.mode), []).append(record)
    fitted = {}
    for key, points in groups.items():
        chosen = [r for r in points if r.n >= min_n]
        chosen = chosen if len(chosen) >= 3 else points
        if len(chosen) >= 3:
            fitted[key] = fit_exponent([r.n for r in chosen], [r.median_s for r in chosen])
    return fitted


def largest_step(times: dict) -> tuple[float, int, int]:
    """Biggest ratio t(b) / t(a) of neighbouring lengths a < b in {n: time}, as (ratio, a, b).

    "Time and parallelism" uses it to find where a sweep jumps (a cache or allocator edge).
    """
    ns = sorted(times)
    if len(ns) < 2:
        raise ValueError(f"times must hold at least two lengths, got {len(ns)}")
    return max((times[b] / times[a], a, b) for a, b in zip(ns, ns[1:]))


def os_time_share(fn, repeats: int = 3) -> tuple[float, float]:
    """Share of fn's CPU time spent in the operating system, and minor page faults per call.

    Unix only (``resource.getrusage``). A share near 1 with many faults means the time goes
    to mapping fresh memory, not to arithmetic ("Time and parallelism").
    """
    import resource

    if not callable(fn):
        raise ValueError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    require_positive(repeats=repeats)
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(repeats):
        fn()
    after = resource.getrusage(resource.RUSAGE_SELF)
    system, user = after.ru_stime - before.ru_stime, after.ru_utime - before.ru_utime
    share = system / (system + user) if system + user > 0 else 0.0
    return share, (after.ru_minflt - before.ru_minflt) / repeats
