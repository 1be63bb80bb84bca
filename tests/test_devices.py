"""The table of named GPUs against their datasheets, the roofline bound, and "this" device."""

import os
from types import SimpleNamespace

import pytest
import torch

import pathcost as pc
from pathcost.bench import Bandwidth, Timing
from pathcost.devices import DEVICES, DeviceProfile, bound, ridge_intensity

REQUIRED = ("t4", "l4", "a10g", "a100-40gb", "a100-80gb", "h100-sxm", "h200")

# Rows whose peak FLOP/s no vendor document states (devices.py says why beside the row).
UNSOURCED_FLOPS = {"a10g"}


def test_the_table_has_every_required_gpu():
    assert set(REQUIRED) <= set(DEVICES)
    assert pc.devices.DEVICES is DEVICES and pc.device_profile("h200") is DEVICES["h200"]
    assert pc.device_profile is pc.devices.device_profile
    assert pc.roofline_time is pc.devices.roofline_time


@pytest.mark.parametrize("name, profile", DEVICES.items())
def test_every_row_has_positive_numbers_and_a_source(name, profile):
    assert profile.name == name
    assert isinstance(profile.memory_bytes, int) and profile.memory_bytes > 0
    assert profile.bandwidth_bytes_per_s > 0
    assert all(peak > 0 for peak in profile.peak_flops.values())
    assert set(profile.peak_flops) <= set(pc.registry.DTYPES)
    assert "https://" in profile.source  # a document a reader can open
    if name in UNSOURCED_FLOPS:
        assert profile.peak_flops == {} and "no source found" in profile.source
    else:
        assert {"fp16", "fp32"} <= set(profile.peak_flops)


@pytest.mark.parametrize("name, profile", DEVICES.items())
def test_dense_half_precision_peaks_are_at_least_fp32(name, profile):
    peaks = profile.peak_flops
    for half in ("fp16", "bf16"):
        if half in peaks:
            assert peaks[half] >= peaks["fp32"]


# Stated values: each number as its datasheet prints it, typed here a second time with its
# citation (the table types it once). An asterisk is NVIDIA's "shown with sparsity; one-half
# lower without": the table holds the dense figure, so the test halves the printed one.
STATED = [
    # NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)
    ("a100-40gb", "memory_bytes", 40e9),  # GPU memory 40GB HBM2
    ("a100-40gb", "bandwidth_bytes_per_s", 1555e9),  # 1,555GB/s
    ("a100-80gb", "memory_bytes", 80e9),  # GPU memory 80GB HBM2e
    ("a100-80gb", "bandwidth_bytes_per_s", 2039e9),  # SXM: 2,039GB/s
    ("a100-80gb", "fp16", 312e12),  # FP16 Tensor Core 312 TFLOPS | 624 TFLOPS*
    ("a100-80gb", "bf16", 312e12),  # BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*
    ("a100-80gb", "fp32", 19.5e12),  # FP32 19.5 TFLOPS
    # NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column
    ("h100-sxm", "memory_bytes", 80e9),  # GPU memory 80GB
    ("h100-sxm", "bandwidth_bytes_per_s", 3.35e12),  # GPU memory bandwidth 3.35TB/s
    ("h100-sxm", "fp16", 1979e12 / 2),  # FP16 Tensor Core 1,979 teraFLOPS*
    ("h100-sxm", "fp32", 67e12),  # FP32 67 teraFLOPS
    # NVIDIA H200 Tensor Core GPU datasheet (3367400.JUL24), H200 SXM column
    ("h200", "memory_bytes", 141e9),  # GPU memory 141GB
    ("h200", "bandwidth_bytes_per_s", 4.8e12),  # GPU memory bandwidth 4.8TB/s
    ("h200", "bf16", 1979e12 / 2),  # BFLOAT16 Tensor Core 1,979 TFLOPS*
    ("h200", "fp32", 67e12),  # FP32 67 TFLOPS
    # NVIDIA L4 Tensor Core GPU datasheet
    ("l4", "memory_bytes", 24e9),  # GPU memory 24GB
    ("l4", "fp16", 242e12 / 2),  # FP16 Tensor Core 242 teraFLOPS*
    ("l4", "fp32", 30.3e12),  # FP32 30.3 teraFLOPs
    # NVIDIA T4 Tensor Core GPU datasheet (t4-tensor-core-datasheet-951643.pdf)
    ("t4", "fp16", 65e12),  # mixed precision (FP16/FP32) 65 TFLOPS
    ("t4", "fp32", 8.1e12),  # single precision 8.1 TFLOPS
]


@pytest.mark.parametrize("name, field, stated", STATED)
def test_the_table_holds_the_datasheet_values(name, field, stated):
    profile = DEVICES[name]
    value = profile.peak_flops[field] if field in pc.registry.DTYPES else getattr(profile, field)
    assert value == stated


TOY = DeviceProfile("toy", 1, 100.0, {"fp16": 1000.0, "fp32": 250.0}, "hand-made for the test")


def test_roofline_time_is_the_compute_bound_when_flops_dominate():
    # 5000 FLOPs at 1000 FLOP/s take 5 s; 100 bytes at 100 bytes/s take 1 s
    assert pc.roofline_time(5000, 100, TOY) == 5.0
    assert bound(5000, 100, TOY) == "compute"
    # A100 80GB: 624 TFLOP in fp16 take 2 s at 312 TFLOP/s; 2,039 GB take 1 s at 2,039 GB/s
    assert pc.roofline_time(624e12, 2039e9, "a100-80gb") == 2.0
    assert bound(624e12, 2039e9, "a100-80gb") == "compute"


