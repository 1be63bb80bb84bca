"""Checkers for the exercises: run the reader's function on known cases, name the first miss.

Each ``check_*`` takes the reader's function, calls it on cases whose answers come from the
package, and prints either how many cases passed or the first input it got wrong with the
value expected. It returns True when every case passes, so a notebook cell can also assert.
"""

import math

import torch

from .advisor.profiles import padding_waste
from .bench.fits import fit_exponent
from .checks import is_real, require_callable
from .experiments.training import Classifier
from .formulas import budget, costs, decode, kernels, paths
from .models import build
from .registry import ARCHITECTURES, DTYPES, OPTIMIZERS, PRECISIONS, single_architectures
from .specs import CNN, LSTM, RNN, LinearAttention, LinearRecurrence, Transformer


def check(fn, cases, expected_fn, rel_tol: float = 0.0) -> bool:
    """Call ``fn(**case)`` per case, compare with ``expected_fn(**case)``, report the first miss.

    Exact comparison, unless rel_tol > 0 asks for math.isclose (for floating-point answers).
    """
    require_callable(fn=fn)
    name = getattr(fn, "__name__", "your function")
    for case in cases:
        arguments = ", ".join(f"{key}={value!r}" for key, value in case.items())
        expected = expected_fn(**case)
        try:
            got = fn(**case)
        except Exception as error:  # the reader's bug, reported rather than raised
            print(
                f"{name}({arguments}) raised {type(error).__name__}: {error}; expected {expected!r}"
            )
            return False
        if not _agrees(got, expected, rel_tol):
            print(f"{name}({arguments}) returned {got!r}; expected {expected!r}")
            return False
    print(f"{name}: all {len(cases)} cases correct")
    return True


def _agrees(got, expected, rel_tol: float) -> bool:
    if rel_tol and is_real(got):
        return math.isclose(got, expected, rel_tol=rel_tol, abs_tol=rel_tol)
    return got == expected


def _steps(arch: str, n: int, layers: int) -> int:
    spec = ARCHITECTURES[arch].spec(d_model=8, layers=layers)
    return paths.sequential_steps(spec, n)


def check_sequential_steps(fn) -> bool:
    """Exercise of "Routing graphs": fn(arch, n, layers) -> S, arch one of rnn, lstm, cnn,
    transformer (``registry.single_architectures``: the exercise predates the Hybrid)."""
    cases = [
        dict(arch=arch, n=n, layers=layers)
        for arch in single_architectures()
        for n, layers in [(1, 1), (8, 1), (1024, 1), (1024, 3), (7, 12)]
    ]
    return check(fn, cases, _steps)


def _field(kernel: int, dilations: tuple) -> int:
    return paths.receptive_field(CNN(1, kernel, len(dilations), dilations=dilations))


def check_receptive_field(fn) -> bool:
    """Exercise of "Receptive fields": fn(kernel, dilations) -> R of a CNN with those layers."""
    cases = [
        dict(kernel=kernel, dilations=dilations)
        for kernel in (2, 3, 5)
        for dilations in [(1,), (1, 1, 1), (1, 2, 4, 8), (2, 2), (1, 2, 4, 8, 16, 32, 64)]
    ]
    return check(fn, cases, _field)


def _first_below(rho: float, threshold: float) -> int:
    k = 0
    while rho**k >= threshold:
        k += 1
    return k


def check_decay_steps(fn) -> bool:
    """Exercise of "Gradient decay": fn(rho, threshold) -> smallest k >= 0 with rho**k < threshold
    (0 for a threshold above 1; k + 1 where the threshold is rho**k itself)."""
    cases = [
        dict(rho=rho, threshold=threshold)
        for rho in (0.5, 0.9, 0.95, 0.99)
        for threshold in (2.0, 0.5, 1e-3, 1e-6)
    ]
    # a threshold equal to rho**k, so k steps are not enough: at 0.625**3 (exact in binary)
    # the closed form floor(ln t / ln rho) + 1 gives 3, not 4, and at 0.95**20 a running
    # product p *= rho drops below the threshold one step early
    cases += [dict(rho=rho, threshold=rho**k) for rho, k in ((0.625, 3), (0.95, 20))]
    return check(fn, cases, _first_below)


def _reaches(spec, span: int) -> bool:
    return paths.path_length(spec, span) != math.inf


def check_can_reach(fn) -> bool:
    """Exercise of "Long-range tasks": fn(spec, span) -> whether the output `span` positions
    after a token can depend on it at all."""
    specs = [
        RNN(8),
        LSTM(8, 2),
        CNN(8, kernel=3, layers=4),
        CNN(8, kernel=3, layers=4, causal=False),
        CNN(8, kernel=2, layers=5, dilations=(1, 2, 4, 8, 16)),
        Transformer(8, heads=2, d_ff=16, layers=2),
        Transformer(8, heads=2, d_ff=16, layers=2, window=4),
    ]
    spans = (0, 3, 4, 5, 8, 9, 31, 32, 200)  # each side of every reach: 8 causal, 4 centred, ...
    cases = [dict(spec=spec, span=span) for spec in specs for span in spans]
    return check(fn, cases, _reaches)


