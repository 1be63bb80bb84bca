"""Benchmarks on the reader's device: timing, fitted exponents, sweeps and their records.

``timing`` times one function (median, spread, samples) and measures a matmul peak and a
recurrent step's latency; ``fits`` fits scaling exponents; ``sweeps`` runs real modules over
lengths n and records every point, including those that could not run; ``records`` writes
and reads them; ``scan`` times a linear recurrence by loop and by scan. The device itself
is chosen in ``pathcost.runtime``.
"""

from . import causal
from .bandwidth import TRAFFIC, Bandwidth, memory_bandwidth, ridge_point, traffic_bytes
from .fits import exponents, fit_exponent, largest_step
from .records import load, save
from .scan import loop_against_scan
from .sweeps import (
    BACKWARD_FACTOR,
    MODES,
    PEAK_FACTOR,
    Record,
    attention_kernels,
    peaks,
    step,
    sweep,
    workload,
)
from .timing import (
    HIGH_SPREAD,
    RecurrentLatency,
    Timing,
    matmul_peak,
    os_time_share,
    recurrent_latency,
    time,
)

__all__ = [
    "causal",
    "BACKWARD_FACTOR",
    "Bandwidth",
    "HIGH_SPREAD",
    "MODES",
    "PEAK_FACTOR",
    "Record",
    "RecurrentLatency",
    "TRAFFIC",
    "Timing",
    "attention_kernels",
    "exponents",
    "fit_exponent",
    "largest_step",
    "load",
    "loop_against_scan",
    "matmul_peak",
    "memory_bandwidth",
    "os_time_share",
    "peaks",
    "recurrent_latency",
    "ridge_point",
    "save",
    "step",
    "sweep",
    "time",
    "traffic_bytes",
    "workload",
]
