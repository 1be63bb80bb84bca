"""Downsample, then attend: a strided convolution shortens the sequence before a spec's module.

Derived in "Cutting the n^2". Its FLOPs are ``costs.downsampled_forward_flops``; its
submodules are named ``conv`` and ``body``, so the FLOP counter's components keep the names
of ``costs``. ``Upsampled`` repeats each token's output back to n positions: the module
``models.build`` makes for a ``specs.Hybrid``.
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

    def tokens(self, x):  # x: (B, n, d)
        """The short sequence the body reads: (B, n, d) -> (B, ceil(n / s), d)."""
        n = x.shape[1]
        pad = downsampled_length(n, self.stride) * self.stride - n
        x = F.pad(x.transpose(1, 2), (0, pad))  # (B, d, n_pad), zeros after the last position
        return self.conv(x).transpose(1, 2)  # (B, ceil(n / s), d)

    def forward(self, x):  # x: (B, n, d)
        return self.body(self.tokens(x))  # (B, ceil(n / s), d)


class Upsampled(Downsampled):
    """``Downsampled``, then each token's output repeated s times and cropped: (B, n, d).

    The module of a ``specs.Hybrid``: output j reads token floor(j / s). The tokens are
    made contiguous before the body, so the body sees the (B, ceil(n / s), d) input
    ``build(then)`` sees on its own and every formula of `then` applies to it at
    ceil(n / s) tokens unchanged.
    """

    def __init__(self, spec, attention: str = "explicit"):
        super().__init__(spec.then, spec.stride, attention)

    def tokens(self, x):  # x: (B, n, d)
        """The contiguous short sequence the body reads: (B, ceil(n / s), d)."""
        return super().tokens(x).contiguous()

    def upsample(self, y, n: int):  # y: (B, m, d)
        """Each of the ceil(n / s) token outputs repeated s times, cropped to n: (B, n, d)."""
        B, m, d = y.shape
        return y.unsqueeze(2).expand(B, m, self.stride, d).reshape(B, m * self.stride, d)[:, :n]

    def forward(self, x):  # x: (B, n, d)
        return self.upsample(self.body(self.tokens(x)), x.shape[1])


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
