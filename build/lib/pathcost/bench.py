"""The reader's device and the run size: the only module that knows CUDA, MPS or CPU.

Every chapter's first cell calls ``setup()``: a GPU gets the ``full`` size, a CPU the
``quick`` one, and the environment variable PATHCOST_SIZE overrides either.
"""

import os
import sys

import torch

SIZES = ("quick", "full")


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
        if chosen not in SIZES:
            raise ValueError(f"PATHCOST_SIZE must be one of {SIZES}, got {chosen!r}")
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
