"""Memory bandwidth: the byte accounting of copy and triad, and the ridge point; never a speed."""

import inspect

import pytest
import torch

import pathcost as pc
from pathcost.bench import Bandwidth, Timing

# What each kernel reads plus writes, in tensors of nbytes (STREAM's convention):
# copy a = b reads b and writes a; triad a = b + s * c reads b and c and writes a.
TENSORS_MOVED = {"copy": 2, "triad": 3}


def _fixed_timer(calls, median=2.0**-20, iqr=2.0**-23):
    """A stand-in for bench.timing.time: runs fn once, records the call, returns a fixed Timing."""

    def fake(fn, dev=None, **kwargs):
        fn()
        calls.append((fn, dev, kwargs))
        return Timing(median, iqr, (median,))

    return fake


@pytest.mark.parametrize("kernel", ["copy", "triad"])
def test_gb_per_s_is_the_bytes_read_and_written_over_the_median_time(monkeypatch, kernel):
    calls = []
    monkeypatch.setattr(pc.bench.timing, "time", _fixed_timer(calls))
    measured = pc.bench.memory_bandwidth(kernel, nbytes=2**20, dev="cpu", threads=1)
    moved = TENSORS_MOVED[kernel] * 2**20
    assert (measured.nbytes, measured.moved) == (2**20, moved)
    assert measured.bytes_per_s == moved / 2.0**-20
    assert measured.gb_per_s == moved / 2.0**-20 / 10**9  # GB = 10^9 bytes
    assert measured.spread == 2.0**-23 / 2.0**-20
    assert measured.iqr_gb_per_s == measured.gb_per_s / 8
    assert isinstance(measured, Bandwidth) and measured.device == "cpu"
    _fn, dev, kwargs = calls[0]
    assert dev == torch.device("cpu") and kwargs["threads"] == 1  # timed through bench.time


def test_the_kernels_compute_copy_and_triad(monkeypatch):
    calls = []
    monkeypatch.setattr(pc.bench.timing, "time", _fixed_timer(calls))
    for kernel in ("copy", "triad"):
        pc.bench.memory_bandwidth(kernel, nbytes=4096, dev="cpu")
    copy, triad = (inspect.getclosurevars(fn).nonlocals for fn, _, _ in calls)
    assert torch.equal(copy["a"], copy["b"])
    assert torch.allclose(triad["a"], triad["b"] + 3.0 * triad["c"])  # a = b + s * c, s = 3
    assert triad["a"].numel() == 4096 // 4  # fp32: 1024 elements per tensor


def test_nbytes_rounds_down_to_whole_elements(monkeypatch):
    monkeypatch.setattr(pc.bench.timing, "time", _fixed_timer([]))
    measured = pc.bench.memory_bandwidth("copy", nbytes=10, dev="cpu", dtype=torch.float32)
    assert (measured.nbytes, measured.moved) == (8, 16)  # two 4-byte elements, read and written
    half = pc.bench.memory_bandwidth("triad", nbytes=10, dev="cpu", dtype=torch.float16)
    assert (half.nbytes, half.moved) == (10, 30)


def test_traffic_bytes_counts_read_plus_write():
    assert pc.bench.traffic_bytes("copy", 1000) == 2000
    assert pc.bench.traffic_bytes("triad", 1000) == 3000


@pytest.mark.filterwarnings("ignore:noisy timing")  # a small tensor on a shared CPU is noisy
@pytest.mark.parametrize("kernel", ["copy", "triad"])
def test_a_tiny_real_run_on_the_cpu_gives_a_positive_bandwidth(kernel):
    measured = pc.bench.memory_bandwidth(kernel, nbytes=2**16, dev="cpu", min_run_time=0.02)
    assert isinstance(measured.timing, Timing) and measured.timing.median > 0
    assert measured.gb_per_s > 0 and measured.iqr_gb_per_s >= 0
    assert measured.moved == TENSORS_MOVED[kernel] * 2**16


def test_ridge_point_is_peak_over_bandwidth():
    # NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf),
    # A100 80GB SXM: FP16 Tensor Core 312 TFLOPS dense, memory bandwidth 2,039GB/s.
    assert pc.bench.ridge_point(312e12, 2039e9) == 312e12 / 2039e9  # about 153 FLOP per byte
    assert pc.bench.ridge_point(1000.0, 100.0) == 10.0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.bench.memory_bandwidth("scale", nbytes=64), "kernel"),
        (lambda: pc.bench.memory_bandwidth("copy", nbytes=0), "nbytes"),
        (lambda: pc.bench.memory_bandwidth("copy", nbytes=2.5), "nbytes"),
        (lambda: pc.bench.memory_bandwidth("copy", nbytes=2), "nbytes"),  # under one fp32
        (lambda: pc.bench.memory_bandwidth("copy", nbytes=64, min_run_time=0), "min_run_time"),
        (lambda: pc.bench.traffic_bytes("copy", -1), "nbytes"),
        (lambda: pc.bench.traffic_bytes("add", 8), "kernel"),
        (lambda: pc.bench.ridge_point(0, 1e9), "flop_per_s"),
        (lambda: pc.bench.ridge_point(1e12, -1), "bytes_per_s"),
        (lambda: pc.bench.ridge_point(1e12, float("nan")), "bytes_per_s"),
    ],
)
def test_bad_bandwidth_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
