"""Banded local attention: each query scores only the w + 1 (or 2w + 1) keys of its window.

``models.SelfAttention.local`` computes a window of radius w in blocks: a block of w queries
scores 2w keys (3w both sides) and a mask keeps the w + 1 (2w + 1) each query needs, so
about half the scores are thrown away (``formulas.kernels.window_scores``). Here every
query t gets its own band of keys t - w..t (t - w..t + w both sides), gathered as a strided
view with ``Tensor.unfold``, and the same ``attend`` scores each query (1 row) against that
band. The output equals the blocked one to rounding; the pairs scored are n (w + 1) causal
and n (2w + 1) both sides (``formulas.kernels.banded_scores``, ``window_size(w, causal)``),
of which only the padding past the ends of the sequence is masked. What it costs instead is
memory traffic: the product reads a band of w + 1 (or 2w + 1) keys per query, (n, w + 1,
d_k) of K and of V, not the (n, d_k) tensors.
"""

import torch
import torch.nn.functional as F

from .checks import require_choice, require_positive
from .formulas.kernels import window_size
from .models import SelfAttention, build
from .registry import ATTENTION_KERNELS
from .specs import Transformer


def band_mask(n: int, window: int, causal: bool, device=None, dtype=None) -> torch.Tensor:
    """Additive mask (n, 1, w + 1 or 2w + 1) of banded attention: 0 where a band's key lies
    in 0..n-1 (query t's band starts at t - w), -inf on the padding past the sequence's ends."""
    size = window_size(window, causal)  # validates window and causal
    require_positive(n=n)
    key = torch.arange(n, device=device).view(n, 1, 1) - window + torch.arange(size, device=device)
    seen = (key >= 0) & (key < n)  # (n, 1, W)
    return torch.zeros(seen.shape, device=device, dtype=dtype).masked_fill(~seen, float("-inf"))


class BandedSelfAttention(SelfAttention):
    """``SelfAttention`` whose window (radius w < n) is scored as a band of w + 1 or 2w + 1 keys."""

    def local(self, q, k, v, n):
        """Banded local attention: Q (B, h, n, d_k) against each query's own band of keys."""
        w = self.window
        size = window_size(w, self.causal)
        right = 0 if self.causal else w
        kb, vb = (
            F.pad(t, (0, 0, w, right)).unfold(2, size, 1).transpose(-2, -1) for t in (k, v)
        )  # (B, h_kv, n, W, d_k): row t holds keys t - w .. t - w + W - 1, a view
        mask = band_mask(n, w, self.causal, q.device, q.dtype)  # (n, 1, W)
        return self.attend(q.unsqueeze(-2), kb, vb, mask).squeeze(-2)  # (B, h, n, d_k)


def banded(spec: Transformer, attention: str = "explicit") -> torch.nn.Module:
    """``models.build(spec, attention)`` with every layer's attention scored as a band.

    Same parameters as the module ``build`` makes under the same seed (the banded layers are
    made on ``meta`` and take the built layers' tensors), so the outputs can be compared.
    """
    if not isinstance(spec, Transformer) or spec.window is None:
        raise ValueError(f"spec must be a Transformer with a window, got {spec!r}")
    require_choice("attention", attention, ATTENTION_KERNELS)
    module = build(spec, attention)
    for layer in module.layers:
        with torch.device("meta"):  # no draws from the random generator, no storage
            band = BandedSelfAttention(spec, attention)
        band.load_state_dict(layer.attn.state_dict(), assign=True)
        layer.attn = band
    return module
