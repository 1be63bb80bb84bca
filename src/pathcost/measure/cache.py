"""What a decoder keeps between tokens, measured: the twins of ``kv_cache_bytes`` and
``decode_state_bytes``.

They know none of the formulas. ``kv_cache_bytes`` reads a full forward pass: a decoder that
has produced positions 0 ... n - 1 keeps, in every attention layer, the key and value rows
that the next output, at position n, still reads. Which rows those are is read off the
gradient: run the module on one more position, backpropagate each attention layer's output
at position n to the keys and values its ``qkv`` projection made, and keep the rows before
n whose gradient is nonzero. The test is exact: a masked key's softmax weight is exactly 0
(the softmax of -inf), so its key and value gradients are exactly 0 too.
``state_bytes`` reads a real decoder's state: the bytes of the tensors it holds.
"""

import torch
from torch.utils._pytree import tree_leaves

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


def _keys_values(tensor, widths) -> tuple:
    """The K and V parts of a tensor laid out [Q | K | V] by `widths`: (..., h_kv d_k) views."""
    _, keys, values = tensor.split(widths, dim=-1)
    return keys, values


def _read_rows(qkv, out, position: int, widths) -> tuple:
    """Masks (B, n) of the key rows and value rows that out[:, position] reads, by gradient."""
    read = out[:, position]
    (grad,) = torch.autograd.grad(read, qkv, torch.ones_like(read), retain_graph=True)
    return tuple(part.ne(0).any(-1) for part in _keys_values(grad, widths))


def kv_cache_bytes(module, x) -> int:
    """Measured bytes of a decoder's KV cache after n = x.shape[1] tokens, all layers summed.

    Derived in "Memory". Per attention layer and batch row: the nbytes of the K rows plus
    the V rows among positions 0 ... n - 1 (of qkv's real output, in its own dtype) that
    output n reads, on x followed by one more, random position (which rows are read depends
    on the masks, not on the values; a copy of position n - 1 could make two value rows
    equal and a key's gradient exactly 0). Raises ValueError if the module has no
    SelfAttention layer, or if output 0 of a layer reads a later key or value (not causal:
    a decoder could not cache them).
    """
    require_module_input(module, x)
    layers = [m for m in module.modules() if isinstance(m, SelfAttention)]
    if not layers:
        name = type(module).__name__
        raise ValueError(f"module must contain SelfAttention layers, {name} has none")
    n = x.shape[1]
    generator = torch.Generator(x.device).manual_seed(0)
    after = torch.randn((x.shape[0], 1, x.shape[2]), generator=generator, device=x.device)
    x = torch.cat([x, after.to(x.dtype)], dim=1)  # (B, n + 1, d): position n is the next token
    total = 0
    for index, (layer, (qkv, out)) in enumerate(zip(layers, _capture(module, x, layers))):
        if any(rows[:, 1:].any() for rows in _read_rows(qkv, out, 0, layer.widths)):
            raise ValueError(
                f"module must be causal to have a KV cache: output 0 of attention layer "
                f"{index} reads a later position"
            )
        kept = zip(_keys_values(qkv[:, :n], layer.widths), _read_rows(qkv, out, n, layer.widths))
        total += sum(part[rows[:, :n]].nbytes for part, rows in kept)
    return total


def state_bytes(state) -> int:
    """Measured bytes a decoder holds between tokens: every tensor in `state`, storage by storage.

    `state` is any nest of tuples, lists and dicts (a ``decoding.State``). Each distinct
    storage counts once and in full, so a view that keeps a larger tensor alive counts that
    tensor. Works on ``meta`` tensors too.
    """
    storages = {}
    for leaf in tree_leaves(state):
        if isinstance(leaf, torch.Tensor):
            storage = leaf.untyped_storage()
            storages[storage._cdata] = storage.nbytes()
    return sum(storages.values())
