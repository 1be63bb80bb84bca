"""Checkers for the exercises: run the reader's function on known cases, name the first miss.

Each ``check_*`` takes the reader's function, calls it on cases whose answers come from the
package, and prints either how many cases passed or the first input it got wrong with the
value expected. It returns True when every case passes, so a notebook cell can also assert.
"""

import math

from . import paths
from .specs import CNN, LSTM, RNN, Transformer


def check(fn, cases, expected_fn) -> bool:
    """Call fn(**case) for each case and compare with expected_fn(**case); report the first miss."""
    if not callable(fn):
        raise ValueError(f"fn must be the function you wrote, got {type(fn).__name__}")
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
        if got != expected:
            print(f"{name}({arguments}) returned {got!r}; expected {expected!r}")
            return False
    print(f"{name}: all {len(cases)} cases correct")
    return True


_ARCHS = {"rnn": RNN, "lstm": LSTM, "cnn": CNN, "transformer": Transformer}


def _steps(arch: str, n: int, layers: int) -> int:
    spec = _ARCHS[arch](d_model=8, layers=layers)
    return paths.sequential_steps(spec, n)


def check_sequential_steps(fn) -> bool:
    """Exercise of "Routing graphs": fn(arch, n, layers) -> S, arch one of rnn, lstm, cnn,
    transformer."""
    cases = [
        dict(arch=arch, n=n, layers=layers)
        for arch in _ARCHS
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
    """Exercise of "Gradient decay": fn(rho, threshold) -> smallest k with rho**k < threshold."""
    cases = [
        dict(rho=rho, threshold=threshold)
        for rho in (0.5, 0.9, 0.95, 0.99)
        for threshold in (0.5, 1e-3, 1e-6)
    ]
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
    cases = [dict(spec=spec, span=span) for spec in specs for span in (0, 3, 4, 8, 9, 31, 32, 200)]
    return check(fn, cases, _reaches)
