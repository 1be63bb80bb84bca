"""Input checks shared by every public function: bad input is refused where it enters.

Each check raises ``ValueError`` naming the parameter, so a reader sees which argument was
wrong instead of a NaN or a traceback from deep inside torch.
"""

import math
from numbers import Integral, Real


def is_int(value) -> bool:
    """True for an integer that is not a bool (True is an int in Python, never a size here)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """True for a real number that is not a bool (an int or a float, NaN included)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def require_positive(**values) -> None:
    """Raise ValueError naming the first argument that is not an integer >= 1."""
    for name, value in values.items():
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def require_non_negative(**values) -> None:
    """Raise ValueError naming the first argument that is not an integer >= 0."""
    for name, value in values.items():
        if not is_int(value) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def require_real(name: str, value, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> None:  # fmt: skip
    """Raise ValueError unless `value` is a finite real number (not a bool) within the bounds.

    The interval is closed unless low_open / high_open; an infinite bound is always open,
    so the default accepts every finite number.
    """
    if not is_real(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {value!r}")


def require_choice(name: str, value, choices) -> None:
    """Raise ValueError unless `value` is one of `choices` (a tuple, or the keys of a dict)."""
    if value not in tuple(choices):
        listed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def require_bool(**values) -> None:
    """Raise ValueError naming the first argument that is not True or False."""
    for name, value in values.items():
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")


def require_module_input(module, x) -> None:
    """Raise ValueError unless module is a torch module and x a tensor it can take."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")


def require_callable(**values) -> None:
    """Raise ValueError naming the first argument that is not a function (or other callable)."""
    for name, value in values.items():
        if not callable(value):
            raise ValueError(f"{name} must be callable, got {type(value).__name__}")