def _transformer_flops(n: int, d_model: int, heads: int, d_ff: int, layers: int) -> int:
    return costs.forward_flops(Transformer(d_model, heads, d_ff, layers), n)


def check_transformer_flops(fn) -> bool:
    """Exercise of "Counting compute": fn(n, d_model, heads, d_ff, layers) -> forward FLOPs of
    pc.build(pc.Transformer(...)) at batch 1, 2 FLOPs per multiply-accumulate."""
    cases = [
        dict(n=n, d_model=d, heads=h, d_ff=f, layers=layers)
        for n, d, h, f, layers in [
            (1, 8, 2, 16, 1), (128, 64, 4, 256, 2), (1024, 512, 8, 2048, 6),
            (4096, 768, 12, 3072, 12), (100, 96, 3, 50, 3),
        ]
    ]  # fmt: skip
    return check(fn, cases, _transformer_flops)


def _dtype_of(bytes_per_element: int) -> torch.dtype:
    """The first dtype of DTYPES that is `bytes_per_element` bytes wide: fp16 for 2."""
    return next(d for d in DTYPES.values() if d.itemsize == bytes_per_element)


def _max_n(budget_bytes: int, heads: int, batch: int, bytes_per_element: int, overhead) -> int:
    dtype = _dtype_of(bytes_per_element)
    return costs.weights_max_seq_len(budget_bytes, heads, batch, dtype, overhead)


def check_max_seq_len(fn) -> bool:
    """Exercise of "Memory": fn(budget_bytes, heads, batch, bytes_per_element, overhead) -> the
    largest n with B h n^2 b o <= budget_bytes, exactly. The cases include exact fits, budgets
    one byte short of one, and budgets past 2^53 bytes, where a float division or a float
    square root lands one off."""
    gib, k, m, j = 2**30, 9 * 10**7, 6 * 10**6, 10**8 + 1
    cases = [
        dict(budget_bytes=b, heads=h, batch=batch, bytes_per_element=e, overhead=o)
        for b, h, batch, e, o in [
            (8 * gib, 8, 2, 2, 1), (8 * gib, 8, 2, 2, 4), (8 * gib, 8, 2, 2, 8),
            (16 * gib, 16, 1, 4, 1), (24 * gib, 8, 2, 2, 6), (10**6, 1, 1, 2, 1),
            (192 * 1000**2 - 1, 8, 2, 2, 6),  # 1 byte short of n = 1000: rounding the quotient up
            (2 * (k * k - 1), 1, 1, 2, 1),  # 1 element short of k^2: sqrt rounds up to k
            (512 * m * m - 1, 32, 8, 2, 1),  # 1 byte short: budget / 512 rounds up to m^2
            (6 * j * j, 3, 1, 2, 1),  # an exact fit at odd j: budget / 6 rounds below j^2
        ]
    ]  # fmt: skip
    return check(fn, cases, _max_n)


def _slope(ns, ys) -> float:
    return fit_exponent(ns, ys)[0]


def check_fit_exponent(fn) -> bool:
    """Exercise of "Time and parallelism": fn(ns, ys) -> the least-squares slope of log y
    against log n (to within 1e-9 relative)."""
    ns = [256, 512, 1024, 2048, 4096]
    cases = [
        dict(ns=ns, ys=[3e-9 * n**2 for n in ns]),
        dict(ns=ns, ys=[2e-6 * n * (1 + 0.1 * (-1) ** i) for i, n in enumerate(ns)]),
        dict(ns=[1, 10, 100], ys=[5.0, 5.0, 5.0]),
        dict(ns=[2, 3, 5, 7, 11], ys=[1.0, 2.0, 2.5, 4.0, 9.0]),
    ]
    return check(fn, cases, _slope, rel_tol=1e-9)


def _window_layers(distance: int, window: int) -> int | float:
    deep_enough = Transformer(8, 2, 16, layers=distance + 1, window=window)
    return paths.path_length(deep_enough, distance)


def check_window_layers(fn) -> bool:
    """Exercise of "Cutting the n^2": fn(distance, window) -> how many windowed attention layers
    (radius `window`) a token needs to reach `distance` positions away."""
    cases = [
        dict(distance=d, window=w)
        for d, w in [(0, 4), (1, 4), (4, 4), (5, 4), (2048, 256), (2047, 256), (2049, 256), (7, 1)]
    ]
    return check(fn, cases, _window_layers)


