"""Timing on the reader's device: a median with its spread, a matmul peak, recurrent latency.

Timings use ``torch.utils.benchmark`` with the device synchronised before every clock
reading. They belong in reports and figures, never in an asserting test: they vary from run
to run and machine to machine.
"""

import gc
import math
import timeit
import warnings
from dataclasses import dataclass

import torch
import torch.utils.benchmark as benchmark

from .. import models
from ..checks import require_callable, require_positive, require_real
from ..runtime import device, synchronize
from ..specs import LSTM, RNN

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


def time(fn, dev=None, min_run_time: float = 0.2, threads: int | None = None, warmup: int = 2):
    """Time fn() with ``torch.utils.benchmark``: warm-up runs, then ``blocked_autorange``.

    The clock is read only after the device has finished (CUDA and MPS queue work
    asynchronously); on CUDA it is the GPU's own, from CUDA events. CPU work may use
    `threads` threads, by default every thread torch has. A slow fn runs twice, not four
    times: the warm-up stops after a call of min_run_time or longer (on a CPU the second
    call of the book's slow modules was as fast as the fifth, within noise), and the call
    timed next, with garbage collection off as timeit has it, is then the single sample, as
    ``blocked_autorange`` would make it, without the extra call it spends sizing its blocks.
    Returns a Timing; warns when the IQR is over HIGH_SPREAD of the median.
    """
    require_callable(fn=fn)
    require_real("min_run_time", min_run_time, low=0, low_open=True)
    require_positive(warmup=warmup, threads=threads or torch.get_num_threads())
    dev = device() if dev is None else torch.device(dev)

    def clock() -> float:
        synchronize(dev)
        return timeit.default_timer()

    if dev.type == "cuda":
        clock = _event_clock()
    if dev.type == "cpu":  # eager: nothing to wait for. NB: the bare clock costs about 0.2 us
        clock = timeit.default_timer  # against 2 us, so blocked_autorange's blocks are 10x shorter
    for _ in range(warmup):  # first calls pay for allocation, kernel choice and caches
        start = clock()
        fn()
        if clock() - start >= min_run_time:
            break
    count = threads or torch.get_num_threads()
    collecting = gc.isenabled()
    gc.disable()  # as timeit does in every block that blocked_autorange times
    try:
        with benchmark.utils.common.set_torch_threads(count):
            start = clock()
            fn()
            once = clock() - start
    finally:
        if collecting:
            gc.enable()
    if once >= min_run_time:
        # NB: blocked_autorange would time one call to size its blocks, find it over
        # min_run_time, and time one more call as its single sample. This call is that sample.
        return Timing(once, 0.0, (once,))
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, timer=clock, num_threads=count)
    measured = timer.blocked_autorange(min_run_time=min_run_time)
    result = Timing(measured.median, measured.iqr, tuple(measured.times))
    if result.spread > HIGH_SPREAD:
        warnings.warn(
            f"noisy timing: IQR is {result.spread:.0%} of the median {result.median:.3g} s",
            stacklevel=2,
        )
    return result


def _event_clock():
    """A clock on the GPU's own timeline, in seconds: CUDA events on the current stream.

    Each reading records an event and waits for it, so all work queued before the reading is
    done, and returns the time the GPU measured between a first event and this one. The
    host's own delays between launches are not what is timed; the device's are.
    """
    origin = torch.cuda.Event(enable_timing=True)
    origin.record()

    def clock() -> float:
        now = torch.cuda.Event(enable_timing=True)
        now.record()
        now.synchronize()
        return origin.elapsed_time(now) / 1e3  # elapsed_time is in milliseconds

    return clock


def matmul_peak(dtype=torch.float32, dev=None, n: int | None = None) -> float:
    """Achieved FLOP/s of one large `n` x `n` matmul, 2 `n` cubed FLOPs: a practical peak P.

    `n` (a matrix size, not a sequence length) defaults to 1024 on a CPU and 8192 on a GPU.
    Utilisation U = achieved FLOP/s / P.
    """
    dev = device() if dev is None else torch.device(dev)
    n = n or (1024 if dev.type == "cpu" else 8192)
    require_positive(n=n)
    a = torch.randn(n, n, device=dev).to(dtype)
    b = torch.randn(n, n, device=dev).to(dtype)
    return 2 * n**3 / time(lambda: a @ b, dev, min_run_time=0.3).median


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

    Derived in "Time and parallelism": the forward over n positions and D layers takes
    about n D t_step, t_step the latency of one step, since no step can start before the
    one before it ends, however idle the device is.
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


def os_time_share(fn, repeats: int = 3) -> tuple[float, float]:
    """Share of fn's CPU time spent in the operating system, and minor page faults per call.

    Unix only (``resource.getrusage``). A share near 1 with many faults means the time goes
    to mapping fresh memory, not to arithmetic ("Time and parallelism").
    """
    import resource

    require_callable(fn=fn)
    require_positive(repeats=repeats)
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(repeats):
        fn()
    after = resource.getrusage(resource.RUSAGE_SELF)
    system, user = after.ru_stime - before.ru_stime, after.ru_utime - before.ru_utime
    share = system / (system + user) if system + user > 0 else 0.0
    return share, (after.ru_minflt - before.ru_minflt) / repeats
