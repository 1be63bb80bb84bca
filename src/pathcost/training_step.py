"""One real training step: forward, loss, backward, ``optimizer.step()``, ``zero_grad``.

The step whose memory "The whole training budget" counts. ``prepare`` builds the module in
a precision of ``registry.PRECISIONS`` ("pure-*": the module cast; "mixed-*": fp32 weights
under ``torch.autocast``), wraps each layer in ``torch.utils.checkpoint`` when asked and
makes an optimizer of ``registry.OPTIMIZERS``. The loss is the sum of the outputs, a
stand-in for a loss head that keeps the step's memory the model's own.
"""

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from . import models, runtime
from .checks import is_int
from .formulas.budget import require_step
from .registry import OPTIMIZERS, PRECISIONS


class Checkpointed(nn.Module):
    """A layer whose forward keeps only its input for backward and runs again there."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        # no dropout anywhere, so no random state to keep (it would hold 5056 bytes per call
        # on the CPU: the Mersenne Twister's state)
        return checkpoint(self.layer, x, use_reentrant=False, preserve_rng_state=False)


def checkpointed(module: nn.Module, layers: int | None = None) -> nn.Module:
    """module with its first `layers` ``layers`` (all by default; every ``models.build``
    stack has them) checkpointed."""
    stack = getattr(module, "layers", None)
    if not isinstance(stack, nn.ModuleList):
        raise ValueError(f"module must keep its layers in a ModuleList `layers`, got "
                         f"{type(module).__name__}")  # fmt: skip
    m = len(stack) if layers is None else layers
    if not is_int(m) or not 0 <= m <= len(stack):
        raise ValueError(f"layers must be a number of layers 0..{len(stack)}, got {layers!r}")
    module.layers = nn.ModuleList(
        Checkpointed(layer) if i < m else layer for i, layer in enumerate(module.layers)
    )
    return module


@dataclass
class Step:
    """A prepared training step: call it to run one. ``grads`` keeps the bytes of the
    gradients as the last call found them just before ``optimizer.step()``."""

    module: nn.Module
    optimizer: torch.optim.Optimizer
    d_model: int
    batch: int
    n: int
    precision: str
    device: torch.device
    grads: int = 0

    def autocast(self):
        compute = PRECISIONS[self.precision].compute
        if compute is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=compute)

    def __call__(self):
        weights = PRECISIONS[self.precision].weights
        x = torch.randn(self.batch, self.n, self.d_model, device=self.device, dtype=weights)
        with self.autocast():
            loss = self.module(x).sum()
        loss.backward()
        del loss
        self.grads = sum(p.grad.nbytes for p in self.module.parameters() if p.grad is not None)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def prepare(spec, n: int, batch: int = 1, precision: str = "fp32", optimizer: str = "adam",
            checkpointing: bool | int = False, attention: str = "explicit", dev=None) -> Step:
    """A Step of ``models.build(spec, attention)`` on (batch, n, d_model), ready to call.

    checkpointing: True checkpoints every layer, an int m the first m (``formulas.budget``).
    """
    m = require_step(spec, n, batch, precision, optimizer, checkpointing, attention)
    dev = runtime.device() if dev is None else torch.device(dev)
    module = models.build(spec, attention).to(dev, PRECISIONS[precision].weights)
    if m:
        checkpointed(module, m)
    chosen = OPTIMIZERS[optimizer]
    made = chosen.factory(module.parameters(), **chosen.settings)
    return Step(module, made, spec.d_model, batch, n, precision, dev)
