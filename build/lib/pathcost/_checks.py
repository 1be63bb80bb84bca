"""Input checks shared by every public function: bad input is refused where it enters."""

from numbers import Integral


def is_int(value) -> bool:
    """True for an integer that is not a bool (True is an int in Python, never a size here)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


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
