"""The KV cache measured on a real run: the twin of ``costs.kv_cache_bytes``.

It knows none of the formulas. A decoder that has produced positions 0 ... n - 1 keeps,
in every attention layer, the key and value rows that the next output still reads. Which
rows those are is read off the gradient: backpropagate one attention layer's output at the
last position n - 1 to the keys and values its ``qkv`` projection made, and keep the rows
whose gradient is nonzero. The test is exact: a masked key's softmax weight is exactly 0
(the softmax of -inf), so its key and value gradients are exactly 0 too.
"""

import torch

from ..checks import require_module_input
from ..models import SelfAttention


def _capture(module, x, layers) -> list:
    """Run module(x) with autograd on; return (qkv output, layer output) of every layer."""
    captured = {layer: {} for layer in layers}

    def keep(name, slot):
        return lambda submodule, inputs, output: slot.__setitem__(name, output)

    hooks = [layer.qkv.register_forward_hook(keep("qkv", captured[layer])) for layer in layers]
    hooks += [layer.register_forward_hook(keep("out", captured[layer])) for layer in layers]
    try:
        with torch.enable_grad():
            module(x.detach().requires_grad_(True))
    finally:
        for hook in hooks:
            hook.remove()
    return [(slot["qkv"], slot["out"]) for slot in captured.values()]


def _keys_values(tensor) -> tuple:
    """The k and v parts of a (..., 3d) tensor laid out [q | k | v]: two (..., d) views."""
    _, keys, values = tensor.chunk(3, dim=-1)
    return keys, values


def _read_rows(qkv, out, position: int) -> tuple:
    """Masks (B, n) of the key rows and value rows that out[:, position] reads, by gradient."""
    read = out[:, position]
    (grad,) = torch.autograd.grad(read, qkv, torch.ones_like(read), retain_graph=True)
    return tuple(part.ne(0).any(-1) for part in _keys_values(grad))


def kv_cache_bytes(module, x) -> int:
    """Measured bytes of a decoder's KV cache after n = x.shape[1] tokens, all layers summed.

    Derived in "Memory". Per attention layer and batch row: the nbytes of the K rows plus
    the V rows (of qkv's real output, in its own dtype) that output n - 1 reads. Raises
    ValueError if the module has no SelfAttention layer, or if output 0 of a layer reads a
    later key or value (not causal: a decoder could not cache them).
    """
    require_module_input(module, x)
    layers = [m for m in module.modules() if isinstance(m, SelfAttention)]
    if not layers:
        name = type(module).__name__
        raise ValueError(f"module must contain SelfAttention layers, {name} has none")
    total = 0
    for index, (qkv, out) in enumerate(_capture(module, x, layers)):
        if any(rows[:, 1:].any() for rows in _read_rows(qkv, out, 0)):
            raise ValueError(
                f"module must be causal to have a KV cache: output 0 of attention layer "
                f"{index} reads a later position"
            )
        kept = zip(_keys_values(qkv), _read_rows(qkv, out, -1))
        total += sum(part[rows].nbytes for part, rows in kept)
    return total
