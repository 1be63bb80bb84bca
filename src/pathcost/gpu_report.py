"""The checks of the appendix "Running on a GPU", run once on this device, as one JSON report.

``run`` names the device (its name, compute capability, torch and memory) and measures five
things on it, each record carrying the device's name beside its numbers:

1. which ``scaled_dot_product_attention`` backends run (every ``SDPBackend`` by name, asked for
   with ``torch.nn.attention.sdpa_kernel``; one that fails is "unsupported", with the first
   line of PyTorch's error and warnings, never a crash);
2. each architecture of ``registry.ARCHITECTURES`` (``bench.workload``) timed and its peak
   measured at a few n (``bench.sweep``: CUDA events and the allocator's peak on a GPU, the
   host clock and the profiler's memory events on a CPU), beside its formulas: forward FLOPs,
   ideal bytes, saved activations, a modelled peak, and the roofline bound on this device;
3. the roofline points of "Inference and memory traffic", timed against their bounds;
4. one real training step per architecture (``training_step``), its peak against
   ``formulas.budget.training_memory``;
5. a linear recurrence by loop against the Brent-Kung scan ("Beyond the four",
   ``bench.loop_against_scan``), timed over n beside the sequential transfers of each.

A GPU runs in float16, a CPU in float32. The sizes are ``PLANS``: "full", the default on a
GPU, is sized for a few minutes on a T4 or larger; "quick", the default elsewhere, runs in
seconds so that the command and its test run on any machine. ``save`` and ``load`` write and
read the report; ``summary`` is the short text the command line prints; ``measured_or_predicted``
gives the appendix its tables: a recorded GPU run if there is one, else predictions.
"""

import dataclasses
import datetime
import json
import math
import platform
import re
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import bench, devices, runtime, training_step
from .checks import require_bool, require_choice
from .decoding import Decoder, State
from .formulas import budget, costs, decode, paths, traffic
from .measure.budget import step_memory
from .models import build
from .registry import PRECISIONS, RUN_SIZES, dtype_name
from .specs import RNN, LinearRecurrence, Transformer

SDPA_SHAPE = (1, 4, 256, 64)  # (B, h, n, d_k) of the backend probe: a head size all kernels take
STATUSES = ("runs", "unsupported")
SCAN_WIDTH, SCAN_BATCH = 64, 8  # d and batch of the loop-against-scan rows
LOOP_AND_SCAN = tuple(LinearRecurrence(SCAN_WIDTH, 1, scan=flag) for flag in (False, True))


@dataclass(frozen=True)
class Plan:
    """What one run size measures: the sweep's lengths, timing, the training step, the
    roofline points' shapes (those of "Inference and memory traffic") and the profile's."""

    ns: tuple  # lengths of the architecture sweep, batch 1
    min_run_time: float  # seconds of timing per point
    train_n: int  # the training step's length and batch
    train_batch: int
    rnn_width: int  # roofline: an RNN step of this width at batch 1, 8 and 64
    decoder: Transformer  # roofline: its decode step after each of `cached` tokens
    cached: tuple
    ffn: tuple  # roofline: (rows, d, f) of one FFN matmul
    attention: tuple  # roofline: (n, h, d_k) of one attention core
    profile_nbytes: int  # bytes per tensor of the triad that measures β
    profile_n: int  # matrix size of the matmul that measures P
    scan_ns: tuple  # lengths of the loop-against-scan timing (d = 64, batch 8)


PLANS = {  # one per run size of registry.RUN_SIZES
    "quick": Plan((32, 64, 128), 0.02, 128, 2, 256, Transformer(256, 4, 1024, 2), (256, 2048),
                  (512, 256, 1024), (512, 4, 64), 32 * 2**20, 512, (16, 256)),
    # full: a few minutes on a T4; the recurrences' step loops at n = 8192 take most of it
    "full": Plan((512, 2048, 8192), 0.1, 2048, 4, 2048, Transformer(1024, 16, 4096, 4),
                 (1024, 8192, 32768), (8192, 1024, 4096), (4096, 16, 64), 2**30, 8192,
                 (256, 4096, 65536)),
}  # fmt: skip


def device_name(dev) -> str:
    """The device in words: ``torch.cuda.get_device_name`` on CUDA, else the processor's model."""
    dev = torch.device(dev)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{dev.type} ({model})" if model else dev.type


