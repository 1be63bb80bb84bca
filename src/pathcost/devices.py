"""Named GPUs from their datasheets, the reader's own device measured, and the roofline bound.

Derived in "Inference and memory traffic": a computation of F FLOPs that moves M_moved bytes
takes at least max(F / P, M_moved / β) seconds on a device of peak P FLOP/s and memory
bandwidth β bytes/s. DEVICES is the one table of named GPUs; each row cites the document its
numbers come from, and every constant is typed once, here. ``device_profile("this")``
measures the device the book runs on instead (``pathcost.bench``).

Conventions: memory_bytes is the capacity the source states, in the source's unit (NVIDIA
datasheets say GB, taken as 10^9 bytes; the AWS table says GiB); a device reports a usable
capacity a few per cent different. bandwidth_bytes_per_s is the peak memory bandwidth
(GB/s = 10^9 bytes/s). peak_flops holds DENSE peaks by dtype name (``registry.DTYPES``):
NVIDIA states Ampere, Ada and Hopper tensor-core peaks "with sparsity" (2:4 structured
sparsity doubles them); the table halves those, as their footnote says to. fp32 is the
non-tensor FP32 peak: a torch fp32 matmul allowed to use TF32 can run faster than it.
A figure that could not be sourced is left out, and said so beside the row.
"""

import os
from dataclasses import dataclass

import torch

from . import runtime
from .bench import bandwidth, timing
from .checks import require_choice, require_positive, require_real
from .registry import DTYPES

GB = bandwidth.GB
GiB = 2**30


@dataclass(frozen=True)
class DeviceProfile:
    """A device's memory, memory bandwidth and dense peak FLOP/s by dtype, with their source.

    Derived in "Inference and memory traffic". peak_flops maps dtype names ("fp16", "bf16",
    "fp32") to FLOP/s; a dtype missing from it has no sourced (or measured) peak.
    """

    name: str
    memory_bytes: int
    bandwidth_bytes_per_s: float
    peak_flops: dict
    source: str

    def __post_init__(self):
        require_positive(memory_bytes=self.memory_bytes)
        require_real("bandwidth_bytes_per_s", self.bandwidth_bytes_per_s, low=0, low_open=True)
        for dtype, peak in self.peak_flops.items():
            require_choice("peak_flops dtype", dtype, DTYPES)
            require_real(f"peak_flops[{dtype!r}]", peak, low=0, low_open=True)
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(f"source must name where the numbers come from, got {self.source!r}")


# The documents. Where the vendor's own copy could not be read here, the copy that was read
# is named; the numbers are the vendor's.
_T4 = (
    "NVIDIA T4 Tensor Core GPU datasheet (FLOP/s), https://www.nvidia.com/content/dam/en-zz/"
    "Solutions/Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf; NVIDIA T4 product "
    "brief (memory, bandwidth), as mirrored at "
    "https://manualmachine.com/pny/tcst4mpb/8129101-user-manual"
)
_L4 = (
    "NVIDIA L4 Tensor Core GPU datasheet, NVIDIA's document as hosted by Cisco: "
    "https://www.cisco.com/c/dam/en/us/products/collateral/servers-unified-computing/"
    "ucs-c-series-rack-servers/nvidia-l4-gpu.pdf; product page "
    "https://www.nvidia.com/en-us/data-center/l4/"
)
_A10G = (
    "no NVIDIA datasheet exists for the A10G (an AWS-only part). Memory: AWS Batch User "
    "Guide, 'Run GPU jobs', https://docs.aws.amazon.com/batch/latest/userguide/gpu-jobs.html "
    "(g5.xlarge: 1 GPU, 24 GiB of GPU memory). Bandwidth: third-party, Baseten, 'NVIDIA A10 "
    "vs A10G for ML model inference', "
    "https://www.baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference/. "
    "Peak FLOP/s: no source found, none stated"
)
_A100 = (
    "NVIDIA A100 Tensor Core GPU datasheet, https://www.nvidia.com/content/dam/en-zz/Solutions/"
    "Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"
)
_H100 = (
    "NVIDIA H100 Tensor Core GPU datasheet, "
    "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet"
)
_H200 = (
    "NVIDIA H200 Tensor Core GPU datasheet (3367400.JUL24), NVIDIA's document as hosted by "
    "Megware: https://www.megware.com/fileadmin/user_upload/LandingPage%20NVIDIA/"
    "NVIDIA_H200_Datasheet.pdf"
)