def _kv_bytes(n: int, batch: int, d_model: int, heads: int, kv_heads: int, layers: int,
              window, bytes_per_element: int) -> int:  # fmt: skip
    dtype = _dtype_of(bytes_per_element)
    spec = Transformer(d_model, heads, 4 * d_model, layers, window=window, kv_heads=kv_heads)
    return decode.decode_state_bytes(spec, n, batch, dtype)


def check_kv_cache_bytes(fn) -> bool:
    """Exercise of "Inference and memory traffic": fn(n, batch, d_model, heads, kv_heads,
    layers, window, bytes_per_element) -> bytes of the KV cache after n tokens (window None
    for full attention)."""
    cases = [
        dict(n=n, batch=b, d_model=d, heads=h, kv_heads=g, layers=layers, window=w,
             bytes_per_element=e)
        for n, b, d, h, g, layers, w, e in [
            (0, 1, 8, 2, 2, 1, None, 4), (1, 1, 8, 2, 2, 1, None, 4),
            (4096, 1, 512, 8, 8, 6, None, 2), (4096, 8, 512, 8, 8, 6, None, 2),
            (100, 2, 64, 8, 8, 2, 32, 4), (16, 2, 64, 8, 8, 2, 32, 4),
            (4096, 1, 512, 8, 2, 6, None, 2), (4096, 1, 512, 8, 1, 6, 256, 2),
        ]
    ]  # fmt: skip
    return check(fn, cases, _kv_bytes)


def _bytes_per_parameter(precision: str, optimizer: str) -> int:
    spec = RNN(d_model=8, layers=1)  # any spec: the count per parameter, Adam's steps aside
    steps = budget.FLOAT32 * budget.parameter_tensors(spec) if OPTIMIZERS[optimizer].step else 0
    total = 2 * costs.params(spec) * costs.itemsize(PRECISIONS[precision].weights)  # w, grads
    return (total + budget.optimizer_bytes(spec, optimizer, precision) - steps) // costs.params(
        spec
    )


def check_bytes_per_parameter(fn) -> bool:
    """Exercise of "The whole training budget": fn(precision, optimizer) -> bytes per
    parameter of weights, gradients and optimizer state (Adam's step counts left out)."""
    cases = [dict(precision=p, optimizer=o) for p in PRECISIONS for o in OPTIMIZERS]
    return check(fn, cases, _bytes_per_parameter)


def check_causal_tile_pairs(fn) -> bool:
    """Exercise of "Cutting the n^2": fn(n, q_tile, kv_tile) -> the (query, key) pairs a causal
    kernel scores that skips the key tiles above the diagonal."""
    cases = [dict(n=n, q_tile=q, kv_tile=kv) for n in (1, 7, 300, 2048, 3000)
             for q, kv in ((1, 1), (32, 512), (256, 512), (5, 3))]  # fmt: skip
    return check(fn, cases, kernels.tiled_causal_pairs)


def _max_batch(spec, n: int, budget_bytes: int, precision: str) -> int:
    return budget.max_batch(spec, n, budget_bytes, precision, "adam")


def _step_bytes(spec, n: int, batch: int, precision: str) -> int:
    return budget.training_memory(spec, n, batch, precision, "adam").total


def check_max_batch(fn) -> bool:
    """Exercise of "The whole training budget": fn(spec, n, budget_bytes, precision) -> the
    largest batch whose Adam training step (``training_memory(...).total``) fits, <= the
    budget: also where the budget is exactly a step's bytes (at batch 1 too), and where the
    bytes grow faster from batch 2 on than from 1 to 2."""
    specs = [RNN(64, layers=2), Transformer(256, 8, 1024, 4), Transformer(768, 12, 3072, 12)]
    cases = [dict(spec=s, n=n, budget_bytes=b, precision=p)
             for s, n, b in [(specs[0], 512, 2**30), (specs[1], 1024, 16 * 10**9),
                             (specs[2], 1024, 40 * 10**9), (specs[1], 4096, 24 * 2**30)]
             for p in ("mixed-bf16", "pure-bf16")]  # fmt: skip
    exact_fits = [(specs[1], 1024, 37, "mixed-bf16"), (specs[1], 1024, 1, "pure-bf16"),
                  (specs[0], 16, 5, "pure-bf16")]  # fmt: skip
    cases += [dict(spec=s, n=n, budget_bytes=_step_bytes(s, n, b, p), precision=p)
              for s, n, b, p in exact_fits]  # fmt: skip
    return check(fn, cases, _max_batch)


def _padding_waste(lengths, boundaries) -> float:
    return padding_waste(lengths, boundaries).waste


