"""The reader's device and run size: the one place that knows CUDA, MPS or CPU.

Every chapter's first cell calls ``setup()``: a GPU gets the ``full`` size, a CPU the
``quick`` one, and the environment variable PATHCOST_SIZE overrides either. ``threads``
sets how many CPU threads torch may use for a block of work, and restores the count after.
"""

import os
import sys

import torch

from .checks import require_choice, require_positive
from .registry import RUN_SIZES


def device() -> torch.device:
    """The fastest device here: CUDA if available, else Apple MPS where it runs, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        try:
            torch.ones(1, device="mps").sum().item()  # some builds report MPS and then fail
            return torch.device("mps")
        except RuntimeError:
            pass
    return torch.device("cpu")


def size(dev: torch.device | None = None) -> str:
    """'full' on a GPU, 'quick' elsewhere, unless PATHCOST_SIZE says 'quick' or 'full'."""
    chosen = os.environ.get("PATHCOST_SIZE", "").strip().lower()
    if chosen:
        require_choice("PATHCOST_SIZE", chosen, RUN_SIZES)
        return chosen
    dev = device() if dev is None else torch.device(dev)
    return "full" if dev.type == "cuda" else "quick"


def setup() -> tuple[torch.device, str]:
    """Pick device and size, say which, and point a Colab reader without a GPU to the switch."""
    dev = device()
    run_size = size(dev)
    print(f"pathcost on {dev.type}, size {run_size!r}, torch {torch.__version__}")
    if "google.colab" in sys.modules and dev.type != "cuda":
        print(
            "This Colab runtime has no GPU. For the full size choose Runtime > "
            "Change runtime type > T4 GPU, then run the notebook again; "
            "quick mode works on the CPU meanwhile."
        )
    return dev, run_size


def synchronize(dev: torch.device) -> None:
    """Wait for the device's queued work; a no-op on the CPU, which runs eagerly."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


class threads:  # noqa: N801 -- used like a function: threads(1), or with threads(1): ...
    """Run torch on `count` CPU threads from now on; in a ``with`` block, restore the count after.

    The modules the book measures are tiny: on a busy machine several threads spend more
    time waiting for each other than computing (on the 2-core build machine under load, the
    dependency-matrix tests ran about 6 times slower with 2 threads than with 1), and one
    thread makes a training run repeat exactly. A chapter calls ``threads(1)`` once; the
    package's own measurements use ``with threads(1):`` and leave the caller's count alone.
    """

    def __init__(self, count: int):
        require_positive(count=count)
        self.before = torch.get_num_threads()
        torch.set_num_threads(count)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        torch.set_num_threads(self.before)