# One row per GPU; the comment beside each number says what its source states. An asterisk
# is NVIDIA's footnote "shown with sparsity; specifications are one-half lower without".
DEVICES = {
    "t4": DeviceProfile(
        "t4",
        memory_bytes=16 * GB,  # product brief: memory size 16 GB (GDDR6)
        # product brief: peak memory bandwidth up to 320 GBytes/s.
        # NB: public transcriptions of the datasheet quote 300 GB/s; the product brief says 320.
        bandwidth_bytes_per_s=320 * GB,
        peak_flops={
            "fp16": 65e12,  # datasheet: mixed precision (FP16/FP32) 65 TFLOPS; Turing: no sparsity
            "fp32": 8.1e12,  # datasheet: single precision 8.1 TFLOPS
        },  # Turing has no bf16 tensor cores; the datasheet gives no BF16 figure
        source=_T4,
    ),
    "l4": DeviceProfile(
        "l4",
        memory_bytes=24 * GB,  # datasheet: GPU memory 24GB
        bandwidth_bytes_per_s=300 * GB,  # datasheet: GPU memory bandwidth 300GB/s
        peak_flops={
            "fp16": 242e12 / 2,  # datasheet: FP16 Tensor Core 242 teraFLOPS*
            "bf16": 242e12 / 2,  # datasheet: BFLOAT16 Tensor Core 242 teraFLOPS*
            "fp32": 30.3e12,  # datasheet: FP32 30.3 teraFLOPs
        },
        source=_L4,
    ),
    "a10g": DeviceProfile(
        "a10g",
        memory_bytes=24 * GiB,  # AWS: g5.xlarge, 1 GPU, GPU memory 24 GiB
        bandwidth_bytes_per_s=600 * GB,  # Baseten (third-party): 600 gigabytes per second
        # NB: no vendor figure for the A10G's peak FLOP/s could be found. The A10 datasheet's
        # do not apply (the A10G differs from the A10 in tensor throughput): none is stated.
        peak_flops={},
        source=_A10G,
    ),
    "a100-40gb": DeviceProfile(
        "a100-40gb",
        memory_bytes=40 * GB,  # datasheet: GPU memory 40GB HBM2
        bandwidth_bytes_per_s=1555 * GB,  # datasheet: 1,555GB/s (PCIe and SXM alike)
        peak_flops={
            "fp16": 312e12,  # datasheet: FP16 Tensor Core 312 TFLOPS | 624 TFLOPS*
            "bf16": 312e12,  # datasheet: BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*
            "fp32": 19.5e12,  # datasheet: FP32 19.5 TFLOPS
        },
        source=_A100 + " (A100 40GB)",
    ),
    "a100-80gb": DeviceProfile(
        "a100-80gb",
        memory_bytes=80 * GB,  # datasheet: GPU memory 80GB HBM2e
        bandwidth_bytes_per_s=2039 * GB,  # datasheet, SXM: 2,039GB/s (PCIe: 1,935GB/s)
        peak_flops={
            "fp16": 312e12,  # datasheet: FP16 Tensor Core 312 TFLOPS | 624 TFLOPS*
            "bf16": 312e12,  # datasheet: BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*
            "fp32": 19.5e12,  # datasheet: FP32 19.5 TFLOPS
        },
        source=_A100 + " (A100 80GB SXM)",
    ),
    "h100-sxm": DeviceProfile(
        "h100-sxm",
        memory_bytes=80 * GB,  # datasheet, H100 SXM: GPU memory 80GB
        bandwidth_bytes_per_s=3.35e12,  # datasheet, H100 SXM: GPU memory bandwidth 3.35TB/s
        peak_flops={
            "fp16": 1979e12 / 2,  # datasheet, H100 SXM: FP16 Tensor Core 1,979 teraFLOPS*
            "bf16": 1979e12 / 2,  # datasheet, H100 SXM: BFLOAT16 Tensor Core 1,979 teraFLOPS*
            "fp32": 67e12,  # datasheet, H100 SXM: FP32 67 teraFLOPS
        },
        source=_H100 + " (H100 SXM)",
    ),
    "h200": DeviceProfile(
        "h200",
        memory_bytes=141 * GB,  # datasheet, H200 SXM: GPU memory 141GB
        bandwidth_bytes_per_s=4.8e12,  # datasheet, H200 SXM: GPU memory bandwidth 4.8TB/s
        peak_flops={
            "fp16": 1979e12 / 2,  # datasheet, H200 SXM: FP16 Tensor Core 1,979 TFLOPS*
            "bf16": 1979e12 / 2,  # datasheet, H200 SXM: BFLOAT16 Tensor Core 1,979 TFLOPS*
            "fp32": 67e12,  # datasheet, H200 SXM: FP32 67 TFLOPS
        },
        source=_H200 + " (H200 SXM)",
    ),
}

THIS = "this"  # the name that measures the device the book runs on


