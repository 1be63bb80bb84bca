"""Downsample, then attend: a strided convolution shortens the sequence before a spec's module.

Derived in "Cutting the n^2". Its FLOPs are ``costs.downsampled_forward_flops``; its
submodules are named ``conv`` and ``body``, so the FLOP counter's components keep the names
of ``costs``.
"""

import torch.nn.functional as F
from torch import nn

from .checks import require_choice, require_positive
from .formulas.costs import downsampled_length
from .models import build
from .registry import ATTENTION_KERNELS, require_spec


class Downsampled(nn.Module):
    """Merge every s positions into one token with a strided convolution, then run `body`.

    (B, n, d) -> zero-pad n on the right to n_pad = s ceil(n / s) -> Conv1d(d, d, kernel=s,
    stride=s) -> (B, ceil(n / s), d) -> body -> (B, ceil(n / s), d). Token t of the short
    sequence reads input positions t s ... t s + s - 1 and nothing else.
    """

    def __init__(self, spec, stride: int, attention: str = "explicit"):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(spec.d_model, spec.d_model, kernel_size=stride, stride=stride)
        self.body = build(spec, attention)

    def forward(self, x):  # x: (B, n, d)
        n = x.shape[1]
        pad = downsampled_length(n, self.stride) * self.stride - n
        x = F.pad(x.transpose(1, 2), (0, pad))  # (B, d, n_pad), zeros after the last position
        return self.body(self.conv(x).transpose(1, 2))  # (B, ceil(n / s), d)


def downsampled(spec, stride: int, attention: str = "explicit") -> nn.Module:
    """Downsample then attend: a (batch, n, d_model) -> (batch, ceil(n / s), d_model) module.

    Derived in "Cutting the n^2". A Conv1d with kernel = stride = s (d_model -> d_model)
    shortens the sequence s times, then ``build(spec, attention)`` runs on ceil(n / s)
    tokens; its FLOPs are ``costs.downsampled_forward_flops``. Its submodules are named
    ``conv`` and ``body``, so the FLOP counter's components keep the names of ``costs``.
    """
    require_spec(spec)
    require_positive(stride=stride)
    require_choice("attention", attention, ATTENTION_KERNELS)
    return Downsampled(spec, stride, attention)
