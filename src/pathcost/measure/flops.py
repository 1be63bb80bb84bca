"""FLOPs counted on a real forward pass: the measured twin of ``costs.forward_flops``.

Blind spots of ``torch.utils.flop_counter.FlopCounterMode`` handled here (PyTorch 2.13, CPU):
the oneDNN LSTM kernel and the CPU flash-attention kernel are counted as 0 unless oneDNN is
switched off and the CPU attention op is given a formula. On the ``meta`` device no fused
path runs and every count is exact, so large n is counted there at no memory cost.

One op is counted that FlopCounterMode leaves out: ``addcmul`` (x + a ⊙ h), the state
transfer of ``linear``'s diagonal recurrence, a product of the diagonal matrix diag(a)
with the state: 2 FLOPs per output element, one multiply-accumulate, as for a matmul.
No other module of the package calls it in a forward pass.
"""

import warnings
from collections import defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from ..checks import require_module_input

COMPONENTS = (
    "input", "recurrent", "conv", "qkv", "scores", "values", "fused", "kv", "read", "out", "ffn"
)  # fmt: skip


def _cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """NB: like PyTorch's own sdpa formula, counts both products in full even when causal."""
    return sdpa_flop_count(query, key, value)


def _diagonal_product_flops(*args, out_shape=None, **kwargs) -> int:
    """addcmul(x, a, h) = x + a ⊙ h: one multiply-accumulate per output element."""
    return 2 * out_shape.numel()


_CPU_BLIND_SPOTS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops,
    torch.ops.aten.addcmul: _diagonal_product_flops,
}


def _count(module, x) -> FlopCounterMode:
    require_module_input(module, x)
    counter = FlopCounterMode(display=False, custom_mapping=_CPU_BLIND_SPOTS)
    with warnings.catch_warnings():  # mkldnn.flags() warns about TF32 on Intel GPUs
        warnings.filterwarnings("ignore", message="TF32 acceleration")
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), counter:
            module(x)
    return counter


def flops(module, x) -> int:
    """Matmul and convolution FLOPs (2 per multiply-accumulate) of one forward pass module(x)."""
    return _count(module, x).get_total_flops()


def flops_by_component(module, x) -> dict[str, int]:
    """FLOPs of one forward pass summed by component: the last name of each submodule path.

    Components are the names in COMPONENTS that ``models.build`` gives its submodules
    (``layers.3.attn.qkv`` counts as ``qkv``); FLOPs outside them land in ``other``.
    """
    counts = _count(module, x).get_flop_counts()
    by_component = defaultdict(int)
    for path, per_op in counts.items():
        name = path.rsplit(".", 1)[-1]
        if name in COMPONENTS:
            by_component[name] += sum(per_op.values())
    other = sum(counts["Global"].values()) - sum(by_component.values())
    if other:
        by_component["other"] = other
    return dict(by_component)
