"""Associative recall: how many key-value pairs one attention read can tell apart.

Derived in "Beyond the four". `pairs` random keys k_i and values v_i (d_k wide, standard
normal, float64, from a seeded generator) are stored; each key is then used as a query, and
the read-out r = Σ_i w_i v_i counts as recalled when its nearest stored value (Euclidean)
is the query's own. The weights are those of one attention head:

- "softmax": w_i = softmax_i(q . k_i / sqrt(d_k)), as ``models.Scores`` computes them;
- "linear": w_i = φ(q) . φ(k_i) / Σ_j φ(q) . φ(k_j), with φ = ``linear.feature_map``,
  what causal linear attention reads from its prefix sums S and z once all pairs are in.

No training: the probe measures the kernel itself. A trained model can do better than
random keys, which is why the chapter also trains on the copy task.
"""

import torch

from .. import models
from ..checks import require_choice, require_positive
from ..linear import feature_map

KERNELS = ("softmax", "linear")


def recall_weights(queries, keys, kernel: str) -> torch.Tensor:
    """Attention weights (..., queries, keys) of `kernel` ("softmax" or "linear"), rows sum to 1."""
    require_choice("kernel", kernel, KERNELS)
    if kernel == "softmax":
        return models.Scores()(queries, keys, 0.0)  # no mask: every pair is stored
    scores = feature_map(queries) @ feature_map(keys).transpose(-2, -1)
    return scores / scores.sum(-1, keepdim=True)


def recall_accuracy(pairs: int, d_k: int, kernel: str, trials: int = 64, seed: int = 0) -> float:
    """The fraction of stored keys whose read-out is nearest their own value (module docstring).

    Averaged over `trials` independent sets of `pairs` pairs; chance is 1 / pairs.
    """
    require_positive(pairs=pairs, d_k=d_k, trials=trials)
    require_choice("kernel", kernel, KERNELS)
    generator = torch.Generator().manual_seed(seed)
    keys, values = (
        torch.randn(trials, pairs, d_k, generator=generator, dtype=torch.float64) for _ in range(2)
    )
    read = recall_weights(keys, keys, kernel) @ values  # each key as its own query
    nearest = torch.cdist(read, values).argmin(-1)  # (trials, pairs)
    return (nearest == torch.arange(pairs)).double().mean().item()
