"""Memory traffic counted on a real run: the measured twin of ``formulas.traffic`` ("unfused").

``TrafficCounter`` is a ``TorchDispatchMode`` in the spirit of ``FlopCounterMode``: every
aten operation that reaches the dispatcher (below autograd) reads its tensor inputs and
writes its tensor outputs once, so it moves the bytes of all of them, each tensor counted
by its logical size ``numel * element_size`` (an expanded or strided input by its shape,
not by its storage). View operations (``OpOverload.is_view``: view, transpose, permute,
expand, t, unsqueeze, squeeze, slice, select, split, unbind, unfold, alias, detach, ...)
and ``_unsafe_view`` (a reshape that only relabels a fresh tensor) move nothing and count
0. An operation that takes a tensor only for its dtype and device (``new_zeros``,
``empty_like``, ...) reads nothing and counts its output only. An in-place operation
reads and writes its target: the target counts as an input and as the output. Non-tensor
arguments (Python numbers, shapes) count 0.

Run on the ``meta`` device the count is exact and free: only shapes and dtypes matter.
"""

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from ..checks import require_module_input

_ALSO_VIEWS = {torch.ops.aten._unsafe_view.default}
_ATEN = torch.ops.aten
# operations that take a tensor for its dtype, device (and shape) only: they read nothing
_READ_NOTHING = {_ATEN.new_zeros, _ATEN.new_empty, _ATEN.new_ones, _ATEN.new_full,
                 _ATEN.empty_like, _ATEN.zeros_like, _ATEN.ones_like, _ATEN.full_like}


def tensor_bytes(*values) -> int:
    """Bytes of every tensor among values (nested lists, tuples and dicts searched)."""
    return sum(
        leaf.numel() * leaf.element_size()
        for leaf in tree_leaves(values)
        if isinstance(leaf, torch.Tensor)
    )


def moves_bytes(func) -> bool:
    """False for an aten view operation (metadata only, no bytes move), True otherwise."""
    return not (func.is_view or func in _ALSO_VIEWS)


class TrafficCounter(TorchDispatchMode):
    """Sums the bytes every aten operation reads and writes while the mode is active.

    ``total`` is the sum; ``by_op`` the same bytes by operation name (``aten.addmm`` ...);
    ``ops`` the operations in the order they ran, each as (name, bytes).
    """

    def __init__(self):
        super().__init__()
        self.total, self.by_op, self.ops = 0, Counter(), []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if moves_bytes(func):
            read = func.overloadpacket not in _READ_NOTHING
            moved = tensor_bytes(args, kwargs, out) if read else tensor_bytes(out)
            name = f"aten.{func.overloadpacket.__name__}"
            self.total += moved
            self.by_op[name] += moved
            self.ops.append((name, moved))
        return out


def forward_traffic(module, x) -> int:
    """Bytes moved by one training forward pass module(x): autograd on, as the module is.

    Only the forward's operations count (no backward is run); autograd's bookkeeping never
    reaches the dispatcher, so the count is that of the operations the forward executes.
    """
    require_module_input(module, x)
    with torch.enable_grad(), TrafficCounter() as counter:
        module(x)
    return counter.total


def prefill_traffic(module, x) -> int:
    """Bytes moved by the forward pass module(x) under ``torch.no_grad`` (inference).

    For a causal module this is the prefill of n = x.shape[1] tokens: the K and V the
    cache keeps are the views of each block's qkv output the forward already writes.
    """
    require_module_input(module, x)
    with torch.no_grad(), TrafficCounter() as counter:
        module(x)
    return counter.total


def decode_traffic(decoder, x, state) -> int:
    """Bytes moved by one ``decoder.step(x, state)`` under ``torch.no_grad``: x is (B, d)."""
    require_module_input(decoder, x)
    with torch.no_grad(), TrafficCounter() as counter:
        decoder.step(x, state)
    return counter.total
