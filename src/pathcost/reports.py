"""What the command line prints: both axes of one estimate, the roofline, the training step's
memory against a budget, the device table, a benchmark's records, and the length and span
profile of files, as exact numbers (``--json``) or aligned text in human units.

Units: FLOPs in GFLOP (10^9; MFLOP for one decode step), bytes in MiB (2^20; a budget and
its margin also in GiB, 2^30; a decode state or a decode step's bytes below one MiB in KiB
or B; a profile's attention weights in B, KiB, MiB or GiB, whichever reads best), times in
ms or us.
"""

import dataclasses
import math

from . import bench, devices
from .advisor.profiles import length_profile, percentiles
from .formulas import budget as training_budget
from .formulas import costs, decode, paths, traffic
from .registry import DTYPES, dtype_name
from .specs import Transformer


def estimate(spec, n: int, batch: int, dtype, attention: str) -> dict:
    """Both axes for one spec and workload, as exact numbers (None where not applicable).

    The decode entries are the step that makes position n, after n cached tokens
    (``formulas.decode``); they are None for a spec that cannot decode (not causal). Bytes
    moved and arithmetic intensity come in both counts of ``formulas.traffic``.
    """
    is_transformer = isinstance(spec, Transformer)
    decodes = decode.decodes(spec)
    components = costs.forward_flops_by_component(spec, n, batch)
    return {
        "spec": repr(spec),
        "n": n,
        "batch": batch,
        "dtype": dtype_name(dtype),
        "path_length_first_to_last": paths.path_length(spec, n - 1),
        "sequential_steps": paths.sequential_steps(spec, n),
        "receptive_field": paths.receptive_field(spec),
        "forward_flops": sum(components.values()),
        "forward_flops_by_component": components,
        "params": costs.params(spec),
        "kv_heads": spec.key_value_heads if is_transformer else None,
        "attention_weights_bytes_per_layer": (
            costs.attention_weights_bytes(n, spec.heads, batch, dtype) if is_transformer else None
        ),
        "activation_bytes": costs.activation_bytes(spec, n, batch, dtype, attention),
        "kv_cache_bytes": (
            costs.kv_cache_bytes(spec, n, batch, dtype) if is_transformer and spec.causal else None
        ),
        "decode_state_bytes": (
            decode.decode_state_bytes(spec, n, batch, dtype) if decodes else None
        ),
        "decode_step_flops": decode.decode_step_flops(spec, n, batch) if decodes else None,
        "forward_bytes": _traffic(traffic.bytes_moved, spec, n, batch, dtype, "forward", attention),
        "decode_bytes": _traffic(traffic.bytes_moved, spec, n, batch, dtype, "decode", attention),
        "decode_arithmetic_intensity": _traffic(
            traffic.arithmetic_intensity, spec, n, batch, dtype, "decode", attention
        ),
        "attention_ffn_crossover_n": costs.attention_ffn_crossover(spec)
        if is_transformer
        else None,
    }


def _traffic(formula, spec, n: int, batch: int, dtype, phase: str, attention: str):
    """formula (bytes_moved or arithmetic_intensity) by count; None where it does not apply.

    A phase other than the forward pass needs a causal spec. The unfused count is that of
    eager PyTorch with explicit attention: under a fused kernel it is None for a Transformer
    (the ideal count does not depend on the kernel).
    """
    if phase != "forward" and not decode.decodes(spec):
        return None
    fused = attention != "explicit" and isinstance(spec, Transformer)
    skip = {"unfused"} if fused else set()
    return {
        count: None if count in skip else formula(spec, n, batch, dtype, phase, count)
        for count in traffic.COUNTS
    }


def roofline(result: dict, profile, dtype: str) -> dict:
    """Roofline bounds in seconds on `profile`: the forward pass and one decode step.

    For each, the compute term F / P and, for each count of bytes moved, the memory term
    B / W, the bound T >= max(F / P, B / W) and which term binds (``devices``). None where
    the estimate has no FLOPs or bytes, or where the profile states no peak for dtype (then
    ``unavailable`` says so).
    """
    if dtype not in profile.peak_flops:
        stated = ", ".join(profile.peak_flops) or "none"
        return {"device": profile.name, "dtype": dtype, "forward": None, "decode_step": None,
                "unavailable": f"no sourced {dtype} peak FLOP/s (stated: {stated})"}
    steps = {
        "forward": (result["forward_flops"], result["forward_bytes"]),
        "decode_step": (result["decode_step_flops"], result["decode_bytes"]),
    }
    line = {"device": profile.name, "dtype": dtype}
    for step, (flops, moved) in steps.items():
        if flops is None:
            line[step] = None
            continue
        line[step] = {"compute_s": devices.roofline_time(flops, 0, profile, dtype)}
        for count, nbytes in moved.items():
            line[step][count] = None if nbytes is None else {
                "memory_s": devices.roofline_time(0, nbytes, profile, dtype),
                "time_s": devices.roofline_time(flops, nbytes, profile, dtype),
                "bound": devices.bound(flops, nbytes, profile, dtype),
            }  # fmt: skip
    return line


