"""Can a module see the order of its input? Permute the positions and compare the outputs.

Measured in "The four architectures in pictures". A module mapping (B, n, d) to (B, n, d) is
permutation equivariant when reordering the input positions only reorders the output the
same way, module(x[:, π]) = module(x)[:, π] for every permutation π. Such a module cannot
tell which token came first: attention without position encodings and without a causal mask
is one (every position reads every other through the same weights, and a softmax does not
care about the order of its terms). A recurrence, a convolution, a causal mask or added
positions break the symmetry.
"""

import torch

from ..checks import is_int, require_module_input


def permutation_gaps(module, x: torch.Tensor, permutation) -> torch.Tensor:
    """Per output position t, the largest ``abs(module(x[:, π]) - module(x)[:, π])``: shape (n,).

    The maximum runs over batch and channels. A zero at t (up to rounding) means that
    output t of the permuted run equals what the unpermuted run computed for the token
    that now sits at t. permutation: the positions 0 .. n-1 in a new order (a list, tuple,
    range or integer tensor), so that ``x[:, π]`` is the reordered input. Run without
    gradients.
    """
    require_module_input(module, x)
    if x.dim() != 3:
        raise ValueError(f"x must have shape (batch, n, d_model), got {tuple(x.shape)}")
    n = x.shape[1]
    if isinstance(permutation, torch.Tensor):
        permutation = permutation.tolist()
    try:
        order = list(permutation)
    except TypeError:
        order = None
    if order is None or not all(map(is_int, order)) or sorted(order) != list(range(n)):
        raise ValueError(f"permutation must reorder the positions 0..{n - 1}, got {permutation!r}")
    index = torch.tensor(order, device=x.device)
    with torch.no_grad():
        moved_after = module(x)[:, index]  # f(x)[:, π]
        moved_before = module(x[:, index])  # f(x[:, π])
    return (moved_before - moved_after).abs().amax(dim=(0, 2))


def permutation_gap(module, x: torch.Tensor, permutation) -> float:
    """The largest ``abs(module(x[:, π]) - module(x)[:, π])`` over batch, positions, channels.

    Measured in "The four architectures in pictures". It is 0 exactly when reordering this input
    only reorders the output (the module is permutation equivariant on x): 0 up to rounding for
    attention with neither positions nor a causal mask, clearly above that for a recurrence, a
    convolution, a causal Transformer, or ``positional=True``.
    """
    return permutation_gaps(module, x, permutation).max().item()
