"""A training step's memory measured on a real run: the twin of ``formulas.budget``.

``step_memory`` runs a prepared ``training_step.Step`` once to create the optimizer's state
(``torch.optim`` makes it lazily in the first step), then measures a second, steady step:
the real tensors of the weights, gradients and optimizer state by their bytes, and the
peak of allocated bytes (``memory.peak_bytes``: the CUDA allocator's statistics on a GPU,
the profiler's allocation events elsewhere) above the weights and state that persist.
"""

from dataclasses import dataclass

import torch

from ..checks import require_callable
from .memory import memory_events, peak_bytes
from .traffic import tensor_bytes


@dataclass(frozen=True)
class StepMemory:
    """Measured bytes of one steady training step; peak includes params and optimizer."""

    params: int
    grads: int
    optimizer: int
    peak: int


def step_memory(step) -> StepMemory:
    """Measure one steady training step of ``step`` (a ``training_step.Step``)."""
    if not callable(step) or not hasattr(step, "optimizer") or not hasattr(step, "module"):
        raise ValueError(f"step must be a training_step.Step, got {type(step).__name__}")
    step()  # the first step creates the optimizer's state
    parameters = list(step.module.parameters())
    persistent = tensor_bytes(parameters)
    state = tensor_bytes(list(step.optimizer.state.values()))
    peak = peak_bytes(step, step.device)
    return StepMemory(persistent, step.grads, state, persistent + state + peak)


def held_bytes(fn, device=None) -> tuple:
    """(bytes allocated by fn() and still live when it returns, fn's result).

    The result is returned so that what it keeps alive stays alive. For fn = a forward
    pass, that is the output plus everything autograd keeps for backward, whichever
    mechanism keeps it (saved tensors, or a checkpoint's inputs).
    """
    require_callable(fn=fn)
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        return torch.cuda.memory_allocated(device) - start, result
    events, result = memory_events(fn)
    return sum(e.nbytes() for e in events), result