def test_roofline_time_is_the_memory_bound_when_bytes_dominate():
    # 1000 FLOPs take 1 s; 800 bytes take 8 s
    assert pc.roofline_time(1000, 800, TOY) == 8.0
    assert bound(1000, 800, TOY) == "memory"
    assert pc.roofline_time(312e12, 3 * 2039e9, "a100-80gb") == 3.0
    assert bound(312e12, 3 * 2039e9, "a100-80gb", dtype="bf16") == "memory"


def test_the_dtype_chooses_the_peak_and_the_ridge_separates_the_regimes():
    assert pc.roofline_time(1000, 0, TOY, dtype="fp32") == 4.0  # 1000 FLOPs at 250 FLOP/s
    assert ridge_intensity(TOY) == 10.0 and ridge_intensity(TOY, "fp32") == 2.5
    assert ridge_intensity("a100-80gb") == 312e12 / 2039e9
    ridge = ridge_intensity(TOY)  # at I* both terms are equal; either side, one binds
    assert bound(ridge * 100, 100, TOY) == "compute"
    assert bound(ridge * 100 * 0.99, 100, TOY) == "memory"
    assert bound(ridge * 100 * 1.01, 100, TOY) == "compute"


def test_an_unknown_device_is_refused_with_the_names():
    with pytest.raises(ValueError, match="name") as refused:
        pc.device_profile("v100")
    for name in (*REQUIRED, "this"):
        assert repr(name) in str(refused.value)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.roofline_time(-1, 0, "t4"), "flops"),
        (lambda: pc.roofline_time(float("nan"), 0, "t4"), "flops"),
        (lambda: pc.roofline_time(1, -1, "t4"), "bytes"),
        (lambda: pc.roofline_time(1, 1, "t4", dtype="bf16"), "dtype"),  # Turing: no bf16
        (lambda: pc.roofline_time(1, 1, "t4", dtype="int8"), "dtype"),
        (lambda: pc.roofline_time(1, 1, "a10g"), "a10g"),  # no sourced peak
        (lambda: pc.roofline_time(1, 1, "b200"), "name"),
        (lambda: bound(-1, 1, TOY), "flops"),
        (lambda: ridge_intensity(TOY, "bf16"), "dtype"),
        (lambda: DeviceProfile("x", 0, 1.0, {}, "s"), "memory_bytes"),
        (lambda: DeviceProfile("x", 1, -1.0, {}, "s"), "bandwidth_bytes_per_s"),
        (lambda: DeviceProfile("x", 1, 1.0, {"fp8": 1.0}, "s"), "peak_flops dtype"),
        (lambda: DeviceProfile("x", 1, 1.0, {"fp16": 0.0}, "s"), "peak_flops"),
        (lambda: DeviceProfile("x", 1, 1.0, {}, " "), "source"),
    ],
)
def test_bad_device_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.filterwarnings("ignore:noisy timing")  # small sizes on a shared CPU are noisy
def test_this_device_on_the_cpu_is_measured(monkeypatch):
    monkeypatch.setattr(pc.runtime, "device", lambda: torch.device("cpu"))
    profile = pc.device_profile("this", nbytes=2**20, n=64)
    assert profile.name == "this" and "measured on cpu" in profile.source
    assert profile.bandwidth_bytes_per_s > 0 and set(profile.peak_flops) == {"fp32"}
    assert profile.peak_flops["fp32"] > 0
    assert profile.memory_bytes == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    psutil = pytest.importorskip("psutil")  # an independent count of the same RAM
    assert profile.memory_bytes == psutil.virtual_memory().total


@pytest.mark.parametrize("capability, dtypes", [((7, 5), {"fp32", "fp16"}),
                                                ((9, 0), {"fp32", "fp16", "bf16"})])  # fmt: skip
def test_this_device_on_cuda_measures_the_dtypes_it_runs_natively(monkeypatch, capability, dtypes):
    cuda = torch.device("cuda")
    monkeypatch.setattr(pc.runtime, "device", lambda: cuda)
    timed = Timing(0.5, 0.05, (0.5,))
    triad = Bandwidth("triad", 2**30, 3 * 2**30, timed, "cuda")
    monkeypatch.setattr(pc.bench.bandwidth, "memory_bandwidth", lambda *args: triad)
    peaks_asked = []
    fake_peak = lambda dtype, dev, n: peaks_asked.append((dtype, dev)) or 1e12  # noqa: E731
    monkeypatch.setattr(pc.bench.timing, "matmul_peak", fake_peak)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: capability)
    memory = SimpleNamespace(total_memory=15 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda dev=None: memory)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "Tesla T4")
    profile = pc.device_profile("this")
    assert set(profile.peak_flops) == dtypes and all(dev == cuda for _, dev in peaks_asked)
    assert {dtype for dtype, _ in peaks_asked} == {pc.registry.DTYPES[d] for d in dtypes}
    assert profile.memory_bytes == 15 * 2**30 and "Tesla T4" in profile.source
    assert profile.bandwidth_bytes_per_s == 3 * 2**30 / 0.5
