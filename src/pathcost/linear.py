"""Beyond the four: causal linear attention and a diagonal linear recurrence, as modules.

``models.build`` makes these for ``specs.LinearAttention`` and ``specs.LinearRecurrence``.
Their submodules carry the component names of ``costs.forward_flops``: ``qkv``, ``kv``
(the outer products φ(k_t) [v_t, 1]^T), ``read`` (φ(q_t)^T S_t), ``out``, ``ffn``; and
``input``, ``recurrent`` (the diagonal recurrence) and ``out``. The state transfer
h_t = a ⊙ h_(t-1) + u_t is one ``torch.addcmul``, the product of the diagonal matrix
diag(a) with the state, which the FLOP counter and the chain tracer count as a product.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .models import Block, Recurrent, RNNLayer, TransformerStack
from .specs import LinearAttention, LinearRecurrence


def feature_map(x):
    """φ(x) = elu(x) + 1 > 0 (Katharopoulos et al. 2020): attention weights stay positive.

    Computed as exp(min(x, 0)) + max(x, 0), the same function: elu(x) + 1 rounds to 0 once
    exp(x) is below the dtype's resolution at 1 (x <= -36.7 in float64), and a query whose
    every feature is 0 would divide 0 by 0.
    """
    return torch.exp(x.clamp(max=0)) + x.clamp(min=0)


class OuterProducts(nn.Module):
    """Per position, the outer product φ(k_t) [v_t, 1]^T: (..., n, d_k, d_k + 1)."""

    def forward(self, k, v1):
        return k.unsqueeze(-1) @ v1.unsqueeze(-2)


class Read(nn.Module):
    """Per position, φ(q_t)^T S_t: the numerator (d_k wide) and the normaliser (its last column)."""

    def forward(self, q, states):
        return (q.unsqueeze(-2) @ states).squeeze(-2)


class LinearSelfAttention(nn.Module):
    """Causal multi-head linear attention through prefix sums.

    y_t = φ(q_t)^T S_t / φ(q_t)^T z_t per head, with S_t = Σ_(s<=t) φ(k_s) v_s^T and
    z_t = Σ_(s<=t) φ(k_s): V gets a column of ones, so one prefix sum (``cumsum`` over
    positions) of the outer products gives S and z together, (B, h, n, d_k, d_k + 1).
    """

    def __init__(self, spec: LinearAttention):
        super().__init__()
        self.heads, self.d_head = spec.heads, spec.d_head
        self.qkv = nn.Linear(spec.d_model, 3 * spec.d_model)
        self.kv, self.read = OuterProducts(), Read()
        self.out = nn.Linear(spec.d_model, spec.d_model)

    def project(self, x):
        """φ(Q), φ(K) and [V, 1] of x (..., d): (..., h, d_k) each, (..., h, d_k + 1) for V."""
        shape = (self.heads, self.d_head)
        q, k, v = (part.unflatten(-1, shape) for part in self.qkv(x).chunk(3, -1))
        v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
        return feature_map(q), feature_map(k), v1

    def normalise(self, read):
        """The numerator over the normaliser, heads merged: (..., h, d_k + 1) -> (..., d)."""
        return (read[..., :-1] / read[..., -1:]).flatten(-2)

    def forward(self, x):  # x: (B, n, d)
        q, k, v1 = self.project(x)  # (B, n, h, d_k), (B, n, h, d_k + 1)
        states = self.kv(k, v1).cumsum(dim=1)  # S_t and z_t: (B, n, h, d_k, d_k + 1)
        return self.out(self.normalise(self.read(q, states)))


class LinearAttentionStack(TransformerStack):
    """`layers` linear-attention blocks, with sinusoidal positions added first if the spec asks.

    ``models.TransformerStack``'s forward pass, with ``LinearSelfAttention`` in its blocks.
    """

    def __init__(self, spec: LinearAttention):
        nn.Module.__init__(self)  # not TransformerStack.__init__: no SelfAttention here
        self.positional = spec.positional
        self.layers = nn.ModuleList(
            Block(spec, LinearSelfAttention(spec)) for _ in range(spec.layers)
        )


def scan(a, u):
    """All n states h_t = a ⊙ h_(t-1) + u_t (h_(-1) = 0) by a Brent-Kung parallel scan.

    Brent & Kung 1982, the work-efficient inclusive scan: u (B, n, d) is zero-padded to
    N = 2^m, m = ceil(log2 n). Up-sweep, levels v = 0 ... m - 1: the last element of every
    block of 2^(v+1) combines with the element 2^v before it. Down-sweep, v = m - 2 ... 0:
    every element i with i + 1 an odd multiple of 2^v (but the first) combines with
    i - 2^v. A combine of a segment of length 2^v after a prefix b is a^(2^v) ⊙ b + own,
    one ``addcmul``; the decay powers a^(2^v) are squared once per level (d wide, no n).
    2N - m - 2 combines in all (the loop does n), on 2m - 1 levels (none at n = 1).
    """
    n = u.shape[1]
    m = (n - 1).bit_length()  # ceil(log2 n); 0 for n = 1
    size = 1 << m
    h = F.pad(u, (0, 0, 0, size - n))  # (B, N, d): zeros after the last position
    powers = [a]
    for _ in range(m - 1):
        powers.append(powers[-1] * powers[-1])  # a^(2^v)
    for k in range(m):  # up-sweep
        blocks = h.unflatten(1, (size >> (k + 1), 2 << k))  # (B, N / 2^(v+1), 2^(v+1), d)
        last = torch.addcmul(blocks[:, :, -1], powers[k], blocks[:, :, (1 << k) - 1].clone())
        h = torch.cat([blocks[:, :, :-1], last.unsqueeze(2)], dim=2).flatten(1, 2)
    for k in reversed(range(m - 1)):  # down-sweep
        half = 1 << k
        blocks = h[:, half : size - half].unflatten(1, (-1, 2 * half))
        last = torch.addcmul(blocks[:, :, -1], powers[k], blocks[:, :, half - 1].clone())
        middle = torch.cat([blocks[:, :, :-1], last.unsqueeze(2)], dim=2).flatten(1, 2)
        h = torch.cat([h[:, :half], middle, h[:, size - half :]], dim=1)
    return h if size == n else h[:, :n].clone()  # n rows of their own, not the padded ones


class DiagonalRecurrence(nn.Module):
    """All n states h_t = a ⊙ h_(t-1) + u_t, h_(-1) = 0, with a = sigmoid(λ) per channel.

    By the loop (one ``transfer`` per position, each waiting for the last) or, with
    parallel=True, by ``scan``. The decays start spread over (0.5, 0.99), as LRU starts
    them near the unit circle (Orvieto et al. 2023).
    """

    def __init__(self, d_model: int, parallel: bool):
        super().__init__()
        self.parallel = parallel
        start = torch.empty(d_model).uniform_(0.5, 0.99)
        self.decay = nn.Parameter(torch.log(start / (1 - start)))  # λ, a = sigmoid(λ)

    def decays(self):
        """a = sigmoid(λ), one decay in (0, 1) per channel."""
        return torch.sigmoid(self.decay)

    def transfer(self, u_t, h, a=None):
        """One state transfer h_t = a ⊙ h_(t-1) + u_t, one ``addcmul``; `a` if computed."""
        return torch.addcmul(u_t, self.decays() if a is None else a, h)

    def forward(self, u):  # u: (B, n, d)
        a = self.decays()
        if self.parallel:
            return scan(a, u)
        h, states = u.new_zeros(u.shape[0], u.shape[2]), []
        for u_t in u.unbind(1):  # sequential: step t waits for step t - 1
            h = self.transfer(u_t, h, a)
            states.append(h)
        return torch.stack(states, dim=1)


class LinearRecurrentLayer(nn.Module):
    """u_t = W x_t + b (``input``), h_t = a ⊙ h_(t-1) + u_t (``recurrent``), y_t = GELU(C h_t + c).

    ``input``, ``initial_state``, ``step`` and ``output`` follow the protocol of
    ``models.RecurrentLayer``, so the Jacobians and the decoder step it as they step an RNN
    layer.
    """

    def __init__(self, d_model: int, scan: bool):
        super().__init__()
        self.input = nn.Linear(d_model, d_model)
        self.recurrent = DiagonalRecurrence(d_model, scan)
        self.out = nn.Linear(d_model, d_model)

    initial_state = RNNLayer.initial_state  # (h_(-1),) = (0,): (B, d)

    def step(self, u_t, state: tuple) -> tuple:
        """One state transfer: (W x_t + b, (h_(t-1),)) -> (h_t,)."""
        return (self.recurrent.transfer(u_t, state[0]),)

    def output(self, h):
        """y_t = GELU(C h_t + c), position by position."""
        return F.gelu(self.out(h))

    def forward(self, x):  # x: (B, n, d)
        return self.output(self.recurrent(self.input(x)))


class LinearRecurrentStack(Recurrent):
    """`layers` diagonal linear recurrences, each computed by the loop or by the scan.

    ``models.Recurrent``'s forward pass, with ``LinearRecurrentLayer`` layers.
    """

    def __init__(self, spec: LinearRecurrence):
        nn.Module.__init__(self)  # not Recurrent.__init__: no RNN or LSTM layers here
        self.layers = nn.ModuleList(
            LinearRecurrentLayer(spec.d_model, spec.scan) for _ in range(spec.layers)
        )
