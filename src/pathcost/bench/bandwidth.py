"""Memory bandwidth of the reader's device: a large copy and a STREAM triad, in GB/s.

Derived in "Inference and memory traffic". A kernel that does little arithmetic per byte
(an elementwise op, a decoder step reading its weights and K, V cache) runs at the speed
memory feeds it, not at the matmul peak. These two kernels measure that speed as torch
sees it: a copy (``Tensor.copy_``) and the triad of McCalpin's STREAM benchmark (one tensor
written as a second plus a scalar times a third), each on tensors far larger than the
last-level cache, timed with ``bench.timing.time``.

On CUDA ``time`` reads CUDA events, so the GPU times its own kernels; at the default 1 GiB
per tensor a copy takes ~0.45 ms even at 4.8 TB/s, a hundred times the few microseconds of
a launch. Bytes are counted as STREAM counts them: what the kernel must read plus what it
writes. A CPU cache that reads a line before writing it (write-allocate) moves more than
that, so the figure is the bandwidth a program gets.
"""

from dataclasses import dataclass

import torch

from ..checks import require_choice, require_positive, require_real
from ..runtime import device
from . import timing
from .timing import Timing

GB = 10**9  # bandwidth in GB/s is 10^9 bytes per second, as datasheets state it

# Tensors of nbytes each that one call reads or writes, as STREAM counts them:
# copy reads b and writes a; the triad reads b and c and writes a.
TRAFFIC = {"copy": 2, "triad": 3}

TRIAD_SCALAR = 3.0  # STREAM's s in a = b + s * c

# Bytes per tensor by default: 128 MiB is four times this CPU's 32 MiB L3 (and above the
# largest L3 of common laptops) while the triad's three tensors take 384 MiB of RAM;
# 1 GiB is twenty times the 50 MB L2 of an H100 and fits three times in a 16 GB T4.
DEFAULT_NBYTES = {"cpu": 128 * 2**20, "gpu": 2**30}


@dataclass(frozen=True)
class Bandwidth:
    """One kernel timed: bytes moved per call, its timing, and the bandwidth they give."""

    kernel: str  # "copy" or "triad"
    nbytes: int  # bytes of each tensor
    moved: int  # bytes one call reads plus writes: TRAFFIC[kernel] * nbytes
    timing: Timing
    device: str

    @property
    def bytes_per_s(self) -> float:
        """The median bandwidth in bytes per second, moved / median time."""
        return self.moved / self.timing.median

    @property
    def gb_per_s(self) -> float:
        """Median bandwidth in GB/s (10^9 bytes per second)."""
        return self.bytes_per_s / GB

    @property
    def spread(self) -> float:
        """IQR over median of the times, which is also that of the bandwidth to first order."""
        return self.timing.spread

    @property
    def iqr_gb_per_s(self) -> float:
        """The spread in GB/s, gb_per_s * spread (first order in the spread)."""
        return self.gb_per_s * self.spread


def traffic_bytes(kernel: str, nbytes: int) -> int:
    """Bytes one call of `kernel` moves: copy 2 * nbytes, triad 3 * nbytes (read + write).

    Derived in "Inference and memory traffic"; the STREAM convention (TRAFFIC).
    """
    require_choice("kernel", kernel, TRAFFIC)
    require_positive(nbytes=nbytes)
    return TRAFFIC[kernel] * nbytes


def memory_bandwidth(kernel: str = "triad", nbytes: int | None = None, dev=None,
                     dtype=torch.float32, min_run_time: float = 0.3,
                     threads: int | None = None, warmup: int = 2) -> Bandwidth:  # fmt: skip
    """Measured bandwidth of `kernel` on tensors of nbytes each: β = moved / median time.

    Derived in "Inference and memory traffic". nbytes defaults to DEFAULT_NBYTES (128 MiB
    per tensor on a CPU, 1 GiB on a GPU), rounded down to whole elements of `dtype`. CPU
    work uses `threads` threads, by default every thread torch has, as a program would; on
    a shared machine with another process busy, one thread can measure faster than two, so
    compare threads=1. Timing is ``bench.timing.time`` (warm-up, then ``blocked_autorange``,
    the device synchronised before every clock reading).
    """
    require_choice("kernel", kernel, TRAFFIC)
    require_real("min_run_time", min_run_time, low=0, low_open=True)
    dev = device() if dev is None else torch.device(dev)
    if nbytes is None:
        nbytes = DEFAULT_NBYTES["cpu" if dev.type == "cpu" else "gpu"]
    require_positive(nbytes=nbytes)
    itemsize = torch.empty(0, dtype=dtype).element_size()
    if nbytes < itemsize:
        raise ValueError(f"nbytes must hold one {dtype} element ({itemsize} bytes), got {nbytes}")
    numel = nbytes // itemsize
    a = torch.empty(numel, device=dev, dtype=dtype)  # (numel,)
    b = torch.rand(numel, device=dev).to(dtype)  # (numel,)
    if kernel == "copy":

        def fn():
            a.copy_(b)
    else:
        c = torch.rand(numel, device=dev).to(dtype)  # (numel,)

        def fn():
            torch.add(b, c, alpha=TRIAD_SCALAR, out=a)  # one pass, no temporary

    measured = timing.time(fn, dev, min_run_time=min_run_time, threads=threads, warmup=warmup)
    nbytes = numel * itemsize
    return Bandwidth(kernel, nbytes, traffic_bytes(kernel, nbytes), measured, str(dev))


def ridge_point(flop_per_s: float, bytes_per_s: float) -> float:
    """The roofline's ridge, I* = P / β FLOP per byte: below it a kernel is memory-bound.

    Derived in "Inference and memory traffic", with P = `flop_per_s` and β = `bytes_per_s`: a
    kernel doing I FLOPs per byte it moves runs at min(P, I β) FLOP/s, so peak P needs I >= I*.
    Pass a matmul peak (``bench.matmul_peak``) and a bandwidth
    (``memory_bandwidth().bytes_per_s``), or a datasheet's (``pathcost.devices``).
    """
    require_real("flop_per_s", flop_per_s, low=0, low_open=True)
    require_real("bytes_per_s", bytes_per_s, low=0, low_open=True)
    return flop_per_s / bytes_per_s