def check_padding_waste(fn) -> bool:
    """Exercise of "Choosing a model": fn(lengths, boundaries) -> padding tokens / padded
    tokens when each sequence is padded to the smallest boundary at or above it (above the
    last boundary: to the longest length)."""
    cases = [dict(lengths=ls, boundaries=bs) for ls, bs in [
        ([5], [8]), ([1, 2, 3, 4], [2]), ([3, 9, 17, 64, 65], [8, 16, 64]),
        ([100, 7, 7, 30], [10, 20, 40, 80]), ([1000, 3, 300], [64, 256, 1024, 4096]),
    ]]  # fmt: skip
    return check(fn, cases, _padding_waste, rel_tol=1e-12)  # a ratio of two integers


def _classifier_params(arch: str, d_model: int, tokens: int, classes: int) -> int:
    spec = LSTM(d_model) if arch == "lstm" else Transformer(d_model, 2, 2 * d_model, 2)
    with torch.device("meta"):  # counted on the real module, no storage
        model = Classifier(spec, tokens, classes)
    return sum(p.numel() for p in model.parameters())


def check_classifier_params(fn) -> bool:
    """Exercise of "Capstone": fn(arch, d_model, tokens, classes) -> the parameters of the
    capstone's classifier (embedding, body, readout) around LSTM(d_model) ("lstm") or
    Transformer(d_model, heads=2, d_ff=2 d_model, layers=2) ("transformer")."""
    cases = [dict(arch=a, d_model=d, tokens=t, classes=c) for a in ("lstm", "transformer")
             for d, t, c in ((2, 2, 2), (16, 17, 8), (32, 12, 3), (64, 1000, 50))]  # fmt: skip
    return check(fn, cases, _classifier_params)


def _primer_spec(arch: str, d_model: int, layers: int = 1):
    """The primer's specs: CNN k = 3 causal, Transformer heads = 2, d_ff = 4 d_model."""
    if arch == "cnn":
        return CNN(d_model, kernel=3, layers=layers)
    if arch == "transformer":
        return Transformer(d_model, heads=2, d_ff=4 * d_model, layers=layers)
    return ARCHITECTURES[arch].spec(d_model=d_model, layers=layers)


def _hops(arch: str, distance: int) -> int:
    return paths.path_length(_primer_spec(arch, 8, layers=64), distance)


def check_hops(fn) -> bool:
    """Exercise of "The four architectures in pictures": fn(arch, distance) -> the path length
    L from input i to output i + distance, arch one of rnn, lstm, cnn (causal, k = 3, as deep
    as needed), transformer (full attention)."""
    cases = [
        dict(arch=arch, distance=distance)
        for arch in single_architectures()
        for distance in (1, 2, 3, 0, 8, 9, 50)
    ]
    return check(fn, cases, _hops)


def _layer_params(arch: str, d_model: int) -> int:
    with torch.device("meta"):  # counted on the real module, no storage
        module = build(_primer_spec(arch, d_model))
    return sum(p.numel() for p in module.parameters())


def check_layer_params(fn) -> bool:
    """Exercise of "The four architectures in pictures": fn(arch, d_model) -> the parameters
    (weights and biases) of one layer of pc.build(spec): RNN, LSTM, CNN with k = 3, or a
    Transformer block with heads = 2, d_ff = 4 d_model."""
    cases = [
        dict(arch=arch, d_model=d) for arch in single_architectures() for d in (2, 8, 64, 100)
    ]
    return check(fn, cases, _layer_params)


def _scan_steps(n: int) -> int:
    return paths.sequential_steps(LinearRecurrence(8, 1, scan=True), n)


def check_scan_steps(fn) -> bool:
    """Exercise of "Beyond the four": fn(n) -> the longest chain of state transfers of one
    layer of a linear recurrence computed by the Brent-Kung scan on n positions."""
    cases = [dict(n=n) for n in (1, 2, 3, 4, 5, 8, 9, 100, 1000, 1024, 1025)]
    return check(fn, cases, _scan_steps)


def _linear_state_bytes(d_model: int, heads: int, layers: int, batch: int,
                        bytes_per_element: int) -> int:  # fmt: skip
    dtype = _dtype_of(bytes_per_element)
    spec = LinearAttention(d_model, heads, 4 * d_model, layers)
    return decode.decode_state_bytes(spec, 0, batch, dtype)


def check_linear_state_bytes(fn) -> bool:
    """Exercise of "Beyond the four": fn(d_model, heads, layers, batch, bytes_per_element) ->
    the bytes a linear-attention decoder keeps between tokens."""
    cases = [
        dict(d_model=d, heads=h, layers=layers, batch=b, bytes_per_element=e)
        for d, h, layers, b, e in [
            (8, 1, 1, 1, 4), (8, 2, 1, 1, 4), (512, 8, 12, 1, 2), (512, 8, 12, 4, 2),
            (64, 64, 2, 1, 8), (96, 4, 3, 2, 4),
        ]
    ]  # fmt: skip
    return check(fn, cases, _linear_state_bytes)