def table_row(name: str) -> str | None:
    """The row of ``devices.DEVICES`` that a CUDA device name is, or None if none is.

    Only an exact part: "Tesla T4" is "t4" and "NVIDIA H200" "h200", but an H100 or H200
    PCIe or NVL card, or an A100 80GB PCIe, has other bandwidths or peaks than the row's SXM.
    """
    words = set(re.split(r"[\s_-]+", name.lower()))
    other_form = bool(words & {"pcie", "nvl"})
    if "a100" in words:
        return "a100-40gb" if "40gb" in words else "a100-80gb" if "80gb" in words and any(
            word.startswith("sxm") for word in words) else None  # fmt: skip
    for row, word in (("t4", "t4"), ("l4", "l4"), ("a10g", "a10g")):
        if word in words:
            return row
    for row, word in (("h100-sxm", "h100"), ("h200", "h200")):
        if word in words and not other_form:
            return row
    return None


def device_info(dev) -> dict:
    """Type, name, compute capability, torch and CUDA versions, total memory, CPU threads."""
    dev = torch.device(dev)
    name, cuda = device_name(dev), dev.type == "cuda"
    return {
        "type": dev.type, "name": name,
        "capability": list(torch.cuda.get_device_capability(dev)) if cuda else None,
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "total_memory_bytes": devices._memory_bytes(dev), "threads": torch.get_num_threads(),
        "table_row": table_row(name) if cuda else None,
        "timer": "CUDA events" if cuda else "host clock",
        "peak_memory": "CUDA allocator (max_memory_allocated)" if cuda
        else "profiler memory events",
    }  # fmt: skip


def _first_line(text) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else type(text).__name__