def training(spec, n: int, batch: int, precision: str, optimizer: str, checkpointing: bool,
             attention: str, budget=None, source: str | None = None,
             lists: str = "cpu") -> dict:
    """One training step's memory (``formulas.budget.training_memory``) against a budget.

    The TrainingMemory fields, and what they were computed for under "settings". budget:
    bytes or a device (``budget_bytes``), or None for the breakdown alone; source says
    where it came from. fits: total <= budget; margin_bytes: budget - total (negative
    when it does not fit); max_seq_len at this batch and max_batch at this n, None where
    even 1 does not fit. Without a budget these five are None. lists: the autocast op lists
    of the device the step runs on (``formulas.budget.device_lists``).
    """
    settings = {"precision": precision, "optimizer": optimizer, "checkpointing": checkpointing,
                "attention": attention, "lists": lists}  # fmt: skip
    memory = training_budget.training_memory(spec, n, batch, **settings)
    line = {"settings": {**settings, "n": n, "batch": batch}, **dataclasses.asdict(memory)}
    line.update(budget_bytes=None, budget_source=source, fits=None, margin_bytes=None,
                max_seq_len=None, max_batch=None)  # fmt: skip
    if budget is None:
        return line
    limit = training_budget.budget_bytes(budget)
    line.update(budget_bytes=limit, fits=memory.total <= limit, margin_bytes=limit - memory.total)
    if training_budget.training_memory(spec, 1, batch, **settings).total <= limit:
        line["max_seq_len"] = training_budget.max_seq_len(spec, limit, batch, **settings)
    if training_budget.training_memory(spec, n, 1, **settings).total <= limit:
        line["max_batch"] = training_budget.max_batch(spec, n, limit, **settings)
    return line


def _training_rows(line: dict) -> list:
    """The rows of ``training``: the breakdown, the peak, and the fit where there is a budget."""
    settings = line["settings"]
    n, batch = settings["n"], settings["batch"]
    setting = "checkpointing" if settings["checkpointing"] else "no checkpointing"
    rows = [(
        "training step",
        f"{settings['precision']}, {settings['optimizer']}, {setting}, n = {n:,}, "
        f"batch = {batch}, {settings['attention']} attention",
    )]  # fmt: skip
    for kind in ("params", "grads", "optimizer", "master", "activations", "transient"):
        rows.append((f"  {kind}", _mib(line[kind])))
    rows += [
        ("  total (modelled peak)", f"{_mib(line['total'])} = {_gib(line['total'])}"),
        ("  peak phase", line["phase"]),
    ]
    if line["budget_bytes"] is None:
        rows.append(("budget", "none given (--budget SIZE or --device NAME)"))
        return rows
    limit, margin = line["budget_bytes"], line["margin_bytes"]
    rows.append(("budget", f"{limit:,} bytes = {_gib(limit)}, {line['budget_source']}"))
    if line["fits"]:
        rows.append(("fit", f"fits, {_gib(margin)} ({margin:,} bytes) to spare"))
    else:
        rows.append(("fit", f"does not fit, over by {_gib(-margin)} ({-margin:,} bytes)"))
    longest, widest = line["max_seq_len"], line["max_batch"]
    rows += [
        (f"largest n at batch {batch}",
         "none (n = 1 does not fit)" if longest is None else f"{longest:,}"),
        (f"largest batch at n = {n:,}",
         "none (batch = 1 does not fit)" if widest is None else f"{widest:,}"),
    ]  # fmt: skip
    return rows


def _bound(step, count: str) -> str:
    if step is None or step[count] is None:
        return "n/a"
    terms = f"F / P {_time(step['compute_s'])}, B / W {_time(step[count]['memory_s'])}"
    return f"{_time(step[count]['time_s'])}, {step[count]['bound']}-bound ({terms})"


def _mib(value) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.2f} MiB"


def _mib_or_less(value) -> str:
    """MiB, or KiB or bytes below one MiB: a recurrence's decode state is a few KiB."""
    if value is None or value >= 2**20:
        return _mib(value)
    return _bytes(value)


