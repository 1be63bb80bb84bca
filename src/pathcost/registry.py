"""One table per vocabulary: the names a reader types, and everything derived from them.

The CLI's choices, the exercise checkers, the benchmark workloads, the figures' colours and
legend labels, and the tests all read these tables; nothing else lists architectures, dtype
names, attention kernels or run sizes. A new architecture is one entry in ARCHITECTURES
plus its formulas and module (CONTRIBUTING.md, "How to add an architecture");
``tests/test_registry.py`` fails until every piece is there.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .checks import require_choice
from .specs import CNN, LSTM, RNN, Hybrid, LinearAttention, LinearRecurrence, Transformer


@dataclass(frozen=True)
class Architecture:
    """One architecture of the book: its spec class and how every chapter shows it.

    title: the legend and table name; colour: an Okabe-Ito colour (safe for colour-blind
    readers), the same in every figure; example(d_model, heads, d_ff, depth): the spec a
    benchmark times at those sizes; details(spec): what a legend adds after the title;
    composite: the spec wraps the spec of another entry (Hybrid's `then`), so it is left
    out where one of the four the chapters compare is meant (``single_architectures``);
    beyond: one of the architectures of "Beyond the four", left out there too.
    """

    spec: type
    title: str
    colour: str
    example: Callable
    details: Callable = lambda spec: ""
    composite: bool = False
    beyond: bool = False


def _cnn_details(spec: CNN) -> str:
    side = "causal" if spec.causal else "centred"
    dilated = "" if spec.dilations is None else f", dilations {list(spec.dilations)}"
    return f" k={spec.kernel} {side}{dilated}"


def _transformer_details(spec: Transformer) -> str:
    window = "" if spec.window is None else f", window {spec.window}"
    return f"{window}{', positions' if spec.positional else ''}"


def _hybrid_details(spec: Hybrid) -> str:
    return f" s={spec.stride}, then {label(spec.then)}"


def _recurrence_details(spec: LinearRecurrence) -> str:
    return ", scan" if spec.scan else ", loop"


ARCHITECTURES = {
    "rnn": Architecture(RNN, "RNN", "#E69F00", lambda d, heads, d_ff, depth: RNN(d, depth)),
    "lstm": Architecture(LSTM, "LSTM", "#D55E00", lambda d, heads, d_ff, depth: LSTM(d, depth)),
    "cnn": Architecture(
        CNN, "CNN", "#009E73", lambda d, heads, d_ff, depth: CNN(d, 3, 4 * depth), _cnn_details
    ),
    "transformer": Architecture(
        Transformer,
        "Transformer",
        "#0072B2",
        lambda d, heads, d_ff, depth: Transformer(d, heads, d_ff, depth),
        _transformer_details,
    ),
    "hybrid": Architecture(
        Hybrid,
        "Hybrid",
        "#CC79A7",
        lambda d, heads, d_ff, depth: Hybrid(4, LSTM(d, depth)),  # the default body
        _hybrid_details,
        composite=True,
    ),
    "linear-attention": Architecture(
        LinearAttention,
        "Linear attention",
        "#56B4E9",
        lambda d, heads, d_ff, depth: LinearAttention(d, heads, d_ff, depth),
        beyond=True,
    ),
    "linear-recurrence": Architecture(
        LinearRecurrence,
        "Linear recurrence",
        "#000000",
        lambda d, heads, d_ff, depth: LinearRecurrence(d, depth, scan=True),
        _recurrence_details,
        beyond=True,
    ),
}  # fmt: skip

# The floating dtypes a reader can name, by the short names the CLI takes.
DTYPES = {
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "fp32": torch.float32,
    "fp64": torch.float64,
}

# "explicit" materialises softmax(Q K^T); "sdpa" calls F.scaled_dot_product_attention.
ATTENTION_KERNELS = ("explicit", "sdpa")


@dataclass(frozen=True)
class Precision:
    """How a training step holds its numbers ("The whole training budget").

    weights: the dtype the parameters (and so gradients and optimizer state) are stored
    in; compute: the dtype autocast computes its lower-precision operations in, or None
    for no autocast (every operation runs in the weights' dtype).
    """

    weights: torch.dtype
    compute: torch.dtype | None = None


PRECISIONS = {
    "fp32": Precision(torch.float32),
    "pure-bf16": Precision(torch.bfloat16),  # the module cast, as "Memory" measures it
    "pure-fp16": Precision(torch.float16),
    "mixed-bf16": Precision(torch.float32, torch.bfloat16),  # torch.autocast, fp32 weights
    "mixed-fp16": Precision(torch.float32, torch.float16),
}


@dataclass(frozen=True)
class Optimizer:
    """A torch.optim optimizer and its settings, and the state buffers it keeps per parameter.

    buffers: tensors the size of each parameter (momentum 1, Adam's two moments 2);
    step: whether it also keeps a float32 scalar step count per parameter tensor.
    """

    factory: type
    settings: dict
    buffers: int
    step: bool


OPTIMIZERS = {
    "sgd": Optimizer(torch.optim.SGD, {"lr": 1e-3}, buffers=0, step=False),
    "momentum": Optimizer(torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}, buffers=1, step=False),
    "adam": Optimizer(torch.optim.Adam, {"lr": 1e-3}, buffers=2, step=True),
    "adamw": Optimizer(torch.optim.AdamW, {"lr": 1e-3}, buffers=2, step=True),
}

# "quick" runs every chapter on a laptop CPU in seconds; "full" is the scale for a GPU.
RUN_SIZES = ("quick", "full")


def architecture(spec) -> Architecture:
    """The registry entry of a spec; ValueError unless it is one of the book's architectures."""
    for entry in ARCHITECTURES.values():
        if type(spec) is entry.spec:
            return entry
    names = ", ".join(entry.spec.__name__ for entry in ARCHITECTURES.values())
    raise ValueError(f"spec must be one of {names}; got {type(spec).__name__}")


def single_architectures() -> dict:
    """The four architectures the chapters compare (and their exercises name), by CLI name:
    the entries that wrap no other spec and are not of "Beyond the four"."""
    return {
        name: entry
        for name, entry in ARCHITECTURES.items()
        if not (entry.composite or entry.beyond)
    }


def require_spec(spec) -> None:
    """Raise ValueError unless `spec` is one of the architectures in ARCHITECTURES."""
    architecture(spec)


def label(spec) -> str:
    """A short legend label: the architecture and the sizes that change its path length."""
    entry = architecture(spec)
    return entry.title + entry.details(spec)


def colour(spec) -> str:
    """The colour of a spec's architecture, the same in every chapter."""
    return architecture(spec).colour


def dtype(name: str) -> torch.dtype:
    """The torch dtype of a short name in DTYPES ("fp16", "bf16", "fp32", "fp64")."""
    require_choice("dtype", name, DTYPES)
    return DTYPES[name]


def dtype_name(value: torch.dtype) -> str:
    """The short name of a dtype in DTYPES: torch.float16 -> "fp16"."""
    require_choice("dtype", value, DTYPES.values())
    return next(name for name, known in DTYPES.items() if known == value)