def sdpa_backends(dev, dtype) -> list:
    """One row per ``SDPBackend`` (ERROR, PyTorch's "no backend" value, left out): "runs" if
    ``F.scaled_dot_product_attention`` on SDPA_SHAPE runs inside ``sdpa_kernel(backend)``,
    else "unsupported" with the first line of the error; the first lines of the warnings
    PyTorch gave (where it says why a kernel was not used) either way."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev, name = torch.device(dev), device_name(dev)
    q, k, v = (torch.randn(SDPA_SHAPE, device=dev, dtype=dtype) for _ in range(3))
    rows = []
    for backend, value in SDPBackend.__members__.items():
        if backend == "ERROR":
            continue
        status, reason = "runs", None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with sdpa_kernel(value), torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v)
                runtime.synchronize(dev)
            except Exception as error:  # noqa: BLE001 -- a backend this device lacks is data
                status, reason = "unsupported", _first_line(error)
        said = list(dict.fromkeys(_first_line(w.message) for w in caught))
        rows.append({"backend": backend, "status": status, "reason": reason, "warnings": said,
                     "dtype": dtype_name(dtype), "shape": list(SDPA_SHAPE), "device": name})
    return rows


def _plan(size: str) -> Plan:
    require_choice("size", size, PLANS)
    return PLANS[size]


def _profiles(plan: Plan, dev) -> dict:
    """This device measured (``devices.device_profile("this")``) and its datasheet row, if any."""
    with warnings.catch_warnings():  # the profile's source records the triad's spread
        warnings.simplefilter("ignore")
        measured = devices.device_profile(devices.THIS, plan.profile_nbytes, plan.profile_n)
    row = table_row(device_name(dev)) if torch.device(dev).type == "cuda" else None
    return {"measured": measured, "datasheet": None if row is None else devices.DEVICES[row]}


def _bounds(flops: float, moved: float, profiles: dict, dtype: str) -> dict:
    """Roofline bounds on the measured profile and the datasheet row (None where it has no
    peak for dtype, or there is no row), and which term binds on the measured one."""
    found = {}
    for kind, profile in profiles.items():
        has = profile is not None and dtype in profile.peak_flops
        found[kind] = devices.roofline_time(flops, moved, profile, dtype) if has else None
    measured = profiles["measured"]
    has = dtype in measured.peak_flops
    bound_by = devices.bound(flops, moved, measured, dtype) if has else None
    return {"bound_s": found["measured"], "bound_datasheet_s": found["datasheet"],
            "bound_by": bound_by}  # fmt: skip


def _ratio(median, bound):
    return None if median is None or not bound else median / bound


def _precision(dtype) -> str:
    """The PRECISIONS name of a module cast to dtype: "fp32", "pure-fp16", "pure-bf16"."""
    return next(k for k, p in PRECISIONS.items() if p.weights == dtype and p.compute is None)


def architecture_records(size: str, dev, dtype, profiles: dict, progress: bool = True) -> list:
    """Every architecture of ``bench.workload`` swept over plan.ns in both modes, each point
    with its formulas: forward FLOPs, ideal forward bytes and the roofline bound (both modes:
    the forward's bytes bound a training step's too), and for a training step the bytes saved
    for backward and the modelled peak above the weights held before it (``training_memory``
    with SGD, which keeps no state: the step's gradients, activations and temporaries).
    profiles: {"measured": this device's DeviceProfile, "datasheet": its DEVICES row or None}."""
    plan, dev, name, d_name = _plan(size), torch.device(dev), device_name(dev), dtype_name(dtype)
    cap = devices._memory_bytes(dev) // 2 if dev.type == "cuda" else 2 * 2**30
    lists = "cuda" if dev.type == "cuda" else "cpu"
    out = []
    for arch, spec in bench.workload(size).items():
        records = bench.sweep(spec, plan.ns, (1,), bench.MODES, dev, dtype, memory_cap=cap,
                              min_run_time=plan.min_run_time, progress=progress)  # fmt: skip
        for r in records:
            moved = traffic.bytes_moved(spec, r.n, r.batch, dtype, "forward", "ideal")
            training = r.mode != "forward"
            weights = costs.params(spec) * costs.itemsize(dtype)
            model = budget.training_memory(spec, r.n, r.batch, _precision(dtype), "sgd",
                                           lists=lists) if training else None  # fmt: skip
            bounds = _bounds(r.flops, moved, profiles, d_name)
            out.append({
                "arch": arch, "spec": repr(spec), "n": r.n, "batch": r.batch, "mode": r.mode,
                "dtype": d_name, "status": r.status, "median_s": r.median_s, "iqr_s": r.iqr_s,
                "peak_bytes": r.peak_bytes, "flops": r.flops,
                "forward_flops": costs.forward_flops(spec, r.n, r.batch), "ideal_bytes": moved,
                **bounds, "measured_over_bound": _ratio(r.median_s, bounds["bound_s"]),
                "activation_bytes": costs.activation_bytes(spec, r.n, r.batch, dtype)
                if training else None,
                "modelled_peak_bytes": model.total - weights if training else None,
                "device": name,
            })  # fmt: skip
    return out


@dataclass(frozen=True)
class Point:
    """One roofline point: F FLOPs, M_moved ideal bytes, and the call that does them."""

    name: str
    flops: int
    bytes: int
    fn: Callable


def roofline_points(size: str, dev, dtype) -> list:
    """The operations "Inference and memory traffic" sets under its roofline, at plan's
    shapes: an RNN step at batch 1, 8 and 64, a Transformer's decode step after each of
    its cached lengths, one FFN matmul, the attention core explicit and fused (``PLANS``).
    F and ideal M_moved from ``formulas.decode`` and ``formulas.traffic``, the bare
    products' from their shapes (2 r d f and 4 h n^2 d_k FLOPs; read the inputs, write the
    output)."""
    plan, dev, b = _plan(size), torch.device(dev), costs.itemsize(dtype)
    new = {"device": dev, "dtype": dtype}
    points = []
    rnn = RNN(plan.rnn_width, 1)
    steps = Decoder(build(rnn).to(**new))
    for B in (1, 8, 64):
        x, state = torch.randn(B, rnn.d_model, **new), steps.start(B)
        points.append(Point(f"RNN step, B = {B}", decode.decode_step_flops(rnn, 0, B),
                            traffic.bytes_moved(rnn, 0, B, dtype, "decode", "ideal"),
                            lambda x=x, s=state: steps.step(x, s)))  # fmt: skip
    t = plan.decoder
    decoder = Decoder(build(t).to(**new))
    for m in plan.cached:
        kv = tuple((torch.randn(1, t.heads, m, t.d_head, **new),) * 2 for _ in range(t.layers))
        x, state = torch.randn(1, t.d_model, **new), State(m, kv)
        points.append(Point(f"decode step, n = {m}", decode.decode_step_flops(t, m),
                            traffic.bytes_moved(t, m, 1, dtype, "decode", "ideal"),
                            lambda x=x, s=state: decoder.step(x, s)))  # fmt: skip
    rows, d, f = plan.ffn
    a, w = torch.randn(rows, d, **new), torch.randn(d, f, **new)
    points.append(Point("FFN matmul", 2 * rows * d * f, b * (rows * d + d * f + rows * f),
                        lambda: a @ w))  # fmt: skip
    n, h, dk = plan.attention
    q, k, v = (torch.randn(1, h, n, dk, **new) for _ in range(3))
    flops, moved = 4 * h * n * n * dk, 4 * b * h * n * dk  # QK^T and AV; read q, k, v, write o
    points.append(Point("attention, explicit", flops, moved,
                        lambda: torch.softmax(q @ k.transpose(-1, -2) / dk**0.5, -1) @ v))
    points.append(Point("attention, fused", flops, moved,
                        lambda: F.scaled_dot_product_attention(q, k, v)))  # fmt: skip
    return points


def roofline_records(size: str, dev, dtype, profiles: dict) -> list:
    """Each of ``roofline_points`` timed (``bench.time``, no autograd) beside its bound."""
    plan, name, d_name, out = _plan(size), device_name(dev), dtype_name(dtype), []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small steps time noisily; the records keep the IQR
        for point in roofline_points(size, dev, dtype):
            timing = bench.time(point.fn, dev, min_run_time=plan.min_run_time)
            bounds = _bounds(point.flops, point.bytes, profiles, d_name)
            out.append({"operation": point.name, "dtype": d_name, "flops": point.flops,
                        "ideal_bytes": point.bytes, "intensity": point.flops / point.bytes,
                        "median_s": timing.median, "iqr_s": timing.iqr, **bounds,
                        "measured_over_bound": _ratio(timing.median, bounds["bound_s"]),
                        "device": name})  # fmt: skip
    return out


def training_precisions(dev) -> tuple:
    """fp32, and on CUDA autocast over fp32 weights: bf16 from compute capability 8.0, else fp16."""
    dev = torch.device(dev)
    if dev.type != "cuda":
        return ("fp32",)
    native_bf16 = torch.cuda.get_device_capability(dev) >= (8, 0)
    return ("fp32", "mixed-bf16" if native_bf16 else "mixed-fp16")


def training_records(size: str, dev, progress: bool = True) -> list:
    """One steady Adam training step per architecture and precision (``training_precisions``),
    measured by ``measure.budget.step_memory``, beside ``training_memory`` with this
    device's autocast op lists. A step that runs out of memory is recorded as "oom"."""
    plan, dev, name = _plan(size), torch.device(dev), device_name(dev)
    lists = "cuda" if dev.type == "cuda" else "cpu"
    n, B, out = plan.train_n, plan.train_batch, []
    grid = [(a, s, p) for a, s in bench.workload(size).items()
            for p in training_precisions(dev)]  # fmt: skip
    for arch, spec, precision in tqdm(grid, desc="training steps", disable=not progress,
                                      leave=False):  # fmt: skip
        model = budget.training_memory(spec, n, B, precision, "adam", lists=lists)
        record = {"arch": arch, "spec": repr(spec), "n": n, "batch": B, "precision": precision,
                  "optimizer": "adam", "lists": lists, "status": "ok",
                  **{f"modelled_{k}": v for k, v in dataclasses.asdict(model).items()}}
        try:
            measured = step_memory(training_step.prepare(spec, n, B, precision, "adam", dev=dev))
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            measured, record["status"] = None, "oom"
        for kind in ("params", "grads", "optimizer", "peak"):
            record[f"measured_{kind}"] = None if measured is None else getattr(measured, kind)
        record["measured_over_modelled"] = _ratio(record["measured_peak"], model.total)
        out.append({**record, "device": name})
    return out


def scan_records(size: str, dev) -> list:
    """One layer of LinearRecurrence(64) by loop and by scan at batch 8 over ``Plan.scan_ns``:
    ``bench.loop_against_scan``'s rows, each with the sequential transfers of both and the
    device's name."""
    plan = _plan(size)
    return [{**row, **_loop_and_scan_steps(row["n"], "_"), "device": device_name(dev)}
            for row in bench.loop_against_scan(plan.scan_ns, SCAN_WIDTH, SCAN_BATCH, dev,
                                               plan.min_run_time)]  # fmt: skip


def _loop_and_scan_steps(n: int, sep: str) -> dict:
    """The sequential transfers of ``LOOP_AND_SCAN`` at n, keyed "loop{sep}steps" and
    "scan{sep}steps"."""
    loop, scan = LOOP_AND_SCAN
    return {f"loop{sep}steps": paths.sequential_steps(loop, n),
            f"scan{sep}steps": paths.sequential_steps(scan, n)}  # fmt: skip


def run(size: str | None = None, progress: bool = True) -> dict:
    """Run the five checks on ``runtime.device()`` at `size` (default ``runtime.size``: "full"
    on a GPU, "quick" elsewhere); the report as a dict of JSON types (module docstring)."""
    if size is not None:
        require_choice("size", size, RUN_SIZES)
    require_bool(progress=progress)
    dev = runtime.device()
    size = size or runtime.size(dev)
    plan, dtype = PLANS[size], torch.float16 if dev.type == "cuda" else torch.float32
    started = time.perf_counter()
    checks = tqdm(total=5, desc=f"gpu-report ({size})", disable=not progress)
    with runtime.threads(1 if dev.type == "cpu" else torch.get_num_threads()):
        report = {"size": size, "dtype": dtype_name(dtype), "device": device_info(dev)}
        report["sdpa"] = sdpa_backends(dev, dtype)
        checks.update()
        profiles = _profiles(plan, dev)
        report["profiles"] = {
            kind: None if p is None else {**dataclasses.asdict(p), "device": device_name(dev)}
            for kind, p in profiles.items()
        }
        report["architectures"] = architecture_records(size, dev, dtype, profiles, progress)
        checks.update()
        report["roofline"] = roofline_records(size, dev, dtype, profiles)
        checks.update()
        report["training"] = training_records(size, dev, progress)
        checks.update()
        report["scan"] = scan_records(size, dev)
        checks.update()
    checks.close()
    report["wall_s"] = time.perf_counter() - started
    report["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return _plain(report)


def _plain(value):
    """value with every NaN or infinity (which JSON has not) replaced by None."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def require_path(path) -> Path:
    """path as a Path; ValueError unless it ends in .json (check before a long run)."""
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"path must end in .json, got {path.name!r}")
    return path


def save(report: dict, path) -> None:
    """Write a report of ``run`` to a .json file (ValueError for another suffix)."""
    path = require_path(path)
    if not isinstance(report, dict) or "device" not in report:
        raise ValueError(f"report must be a dict from gpu_report.run, got {type(report).__name__}")
    path.write_text(json.dumps(report, indent=1, allow_nan=False))


def load(path) -> dict:
    """Read a report that ``save`` wrote."""
    report = json.loads(require_path(path).read_text())
    if not isinstance(report, dict) or "device" not in report:
        raise ValueError(f"path must hold a gpu_report, got {path!r}")
    return report


def _span(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "none ran"
    return f"x{min(values):.3g} to x{max(values):.3g}, median x{statistics.median(values):.3g}"


def summary(report: dict) -> str:
    """The report in a few lines: the device, the SDPA backends, and each check's ratios."""
    dev = report["device"]
    capability = "" if dev["capability"] is None else f", capability {dev['capability'][0]}." \
        f"{dev['capability'][1]}"  # fmt: skip
    lines = [f"gpu-report on {dev['name']} ({dev['type']}{capability}, torch {dev['torch']}), "
             f"size {report['size']!r}, {report['dtype']}, {report['wall_s']:.1f} s",
             "SDPA backends: " + ", ".join(f"{r['backend']} {r['status']}" for r in report["sdpa"])]
    for mode in bench.MODES:
        ran = [r for r in report["architectures"] if r["mode"] == mode]
        lines.append(f"architectures, {mode}: {sum(r['status'] == 'ok' for r in ran)} of "
                     f"{len(ran)} points ran; measured / roofline bound "
                     f"{_span(r['measured_over_bound'] for r in ran)}")  # fmt: skip
    roof = report["roofline"]
    lines.append(f"roofline points: {len(roof)}; measured / bound "
                 f"{_span(r['measured_over_bound'] for r in roof)}")
    lines.append(f"training steps: {len(report['training'])}; measured peak / modelled peak "
                 f"{_span(r['measured_over_modelled'] for r in report['training'])}")
    lines.append(f"loop / scan time of a linear recurrence: "
                 f"{_span(r['ratio'] for r in report['scan'])}")
    return "\n".join(lines)


def recorded(path) -> dict | None:
    """The report saved at `path` if the file exists and was measured on CUDA, else None."""
    path = require_path(path)
    if not path.exists():
        return None
    report = load(path)
    return report if report["device"]["type"] == "cuda" else None


def _ms(seconds, digits: int = 3):
    return "n/a" if seconds is None else round(seconds * 1e3, digits)


def _mib(nbytes, digits: int = 2):
    return "n/a" if nbytes is None else round(nbytes / 2**20, digits)


def _x(ratio, digits: int = 2):
    return "n/a" if ratio is None else round(ratio, digits)


def measured_tables(report: dict) -> dict:
    """The report's numbers as tables for ``book.table``, by title, each titled with the
    device that measured them."""
    on = f"on {report['device']['name']}, {report['dtype']}"
    return {
        f"SDPA backends {on}": [
            {"backend": r["backend"], "status": r["status"], "why not": r["reason"] or ""}
            for r in report["sdpa"]],
        f"Architectures {on}: time against the roofline bound, peak against the model": [
            {"model": r["arch"], "mode": r["mode"], "n": r["n"], "status": r["status"],
             "median (ms)": _ms(r["median_s"]), "bound (ms)": _ms(r["bound_s"], 4),
             "measured / bound": _x(r["measured_over_bound"]), "peak (MiB)": _mib(r["peak_bytes"]),
             "modelled peak (MiB)": _mib(r["modelled_peak_bytes"])}
            for r in report["architectures"]],
        f"Roofline points of Inference and memory traffic {on}": [
            {"operation": r["operation"], "I (FLOP/byte)": round(r["intensity"], 2),
             "median (ms)": _ms(r["median_s"], 4), "bound (ms)": _ms(r["bound_s"], 4),
             "measured / bound": _x(r["measured_over_bound"]), "bound by": r["bound_by"]}
            for r in report["roofline"]],
        f"One training step {on}: measured peak against training_memory": [
            {"model": r["arch"], "precision": r["precision"], "n": r["n"], "batch": r["batch"],
             "measured peak (MiB)": _mib(r["measured_peak"]),
             "modelled peak (MiB)": _mib(r["modelled_total"]),
             "measured / modelled": _x(r["measured_over_modelled"], 3)}
            for r in report["training"]],
        f"A linear recurrence {on}: loop against scan (d = {SCAN_WIDTH}, batch {SCAN_BATCH})": [
            {"n": r["n"], "loop steps": r["loop_steps"], "scan steps": r["scan_steps"],
             "loop (ms)": _ms(r["loop_s"]), "scan (ms)": _ms(r["scan_s"]),
             "loop / scan": _x(r["ratio"])}
            for r in report["scan"]],
    }  # fmt: skip


def predicted_tables(gpu: str = "t4", size: str = "full") -> dict:
    """What the formulas and the datasheet row `gpu` of ``devices.DEVICES`` predict for the
    checks of ``run`` at `size`, in float16 (the training step: mixed precision, CUDA's
    autocast lists), as tables by title. Every number is a prediction, none is measured."""
    require_choice("gpu", gpu, devices.DEVICES)
    require_choice("size", size, RUN_SIZES)
    profile, plan, fp16 = devices.DEVICES[gpu], _plan(size), torch.float16
    memory = profile.memory_bytes
    forward = []
    for arch, spec in bench.workload(size).items():
        for n in plan.ns:
            flops = costs.forward_flops(spec, n)
            moved = traffic.bytes_moved(spec, n, 1, fp16, "forward", "ideal")
            forward.append({"model": arch, "n": n, "forward GFLOP": round(flops / 1e9, 3),
                            "ideal bytes (MiB)": _mib(moved),
                            "bound (ms)": _ms(devices.roofline_time(flops, moved, profile), 4),
                            "bound by": devices.bound(flops, moved, profile),
                            "saved for backward (MiB)":
                            _mib(costs.activation_bytes(spec, n, 1, fp16))})  # fmt: skip
    heads = bench.workload(size)["transformer"].heads
    weights = [{"n": n, "heads": heads, "weights of one layer (MiB)":
                _mib(costs.attention_weights_bytes(n, heads, 1, fp16)),
                "share of its memory": round(costs.attention_weights_bytes(n, heads, 1, fp16)
                                             / memory, 4)}
               for n in (*plan.ns, 4 * plan.ns[-1])]  # fmt: skip
    training = []
    for arch, spec in bench.workload(size).items():
        model = budget.training_memory(spec, plan.train_n, plan.train_batch, "mixed-fp16",
                                       "adam", lists="cuda")  # fmt: skip
        training.append({"model": arch, "n": plan.train_n, "batch": plan.train_batch,
                         "modelled peak (MiB)": _mib(model.total), "peak phase": model.phase,
                         "fits": model.total <= memory})  # fmt: skip
    loop, scan = LOOP_AND_SCAN
    steps = [{"n": n, **_loop_and_scan_steps(n, " "),
              "loop combine FLOPs":
              costs.forward_flops_by_component(loop, n, SCAN_BATCH)["recurrent"],
              "scan combine FLOPs":
              costs.forward_flops_by_component(scan, n, SCAN_BATCH)["recurrent"]}
             for n in plan.scan_ns]  # fmt: skip
    return {
        f"Predicted on {gpu} (datasheet), float16: one forward pass at batch 1": forward,
        f"Predicted on {gpu}: one layer's explicit attention weights, float16": weights,
        f"Predicted on {gpu}: one mixed-fp16 Adam training step, CUDA's autocast lists": training,
        f"Predicted for any device: a linear recurrence (d = {SCAN_WIDTH}, batch {SCAN_BATCH}),"
        " loop against scan,"
        " the transfers and combine FLOPs each runs (counted, no time predicted)": steps,
    }


def measured_or_predicted(path, gpu: str = "t4") -> dict:
    """What the appendix shows: {"kind": "measured", "device": its name, "says": a sentence,
    "tables": ``measured_tables``} from the CUDA report saved at `path` (``recorded``), else
    "kind" "predicted", "device" `gpu` and ``predicted_tables(gpu)``, which "says" plainly."""
    report = recorded(path)
    if report is None:
        says = (f"No GPU run has been recorded in this build, so every number below is a "
                f"prediction for the {gpu}, from its datasheet row in pathcost.devices and the "
                f"package's formulas; none is measured.")  # fmt: skip
        return {"kind": "predicted", "device": gpu, "says": says,
                "tables": predicted_tables(gpu)}  # fmt: skip
    dev = report["device"]
    says = (f"Every number below was measured on {dev['name']} by gpu-report (size "
            f"{report['size']!r}, {report['dtype']}, torch {dev['torch']}).")  # fmt: skip
    return {"kind": "measured", "device": dev["name"], "says": says,
            "tables": measured_tables(report)}  # fmt: skip


def size_settings() -> list:
    """What each run size sets, where the package holds the setting, one row per setting (for
    ``book.table``): the benchmark workload of "Time and parallelism" and ``bench``, the
    trainer's budget of "Long-range tasks", the capstone's setup, and this report's plan."""
    from .experiments import capstone, training

    def workload(size: str) -> str:
        t = bench.workload(size)["transformer"]
        return f"d = {t.d_model}, h = {t.heads}, f = {t.d_ff}, D = {t.layers}"

    def trainer(size: str) -> str:
        b = training.BUDGETS[size]
        return f"{b.steps:,} steps of batch {b.batch}, {b.held_out:,} held-out sequences"

    def setup(size: str) -> str:
        c = capstone.SETUPS[size]
        return (f"n = {c.n:,}, {c.train:,} training sequences, {c.params:,} parameters, at "
                f"most {c.budget.steps:,} steps or {c.budget.seconds:g} s a model")  # fmt: skip

    def plan(size: str) -> str:
        p = PLANS[size]
        return (f"sweep n = {', '.join(f'{n:,}' for n in p.ns)}; training step n = "
                f"{p.train_n:,}, batch {p.train_batch}")  # fmt: skip

    rows = (
        ("Time and parallelism; bench", "the Transformer of bench.workload", workload),
        ("Long-range tasks", "training.BUDGETS, one training run", trainer),
        ("Capstone", "capstone.SETUPS", setup),
        ("This appendix; gpu-report", "gpu_report.PLANS", plan),
    )
    return [{"chapter": chapter, "setting": what, **{size: f(size) for size in RUN_SIZES}}
            for chapter, what, f in rows]  # fmt: skip
