"""Command line: ``python -m pathcost estimate|bench|devices|profile|recommend|...``.

The others: ``assignments`` (the exercises for nbgrader) and ``gpu-report`` (the GPU checks).

It parses, builds the spec and calls the package; ``reports`` formats what it prints
(``--json`` gives exact integers, and seconds as floats).
"""

import argparse
import inspect
import json
import re
import sys
from decimal import Decimal

import torch

from . import assignments, bench, devices, gpu_report, runtime
from .advisor import corpus, recommend
from .advisor.report import as_dict, recommendation_report
from .formulas.budget import device_lists, training_memory
from .registry import (
    ARCHITECTURES,
    ATTENTION_KERNELS,
    DTYPES,
    OPTIMIZERS,
    PRECISIONS,
    RUN_SIZES,
    single_architectures,
)
from .reports import (
    bench_report,
    devices_report,
    estimate,
    finite,
    profile,
    profile_report,
    report,
    roofline,
    training,
)
from .specs import Hybrid

# Size units: B, kB (or KB), MB, GB, TB are powers of 10^3; KiB, MiB, GiB, TiB powers of 2^10.
SIZE_UNITS = {
    "B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([A-Za-z]+)?")
_UNITS_TEXT = "B = 1 byte; kB (or KB), MB, GB, TB = 10^3, 10^6, 10^9, 10^12 bytes; KiB, MiB, "
_UNITS_TEXT += "GiB, TiB = 2^10, 2^20, 2^30, 2^40 bytes"
# --train's settings default to training_memory's own defaults, stated in the help
_TRAINING_DEFAULTS = {
    name: inspect.signature(training_memory).parameters[name].default
    for name in ("precision", "optimizer")
}
_TRAINING_ONLY = ("budget", "optimizer", "precision", "checkpointing")


