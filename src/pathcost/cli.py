"""Command line: ``python -m pathcost estimate|bench|devices ...``, a thin layer over the package.

It parses, builds the spec and calls the package; ``reports`` formats what it prints
(``--json`` gives exact integers, and seconds as floats).
"""

import argparse
import json
import sys

import torch

from . import bench, devices, runtime
from .registry import ARCHITECTURES, ATTENTION_KERNELS, DTYPES, RUN_SIZES
from .reports import bench_report, devices_report, estimate, finite, report, roofline


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"pathcost: error: {message}\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows every default: argparse's own, or the option's "(default: ...)" text."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default:" in action.help:
            return action.help  # no default, or one the help text states in words
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pathcost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, formatter_class=_Help)

    estimate = add("estimate", "both axes for one architecture and length")
    estimate.add_argument("--arch", required=True, choices=sorted(ARCHITECTURES))
    estimate.add_argument("--n", required=True, type=int, help="sequence length")
    estimate.add_argument("--d-model", type=int, default=512, help="width")
    estimate.add_argument(
        "--layers",
        type=int,
        help="stack depth (default: 1 for rnn and lstm, 8 for cnn, 6 for transformer)",
    )
    estimate.add_argument("--heads", type=int, default=8, help="transformer: query heads")
    estimate.add_argument(
        "--kv-heads", type=int, help="transformer: heads of K and V, dividing --heads "
        "(default: --heads, multi-head; 1 is multi-query)"
    )  # fmt: skip
    estimate.add_argument(
        "--d-ff", type=int, help="transformer: FFN width (default: 4 x --d-model)"
    )
    estimate.add_argument(
        "--window", type=int, help="transformer: local attention radius (default: full attention)"
    )
    estimate.add_argument("--kernel", type=int, default=3, help="cnn: kernel width")
    estimate.add_argument(
        "--dilations", type=int, nargs="+", help="cnn: one per layer (default: all 1)"
    )
    estimate.add_argument(
        "--bidirectional", action="store_true",
        help="centred cnn / non-causal transformer (default: causal)",
    )  # fmt: skip
    estimate.add_argument("--batch", type=int, default=1, help="batch size")
    estimate.add_argument("--dtype", choices=sorted(DTYPES), default="fp16", help="element type")
    estimate.add_argument(
        "--attention", choices=ATTENTION_KERNELS, default="explicit",
        help="attention kernel the saved activations assume; the unfused byte count is that of "
        "explicit attention, so it is n/a under sdpa",
    )  # fmt: skip
    estimate.add_argument(
        "--device", choices=[*devices.DEVICES, devices.THIS],
        help="print roofline time bounds on this GPU of the devices table, or on this machine "
        "as measured ('this', which takes seconds) (default: none)",
    )  # fmt: skip
    estimate.add_argument("--json", action="store_true", help="exact numbers as JSON")

    timing = add("bench", "time and peak memory on this device against n")
    timing.add_argument(
        "--arch", nargs="+", default=["all"], choices=[*sorted(ARCHITECTURES), "all"],
        help="architectures to time (default: all)",
    )  # fmt: skip
    timing.add_argument("--n", nargs="+", type=int, required=True, help="sequence lengths")
    timing.add_argument("--batch", type=int, default=1, help="batch size")
    timing.add_argument(
        "--mode", choices=[*bench.MODES, "both"], default="forward", help="what to time"
    )
    timing.add_argument(
        "--size", choices=RUN_SIZES, help="run size (default: quick on CPU, full on GPU)"
    )
    timing.add_argument(
        "--memory-cap-gib",
        type=float,
        default=4.0,
        help="skip points estimated above this many GiB (CPU only)",
    )
    timing.add_argument("--out", help="write every record to this .csv or .json file")
    timing.add_argument("--quiet", action="store_true", help="no progress bars")

    add("devices", "the table of named GPUs: memory, bandwidth, dense peaks, sources")
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
        d_ff = 4 * args.d_model if args.d_ff is None else args.d_ff
        sizes.update(heads=args.heads, kv_heads=args.kv_heads, d_ff=d_ff, window=args.window)
        sizes.update(causal=not args.bidirectional)
    return ARCHITECTURES[args.arch].spec(**sizes)


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


def main(argv=None) -> int:
    """Run the command line on argv (sys.argv by default); errors are one line and exit 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "devices":
            print(devices_report())
            return 0
        if args.command == "bench":
            records = run_bench(args)
            if args.out:
                bench.save(records, args.out)
            print(bench_report(records))
            return 0
        spec = _spec(args)
        result = estimate(spec, args.n, args.batch, DTYPES[args.dtype], args.attention)
        if args.device is not None:
            profile = devices.device_profile(args.device)
            result["roofline"] = roofline(result, profile, args.dtype)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(finite(result), indent=2, allow_nan=False))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
