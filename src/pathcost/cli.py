"""Command line: ``python -m pathcost estimate|bench ...``, a thin layer over the package.

Units: FLOPs in GFLOP (10^9), bytes in MiB (2^20); ``--json`` gives exact integers.
"""

import argparse
import json
import math
import sys

import torch

from . import bench, runtime
from .formulas import costs, paths
from .registry import ARCHITECTURES, ATTENTION_KERNELS, DTYPES, RUN_SIZES, dtype_name
from .specs import Transformer


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"pathcost: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pathcost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    estimate = commands.add_parser("estimate", help="both axes for one architecture and length")
    estimate.add_argument("--arch", required=True, choices=sorted(ARCHITECTURES))
    estimate.add_argument("--n", required=True, type=int, help="sequence length")
    estimate.add_argument("--d-model", type=int, default=512)
    estimate.add_argument("--layers", type=int, help="default: 1 (rnn, lstm), 8 (cnn), 6")
    estimate.add_argument("--heads", type=int, default=8, help="transformer")
    estimate.add_argument("--d-ff", type=int, default=2048, help="transformer")
    estimate.add_argument("--window", type=int, help="transformer: local attention radius")
    estimate.add_argument("--kernel", type=int, default=3, help="cnn")
    estimate.add_argument("--dilations", type=int, nargs="+", help="cnn: one per layer")
    estimate.add_argument(
        "--bidirectional", action="store_true", help="centred cnn / non-causal transformer"
    )
    estimate.add_argument("--batch", type=int, default=1)
    estimate.add_argument("--dtype", choices=sorted(DTYPES), default="fp16")
    estimate.add_argument("--attention", choices=ATTENTION_KERNELS, default="explicit")
    estimate.add_argument("--json", action="store_true", help="exact numbers as JSON")

    timing = commands.add_parser("bench", help="time and peak memory on this device against n")
    timing.add_argument(
        "--arch", nargs="+", default=["all"], choices=[*sorted(ARCHITECTURES), "all"]
    )
    timing.add_argument("--n", nargs="+", type=int, required=True, help="sequence lengths")
    timing.add_argument("--batch", type=int, default=1)
    timing.add_argument("--mode", choices=[*bench.MODES, "both"], default="forward")
    timing.add_argument("--size", choices=RUN_SIZES, help="default: quick on CPU, full on GPU")
    timing.add_argument(
        "--memory-cap-gib", type=float, default=4.0, help="skip points estimated above (CPU)"
    )
    timing.add_argument("--out", help="write every record to this .csv or .json file")
    timing.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def parser_choices(command: str, option: str) -> list:
    """The choices the command line accepts for `option` of `command` (for the registry test)."""
    subcommands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in subcommands.choices[command]._actions if option in a.option_strings)
    return list(action.choices)


def _spec(args):
    sizes = {"d_model": args.d_model}
    if args.layers is not None:
        sizes["layers"] = args.layers
    if args.arch == "cnn":
        sizes.update(kernel=args.kernel, causal=not args.bidirectional)
        if args.dilations is not None:
            sizes.update(dilations=tuple(args.dilations))
            sizes.setdefault("layers", len(args.dilations))
    if args.arch == "transformer":
        sizes.update(heads=args.heads, d_ff=args.d_ff, window=args.window)
        sizes.update(causal=not args.bidirectional)
    return ARCHITECTURES[args.arch].spec(**sizes)


def estimate(spec, n: int, batch: int, dtype, attention: str) -> dict:
    """Both axes for one spec and workload, as exact numbers (None where not applicable)."""
    is_transformer = isinstance(spec, Transformer)
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
        "attention_weights_bytes_per_layer": (
            costs.attention_weights_bytes(n, spec.heads, batch, dtype) if is_transformer else None
        ),
        "activation_bytes": costs.activation_bytes(spec, n, batch, dtype, attention),
        "kv_cache_bytes": (
            costs.kv_cache_bytes(spec, n, batch, dtype) if is_transformer and spec.causal else None
        ),
        "attention_ffn_crossover_n": costs.attention_ffn_crossover(spec)
        if is_transformer
        else None,
    }


def _mib(value) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.2f} MiB"


def _count(value) -> str:
    return "n/a" if value is None else ("unbounded" if value == math.inf else f"{value:,}")


def report(result: dict) -> str:
    """The estimate as an aligned text table in human units."""
    rows = [
        ("spec", result["spec"]),
        ("workload", f"n = {result['n']:,}, batch = {result['batch']}, {result['dtype']}"),
        ("path length L, first to last", _count(result["path_length_first_to_last"])),
        ("sequential steps S", _count(result["sequential_steps"])),
        ("receptive field R", _count(result["receptive_field"])),
        ("forward FLOPs", f"{result['forward_flops'] / 1e9:,.3f} GFLOP"),
    ]
    for name, value in result["forward_flops_by_component"].items():
        rows.append((f"  {name}", f"{value / 1e9:,.3f} GFLOP"))
    rows += [
        ("parameters", f"{result['params']:,}"),
        ("attention weights, one layer", _mib(result["attention_weights_bytes_per_layer"])),
        ("activations saved for backward", _mib(result["activation_bytes"])),
        ("KV cache", _mib(result["kv_cache_bytes"])),
        ("attention > FFN from n =", _count(result["attention_ffn_crossover_n"])),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _finite(value):
    """JSON has no infinity: an unbounded quantity is written as the string "inf"."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return "inf" if value == math.inf else value


def run_bench(args) -> list:
    """The sweeps the ``bench`` command asks for, then the attention kernels side by side."""
    dev = runtime.device()
    run_size = args.size or runtime.size(dev)
    specs = bench.workload(run_size)
    chosen = sorted(ARCHITECTURES) if "all" in args.arch else args.arch
    modes = bench.MODES if args.mode == "both" else (args.mode,)
    cap = None if dev.type == "cuda" else int(args.memory_cap_gib * 2**30)
    if args.memory_cap_gib <= 0:
        raise ValueError(f"memory-cap-gib must be > 0, got {args.memory_cap_gib}")
    print(f"bench on {dev.type}, size {run_size!r}, torch {torch.__version__}", file=sys.stderr)
    records = []
    for arch in chosen:
        records += bench.sweep(specs[arch], args.n, [args.batch], modes, dev, memory_cap=cap,
                               progress=not args.quiet)  # fmt: skip
    attention = specs["transformer"]
    records += bench.attention_kernels(args.n, attention.d_model, attention.heads, args.batch,
                                       dev, memory_cap=cap, progress=not args.quiet)  # fmt: skip
    return records


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


def main(argv=None) -> int:
    """Run the command line on argv (sys.argv by default); errors are one line and exit 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench":
            records = run_bench(args)
            if args.out:
                bench.save(records, args.out)
            print(bench_report(records))
            return 0
        spec = _spec(args)
        result = estimate(spec, args.n, args.batch, DTYPES[args.dtype], args.attention)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(_finite(result), indent=2, allow_nan=False))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