def parse_size(text: str) -> int:
    """Bytes of a size such as "16GiB", "16 GB", "1.5GiB", "512MiB" or "4096" (bytes).

    A number, then optionally one space and a unit, case as written: B, kB (or KB), MB, GB,
    TB are powers of 10^3 (16GB = 16 x 10^9 bytes); KiB, MiB, GiB, TiB powers of 2^10 (16GiB
    = 16 x 2^30 bytes); no unit means bytes. ValueError unless the result is a whole number
    of bytes >= 1.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    unit = match and (match.group(2) or "B")
    if match is None or unit not in SIZE_UNITS:
        raise ValueError(
            f"invalid size {text!r}: give bytes, or a number and a unit ({_UNITS_TEXT}), "
            "e.g. 16GiB"
        )
    value = Decimal(match.group(1)) * SIZE_UNITS[unit]
    if value != value.to_integral_value() or value < 1:
        raise ValueError(f"invalid size {text!r}: it must be a whole number of bytes >= 1")
    return int(value)


_DURATION = re.compile(r"(\d+(?:\.\d+)?(?:[eE]-?\d+)?) ?(s|ms|us)?")
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def parse_duration(text: str) -> float:
    """Seconds of a duration such as "200ms", "0.2s", "150us" or "0.2" (seconds), > 0."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"invalid duration {text!r}: give a positive number and s, ms or us, "
                         "e.g. 200ms")  # fmt: skip
    return float(match.group(1)) * _SECONDS[match.group(2) or "s"]


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _size(text: str) -> int:
    """parse_size for argparse: its message becomes the one-line error."""
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
        help="stack depth; a hybrid's is its --then's (default: 1 for rnn, lstm and "
        "linear-recurrence, 8 for cnn, 6 for transformer and linear-attention)",
    )
    estimate.add_argument(
        "--heads", type=int, default=8, help="transformer: query heads; linear-attention: heads"
    )
    estimate.add_argument(
        "--kv-heads", type=int, help="transformer: heads of K and V, dividing --heads "
        "(default: --heads, multi-head; 1 is multi-query)"
    )  # fmt: skip
    estimate.add_argument(
        "--d-ff", type=int,
        help="transformer, linear-attention: FFN width (default: 4 x --d-model)",
    )  # fmt: skip
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
    estimate.add_argument(
        "--stride", type=int, default=4, help="hybrid: positions its convolution merges per token"
    )
    estimate.add_argument(
        "--then", choices=sorted(single_architectures()), default="lstm",
        help="hybrid: the model on its tokens, sized by the options above",
    )  # fmt: skip
    estimate.add_argument(
        "--scan", action="store_true",
        help="linear-recurrence: all n states by the Brent-Kung parallel scan "
        "(default: the loop, one state transfer per position)",
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
    estimate.add_argument(
        "--train", action="store_true",
        help="also one training step's memory: weights, gradients, optimizer state, "
        "activations, the modelled peak, whether it fits the budget, and the largest n and "
        "batch that do",
    )  # fmt: skip
    estimate.add_argument(
        "--optimizer", choices=list(OPTIMIZERS),
        help=f"with --train: the optimizer (default: {_TRAINING_DEFAULTS['optimizer']})",
    )  # fmt: skip
    estimate.add_argument(
        "--precision", choices=list(PRECISIONS),
        help="with --train: how the step holds its numbers; pure-* casts the weights, "
        f"mixed-* is autocast over fp32 weights (default: {_TRAINING_DEFAULTS['precision']})",
    )  # fmt: skip
    estimate.add_argument(
        "--checkpointing", action="store_true",
        help="with --train: checkpoint each layer, keeping only its input for backward "
        "(default: off)",
    )  # fmt: skip
    estimate.add_argument(
        "--budget", type=_size, metavar="SIZE",
        help=f"with --train: the memory budget, a number and a unit ({_UNITS_TEXT}), e.g. "
        "16GiB or 16GB, or a plain number of bytes; it wins over --device's memory "
        "(default: --device's memory, else none)",
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

    choose = add("recommend", "the model to try first for a span, a length, a budget, a latency")
    choose.add_argument("--span-p90", type=int, required=True,
                        help="90th percentile of the dependency spans (tokens)")  # fmt: skip
    choose.add_argument("--n-p90", type=int, required=True,
                        help="90th percentile of the sequence lengths (tokens)")  # fmt: skip
    choose.add_argument("--device", choices=[*devices.DEVICES, devices.THIS], default="this",
                        help="a GPU of the devices table, or this machine as measured")  # fmt: skip
    choose.add_argument("--budget", type=_size,
                        help=f"memory to fit ({_UNITS_TEXT}) (default: the device's)")  # fmt: skip
    choose.add_argument("--batch", type=int, default=1, help="batch size")
    choose.add_argument("--inference", action="store_true",
                        help="fit weights and decode state, not a training step")  # fmt: skip
    choose.add_argument("--latency-p95", type=_duration,
                        help="bound on one sequence's forward, e.g. 200ms (default: none)")
    choose.add_argument("--d-model", type=int, default=512, help="width of every candidate")
    choose.add_argument("--heads", type=int, default=8, help="attention heads of the candidates")
    choose.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16",
                        help="element type (training: its mixed precision)")  # fmt: skip
    choose.add_argument("--train-samples", type=int,
                        help="training sequences there are (default: unknown)")  # fmt: skip
    choose.add_argument("--json", action="store_true", help="exact numbers as JSON")

    lengths = add("profile", "length and span profile of source, text or length files")
    lengths.add_argument(
        "files", nargs="+", metavar="FILE",
        help="a .py file (tokens per function or module, and bracket spans), a file of one "
        "integer length per line, or other UTF-8 text (words per non-blank line)",
    )  # fmt: skip
    lengths.add_argument(
        "--unit", choices=corpus.UNITS, default="function",
        help=".py files: one sequence per function or per module",
    )  # fmt: skip
    lengths.add_argument(
        "--boundaries", type=int, nargs="+", metavar="N",
        help="bucket ends, increasing, for the padding waste with bucketing (default: none)",
    )  # fmt: skip
    lengths.add_argument("--heads", type=int, default=8, help="attention weights: heads")
    lengths.add_argument("--batch", type=int, default=1, help="attention weights: batch size")
    lengths.add_argument(
        "--dtype", choices=sorted(DTYPES), default="fp16", help="attention weights: element type"
    )
    lengths.add_argument("--json", action="store_true", help="exact numbers as JSON")

    assign = add("assignments", "the chapters' exercises as nbgrader source notebooks")
    assign.add_argument("--out", required=True,
                        help="folder to write NAME.ipynb into, e.g. COURSE/source/ps1")  # fmt: skip
    assign.add_argument(
        "--chapters", nargs="+", metavar="NAME",
        help="chapter file stems, e.g. memory capstone (default: every chapter with exercises)",
    )  # fmt: skip
    assign.add_argument(
        "--book", help="the folder of the chapters' .md sources (default: ./book)"
    )

    report_gpu = add("gpu-report", "the GPU checks, every number with its device, to a file")
    report_gpu.add_argument("--out", required=True, help="the .json file to write")
    report_gpu.add_argument(
        "--size", choices=RUN_SIZES, help="run size (default: quick on CPU, full on GPU)"
    )
    return parser


def parser_choices(command: str, option: str) -> list:
    """The choices the command line accepts for `option` of `command` (for the registry test)."""
    subcommands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in subcommands.choices[command]._actions if option in a.option_strings)
    return list(action.choices)


# options a spec cannot take, and why: refused by name rather than ignored
_REFUSED = {
    "linear-attention": {
        "kv_heads": ("--kv-heads", "each head keeps its own state"),
        "window": ("--window", "every position reads its whole prefix"),
        "bidirectional": ("--bidirectional", "it is always causal"),
    },
    "linear-recurrence": {
        "kv_heads": ("--kv-heads", "it has no attention"),
        "window": ("--window", "it has no attention"),
        "bidirectional": ("--bidirectional", "it is always causal"),
    },
}