def _gib(value) -> str:
    return "n/a" if value is None else f"{value / 2**30:,.2f} GiB"


def _gflop(value) -> str:
    return "n/a" if value is None else f"{value / 1e9:,.3f} GFLOP"


def _mflop(value) -> str:
    return "n/a" if value is None else f"{value / 1e6:,.3f} MFLOP"


def _time(seconds) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:,.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:,.3f} us"


def _count(value, infinite: str = "unbounded") -> str:
    return "n/a" if value is None else (infinite if value == math.inf else f"{value:,}")


def report(result: dict) -> str:
    """The estimate as an aligned text table in human units."""
    n = result["n"]
    rows = [
        ("spec", result["spec"]),
        ("workload", f"n = {n:,}, batch = {result['batch']}, {result['dtype']}"),
        (
            "path length L, first to last",
            _count(result["path_length_first_to_last"], "unreachable"),
        ),
        ("sequential steps S", _count(result["sequential_steps"])),
        ("receptive field R", _count(result["receptive_field"])),
        ("forward FLOPs", _gflop(result["forward_flops"])),
    ]
    for name, value in result["forward_flops_by_component"].items():
        rows.append((f"  {name}", _gflop(value)))
    rows += [
        ("parameters", f"{result['params']:,}"),
        ("attention weights, one layer", _mib(result["attention_weights_bytes_per_layer"])),
        ("activations saved for backward", _mib(result["activation_bytes"])),
        ("KV cache", _mib(result["kv_cache_bytes"])),
        (f"decode state, after n = {n:,} tokens", _mib_or_less(result["decode_state_bytes"])),
        (f"decode FLOPs per token, after n = {n:,} cached", _mflop(result["decode_step_flops"])),
    ]
    for count in traffic.COUNTS:
        moved = result["decode_bytes"]
        rows.append((f"decode bytes per token, {count}", _mib_or_less(moved and moved[count])))
    for count in traffic.COUNTS:
        intensity = result["decode_arithmetic_intensity"]
        rows.append((
            f"decode arithmetic intensity, {count}",
            "n/a" if intensity is None or intensity[count] is None
            else f"{intensity[count]:,.2f} FLOP/byte",
        ))  # fmt: skip
    crossover = _count(result["attention_ffn_crossover_n"], "never")
    rows.append(("attention products (QK^T, AV) > FFN FLOPs from n =", crossover))
    if "roofline" in result:
        line = result["roofline"]
        bound_text = line.get("unavailable") or "T >= max(F / P, B / W)"
        rows.append((f"roofline on {line['device']}, {line['dtype']}", bound_text))
        for step, name in (("forward", "forward pass"), ("decode_step", "one decode step")):
            for count in traffic.COUNTS:
                rows.append((f"  {name}, {count} bytes", _bound(line[step], count)))
    if "training" in result:
        rows += _training_rows(result["training"])
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def devices_report() -> str:
    """The devices table: memory, bandwidth and dense peaks by dtype, then each row's source."""
    table = devices.DEVICES.values()
    peaks = [dtype for dtype in DTYPES if any(dtype in row.peak_flops for row in table)]
    head = f"{'name':<10} {'memory GB':>9} {'GB/s':>6} " + " ".join(
        f"{dtype + ' TFLOP/s':>12}" for dtype in peaks
    )
    lines = [head]
    for name, profile in devices.DEVICES.items():
        flops = profile.peak_flops
        lines.append(
            f"{name:<10} {profile.memory_bytes / 1e9:>9.1f} "
            f"{profile.bandwidth_bytes_per_s / 1e9:>6,.0f} "
            + " ".join(
                f"{flops[d] / 1e12:>12,.1f}" if d in flops else f"{'n/a':>12}" for d in peaks
            )
        )
    lines += ["", "dense peaks (sparsity peaks halved); sources:"]
    lines += [f"  {name}: {profile.source}" for name, profile in devices.DEVICES.items()]
    return "\n".join(lines)