def device_profile(name: str, nbytes: int | None = None, n: int | None = None) -> DeviceProfile:
    """The profile of a named GPU (a DEVICES row), or of this device measured for "this".

    Derived in "Inference and memory traffic". "this" measures β as the triad's median bandwidth
    on tensors of `nbytes` (``bench.memory_bandwidth``) and P as the matmul peak at matrix size
    `n` (``bench.matmul_peak``): fp32 everywhere, fp16 on a GPU, bf16 on CUDA devices of compute
    capability 8.0 or newer (older ones emulate it slowly). memory_bytes is the GPU's total
    memory on CUDA and the physical RAM elsewhere. `nbytes` and `n` apply to "this" only.
    """
    require_choice("name", name, (*DEVICES, THIS))
    if name != THIS:
        return DEVICES[name]
    dev = runtime.device()
    triad = bandwidth.memory_bandwidth("triad", nbytes, dev)
    peaks = {dtype: timing.matmul_peak(DTYPES[dtype], dev, n) for dtype in _fast_dtypes(dev)}
    source = (
        f"measured on {describe(dev)} by pathcost.bench: triad median over "
        f"{triad.nbytes} bytes per tensor ({triad.gb_per_s:.1f} GB/s, spread "
        f"{triad.spread:.0%}), matmul peak at n = {n or 'its default'}"
    )
    return DeviceProfile(THIS, _memory_bytes(dev), triad.bytes_per_s, peaks, source)


def _fast_dtypes(dev: torch.device) -> tuple:
    """The dtypes whose matmul runs natively here: fp32; fp16 on a GPU; bf16 on CUDA 8.0+."""
    if dev.type == "cuda":
        native_bf16 = torch.cuda.get_device_capability(dev) >= (8, 0)
        return ("fp32", "fp16", "bf16") if native_bf16 else ("fp32", "fp16")
    if dev.type == "mps":
        return ("fp32", "fp16")
    return ("fp32",)


def describe(dev: torch.device) -> str:
    """A device in words: the GPU's name on CUDA, else its type."""
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type


def _memory_bytes(dev: torch.device) -> int:
    """Total GPU memory on CUDA; physical RAM elsewhere (MPS shares it with the CPU)."""
    if dev.type == "cuda":
        return torch.cuda.get_device_properties(dev).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): psutil if present
        import psutil

        return psutil.virtual_memory().total


def _profile(profile) -> DeviceProfile:
    """A DeviceProfile as given, or the one a device name names."""
    return profile if isinstance(profile, DeviceProfile) else device_profile(profile)


def _peak(profile: DeviceProfile, dtype: str) -> float:
    """The profile's dense peak for dtype; ValueError listing the dtypes it has otherwise."""
    if not profile.peak_flops:
        raise ValueError(f"profile {profile.name!r} states no peak FLOP/s: {profile.source}")
    require_choice("dtype", dtype, profile.peak_flops)
    return profile.peak_flops[dtype]


def roofline_time(flops: float, bytes: float, profile, dtype: str = "fp16") -> float:
    """Lower bound on the run time in seconds: T >= max(F / P, M_moved / β).

    Derived in "Inference and memory traffic": F = `flops` cannot finish faster than the
    dtype's dense peak P allows, nor M_moved = `bytes` move faster than the bandwidth β.
    profile is a DeviceProfile or a device name (``device_profile``). The bound assumes compute
    and traffic overlap perfectly and every byte crosses memory once.
    """
    require_real("flops", flops, low=0)
    require_real("bytes", bytes, low=0)
    profile = _profile(profile)
    return max(flops / _peak(profile, dtype), bytes / profile.bandwidth_bytes_per_s)


def bound(flops: float, bytes: float, profile, dtype: str = "fp16") -> str:
    """Which term of the roofline binds: "memory" if M_moved / β > F / P, else "compute".

    Derived in "Inference and memory traffic", with F = `flops` and M_moved = `bytes`;
    equivalently, memory-bound when the arithmetic intensity I = F / M_moved lies below the
    ridge I* = P / β (``ridge_intensity``).
    """
    require_real("flops", flops, low=0)
    require_real("bytes", bytes, low=0)
    profile = _profile(profile)
    memory_s = bytes / profile.bandwidth_bytes_per_s
    return "memory" if memory_s > flops / _peak(profile, dtype) else "compute"


def ridge_intensity(profile, dtype: str = "fp16") -> float:
    """The arithmetic intensity at the ridge, I* = P / β FLOP per byte, of a device and dtype.

    Derived in "Inference and memory traffic": a kernel of fewer FLOPs per byte moved is
    memory-bound on this device (``bench.ridge_point``, from the profile's numbers).
    """
    profile = _profile(profile)
    return bandwidth.ridge_point(_peak(profile, dtype), profile.bandwidth_bytes_per_s)