def _given(args, flags: dict, singular: str, plural: str) -> tuple:
    """The names of `flags` (name -> flag) given in args (not None or False), and the phrase
    "flag, flag verb" of their flags: the verb singular for one, plural for more."""
    given = [name for name in flags if getattr(args, name) not in (None, False)]
    verb = singular if len(given) == 1 else plural
    return given, f"{', '.join(flags[name] for name in given)} {verb}"


def _spec(args):
    if args.arch == "hybrid":  # the body from the same options, under its own name
        return Hybrid(args.stride, _spec(argparse.Namespace(**{**vars(args), "arch": args.then})))
    if args.scan and args.arch != "linear-recurrence":
        raise ValueError(f"--scan applies to linear-recurrence only, not {args.arch}")
    refused = _REFUSED.get(args.arch, {})
    given, phrase = _given(args, {name: flag for name, (flag, _) in refused.items()}, "does", "do")
    if given:
        reasons = "; ".join(refused[name][1] for name in given)
        raise ValueError(f"{phrase} not apply to {args.arch}: {reasons}")
    sizes = {"d_model": args.d_model}
    if args.layers is not None:
        sizes["layers"] = args.layers
    if args.arch == "cnn":
        sizes.update(kernel=args.kernel, causal=not args.bidirectional)
        if args.dilations is not None:
            sizes.update(dilations=tuple(args.dilations))
            sizes.setdefault("layers", len(args.dilations))
    if args.arch in ("transformer", "linear-attention"):
        d_ff = 4 * args.d_model if args.d_ff is None else args.d_ff
        sizes.update(heads=args.heads, d_ff=d_ff)
    if args.arch == "transformer":
        sizes.update(kv_heads=args.kv_heads, window=args.window, causal=not args.bidirectional)
    if args.arch == "linear-recurrence":
        sizes.update(scan=args.scan)
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


def _training(args, spec, profile) -> dict:
    """The training step's memory the estimate's --train asks for, against its budget."""
    if args.budget is not None:
        budget, source = args.budget, "from --budget"
    elif profile is not None:
        owner = "this device" if args.device == devices.THIS else args.device
        budget, source = profile, f"{owner}'s memory (--device {args.device})"
    else:
        budget, source = None, None
    precision = args.precision or _TRAINING_DEFAULTS["precision"]
    optimizer = args.optimizer or _TRAINING_DEFAULTS["optimizer"]
    lists = "cpu" if profile is None else device_lists(profile)  # the GPU's autocast lists
    return training(spec, args.n, args.batch, precision, optimizer, args.checkpointing,
                    args.attention, budget, source, lists)  # fmt: skip


def _profile(args) -> dict:
    """The profile command: lengths pooled over the files by kind, spans of the .py files."""
    lengths, kinds = corpus.file_lengths(args.files, args.unit)
    sources = [path for path, kind in kinds.items() if kind == "source"]
    spans = corpus.bracket_spans(sources) if sources else None
    return profile(lengths, spans, kinds, args.unit, args.boundaries, args.heads, args.batch,
                   DTYPES[args.dtype])  # fmt: skip


def main(argv=None) -> int:
    """Run the command line on argv (sys.argv by default); errors are one line and exit 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "estimate" and not args.train:
        flags = {name: f"--{name}" for name in _TRAINING_ONLY}
        given, phrase = _given(args, flags, "needs", "need")
        if given:
            parser.error(f"{phrase} --train")
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
        if args.command == "recommend":
            chosen = recommend(args.span_p90, args.n_p90, device=args.device,
                               budget_bytes=args.budget, batch=args.batch,
                               training=not args.inference, latency_p95_s=args.latency_p95,
                               d_model=args.d_model, heads=args.heads, dtype=args.dtype,
                               train_samples=args.train_samples)
            if args.json:
                print(json.dumps(finite(as_dict(chosen)), indent=2, allow_nan=False))
            else:
                print(recommendation_report(chosen))
            return 0
        if args.command == "assignments":
            written = assignments.export(args.out, args.chapters, args.book)
            print(assignments.summary(written))
            return 0
        if args.command == "gpu-report":
            gpu_report.require_path(args.out)  # refused before minutes of measuring
            measured = gpu_report.run(size=args.size, progress=True)
            gpu_report.save(measured, args.out)
            print(gpu_report.summary(measured))
            return 0
        if args.command == "profile":
            result = _profile(args)
        else:
            spec = _spec(args)
            result = estimate(spec, args.n, args.batch, DTYPES[args.dtype], args.attention)
            device = None if args.device is None else devices.device_profile(args.device)
            if device is not None:
                result["roofline"] = roofline(result, device, args.dtype)
            if args.train:
                result["training"] = _training(args, spec, device)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(finite(result), indent=2, allow_nan=False))
    else:
        print(profile_report(result) if args.command == "profile" else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
