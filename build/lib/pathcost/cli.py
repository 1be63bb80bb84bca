"""Command line: ``python -m pathcost estimate ...``, a thin layer over paths and costs.

Units: FLOPs in GFLOP (10^9), bytes in MiB (2^20); ``--json`` gives exact integers.
"""

import argparse
import json
import math
import sys

import torch

from . import costs, paths
from .specs import CNN, LSTM, RNN, Transformer

DTYPES = {
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "fp32": torch.float32,
    "fp64": torch.float64,
}
ARCHS = {"rnn": RNN, "lstm": LSTM, "cnn": CNN, "transformer": Transformer}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"pathcost: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pathcost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    estimate = commands.add_parser("estimate", help="both axes for one architecture and length")
    estimate.add_argument("--arch", required=True, choices=sorted(ARCHS))
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
    estimate.add_argument("--attention", choices=costs.ATTENTION_KERNELS, default="explicit")
    estimate.add_argument("--json", action="store_true", help="exact numbers as JSON")
    return parser


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
    return ARCHS[args.arch](**sizes)


def estimate(spec, n: int, batch: int, dtype, attention: str) -> dict:
    """Both axes for one spec and workload, as exact numbers (None where not applicable)."""
    is_transformer = isinstance(spec, Transformer)
    components = costs.forward_flops_by_component(spec, n, batch)
    return {
        "spec": repr(spec),
        "n": n,
        "batch": batch,
        "dtype": str(dtype).removeprefix("torch."),
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


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
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