def finite(value):
    """JSON has no infinity: an unbounded quantity is written as the string "inf"."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    return "inf" if value == math.inf else value


def bench_report(records) -> str:
    """Every record, the fitted exponents, and explicit against fused attention per n."""
    lines = [f"{'model':<22} {'mode':<17} {'n':>6} {'status':<8} {'median ms':>10} "
             f"{'peak MiB':>9} {'GFLOP/s':>8}"]  # fmt: skip
    for r in records:
        timed = r.status == "ok"
        lines.append(
            f"{r.label:<22} {r.mode:<17} {r.n:>6} {r.status:<8} "
            f"{r.median_s * 1e3 if timed else float('nan'):>10.3f} "
            f"{r.peak_bytes / 2**20 if timed else float('nan'):>9.2f} "
            f"{r.flop_per_s / 1e9 if timed else float('nan'):>8.2f}"
        )
    lines += ["", "fitted time exponents (n >= 512 where three points reach it; 95% interval)"]
    for (name, mode), (slope, (low, high)) in bench.exponents(records).items():
        lines.append(f"  {name:<22} {mode:<17} {slope:5.2f}  [{low:.2f}, {high:.2f}]")
    explicit = {r.n: r for r in records if r.label == "attention (explicit)" and r.status == "ok"}
    lines += ["", "explicit softmax(QK^T)V against fused kernels: explicit / fused"]
    for r in records:
        if r.label.startswith("attention (") and r.label != "attention (explicit)":
            base = explicit.get(r.n)
            if base and r.status == "ok":
                lines.append(
                    f"  n = {r.n:>6}  {r.label:<24} time x{base.median_s / r.median_s:6.2f}  "
                    f"peak memory x{base.peak_bytes / max(r.peak_bytes, 1):7.2f}"
                )
    return "\n".join(lines)


def profile(lengths, spans, kinds: dict, unit: str, boundaries, heads: int, batch: int,
            dtype) -> dict:  # fmt: skip
    """The profile of a reader's files as exact numbers: lengths and spans (``advisor``).

    lengths and spans: ``advisor.corpus.CorpusSample`` (spans None without .py files);
    kinds: each file's ``file_kind``. "lengths" holds the ``LengthProfile`` fields, "spans"
    the ``Percentiles`` of the bracket spans (None where there are none); "skipped" names
    the files each could not read.
    """
    if not lengths.values:
        raise ValueError("no sequences in the files: every source file was skipped or holds "
                         "no function (try --unit module)")  # fmt: skip
    measured = length_profile(lengths.values, boundaries, None, heads, batch, dtype)
    has_spans = spans is not None and spans.values
    return {
        "files": kinds,
        "unit": unit if "source" in kinds.values() else None,
        "skipped": {"lengths": list(lengths.skipped),
                    "spans": [] if spans is None else list(spans.skipped)},  # fmt: skip
        "lengths": dataclasses.asdict(measured),
        "spans": dataclasses.asdict(percentiles(spans.values)) if has_spans else None,
    }


def _bytes(value: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:,.2f} {unit}"
    return f"{value:,} B"


def _waste(padding: dict) -> str:
    return (f"{padding['waste']:.2%} ({padding['padding_tokens']:,} of "
            f"{padding['padded_tokens']:,} padded tokens)")  # fmt: skip


def profile_report(result: dict) -> str:
    """The profile as aligned text: the files, length percentiles, padding, attention, spans."""
    kinds = list(result["files"].values())
    counts = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
    per = f"; .py one sequence per {result['unit']}" if result["unit"] else ""
    lengths, spans = result["lengths"], result["spans"]
    skipped = result["skipped"]["lengths"] + result["skipped"]["spans"]
    rows = [
        ("files", f"{len(kinds)}: {counts}{per}"),
        ("skipped (did not tokenize or parse)", ", ".join(dict.fromkeys(skipped)) or "none"),
        ("sequences", f"{lengths['count']:,}"),
        ("tokens", f"{lengths['tokens']:,}"),
        ("length P50 / P90 / P99 / max", " / ".join(
            f"{lengths[key]:,}" for key in ("p50", "p90", "p99", "max"))),
        (f"padding waste, all padded to {lengths['padding']['ends'][-1]:,}",
         _waste(lengths["padding"])),
    ]  # fmt: skip
    if lengths["bucketed"] is not None:
        ends = ", ".join(f"{end:,}" for end in lengths["bucketed"]["ends"])
        rows.append((f"padding waste, buckets {ends}", _waste(lengths["bucketed"])))
    setting = f"{lengths['heads']} heads, batch {lengths['batch']}, {lengths['dtype']}"
    rows.append(("attention weights, one layer", setting))
    for key, name in (("p50", "P50"), ("p90", "P90"), ("p99", "P99"), ("max", "max")):
        rows.append((f"  at {name}, n = {lengths[key]:,}", _bytes(lengths["attention_bytes"][key])))
    if spans is None:
        rows.append(("bracket spans", "n/a (no Python source)"))
    else:
        rows += [
            ("bracket spans, tokens from ( [ { to its match", f"{spans['count']:,}"),
            ("span P50 / P90 / P99 / max",
             " / ".join(f"{spans[key]:,}" for key in ("p50", "p90", "p99", "max"))),
        ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
