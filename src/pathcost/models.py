"""Readable reference modules: ``build(spec)`` maps (batch, n, d_model) to (batch, n, d_model).

Each module's submodules carry the component names of ``costs.forward_flops``
(``input``/``recurrent``; ``conv``; ``qkv``/``scores``/``values``/``out``/``ffn``; a
Hybrid's front-end ``conv``, then its body's; those of ``linear``'s modules), so the
FLOP counter's per-module counts can be set beside the formula component by component.
The recurrences are written as explicit loops over time, one cell step per position, so
the sequential steps of "Routing graphs" are visible in the code.
"""

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .checks import require_choice, require_positive
from .formulas.costs import window_blocks
from .registry import ATTENTION_KERNELS, require_spec
from .specs import CNN, LSTM, RNN, Hybrid, LinearAttention, LinearRecurrence, Transformer

SEED = 0  # the seed of every module and input that ``seeded`` and ``seeded_input`` build


class RecurrentLayer(nn.Module):
    """A recurrence over time: the input product for all t at once, then one step per t."""

    gates = 1  # how many d-wide blocks the products W_x x_t and W_h h_(t-1) produce

    def __init__(self, d_model: int):
        super().__init__()
        self.input = nn.Linear(d_model, self.gates * d_model)
        self.recurrent = nn.Linear(d_model, self.gates * d_model, bias=False)

    def forward(self, x):  # x: (B, n, d)
        u = self.input(x)  # (B, n, gates * d), parallel over positions
        state, outputs = self.initial_state(x), []
        # unbind, not u[:, t]: indexing's backward writes a zero (B, n, gates * d) tensor per
        # step, O(n^2) work in the backward pass; unbind's backward stacks once, O(n)
        for u_t in u.unbind(1):  # sequential: step t waits for step t - 1
            state = self.step(u_t, state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1)  # (B, n, d)

    def output(self, h):
        """The layer's output at one position from its state's first tensor: h itself here."""
        return h


class RNNLayer(RecurrentLayer):
    """Elman RNN: h(t) = tanh(W_x x(t) + b_x + W_h h(t-1))."""

    def initial_state(self, x) -> tuple:
        return (x.new_zeros(x.shape[0], x.shape[2]),)  # h_0: (B, d)

    def step(self, u_t, state: tuple) -> tuple:
        """One state transfer: (W_x x(t) + b_x, (h(t-1),)) -> (h(t),)."""
        (h,) = state
        return (torch.tanh(u_t + self.recurrent(h)),)


class LSTMLayer(RecurrentLayer):
    """LSTM: c(t) = f(t) ⊙ c(t-1) + i(t) ⊙ g(t), h(t) = o(t) ⊙ tanh(c(t)).

    The gates i(t), f(t), o(t) are σ of blocks of z(t) = W_x x(t) + b_x + W_h h(t-1), the
    candidate g(t) is tanh of the fourth block.
    """

    gates = 4

    def initial_state(self, x) -> tuple:
        h = x.new_zeros(x.shape[0], x.shape[2])
        return h, h  # h_0, c_0: (B, d)

    def step(self, u_t, state: tuple) -> tuple:
        """One state transfer: (W_x x(t) + b_x, (h(t-1), c(t-1))) -> (h(t), c(t))."""
        h, c = state
        d = h.shape[-1]
        z = u_t + self.recurrent(h)  # (B, 4d)
        ifo = torch.sigmoid(z[:, : 3 * d])
        g = torch.tanh(z[:, 3 * d :])
        c = ifo[:, d : 2 * d] * c + ifo[:, :d] * g
        return ifo[:, 2 * d :] * torch.tanh(c), c


class Recurrent(nn.Module):
    """A stack of RNN or LSTM layers."""

    def __init__(self, spec):
        super().__init__()
        layer = RNNLayer if isinstance(spec, RNN) else LSTMLayer
        self.layers = nn.ModuleList(layer(spec.d_model) for _ in range(spec.layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class ConvLayer(nn.Module):
    """One 1-D convolution plus GELU; padding keeps n outputs (left only when causal)."""

    def __init__(self, d_model: int, kernel: int, dilation: int, causal: bool):
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, kernel, dilation=dilation)
        span = (kernel - 1) * dilation
        self.pad = (span, 0) if causal else (span // 2, span // 2)

    def forward(self, x):  # x: (B, d, n), channels first as Conv1d wants
        return F.gelu(self.conv(F.pad(x, self.pad)))


class ConvStack(nn.Module):
    """A stack of dilated 1-D convolutions over (B, n, d)."""

    def __init__(self, spec: CNN):
        super().__init__()
        self.layers = nn.ModuleList(
            ConvLayer(spec.d_model, spec.kernel, dilation, spec.causal)
            for dilation in spec.dilation_schedule
        )

    def forward(self, x):  # x: (B, n, d)
        x = x.transpose(1, 2)  # (B, d, n)
        for layer in self.layers:
            x = layer(x)
        return x.transpose(1, 2)


class Scores(nn.Module):
    """Attention weights softmax(Q K^T / sqrt(d_k) + mask): (..., queries, keys) from Q, K."""

    def forward(self, q, k, mask):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores + mask, dim=-1)


class Values(nn.Module):
    """The weighted sum of values A V: weights (..., queries, keys) times V (..., keys, d_k)."""

    def forward(self, weights, v):
        return weights @ v


class Fused(nn.Module):
    """Both attention products in one ``F.scaled_dot_product_attention`` call (a fused kernel)."""

    def forward(self, q, k, v, mask, enable_gqa=False):
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, enable_gqa=enable_gqa)
        if isinstance(mask, bool):  # causal full attention: let the kernel build the mask
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=enable_gqa)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def window_mask(n: int, window: int, causal: bool, device=None, dtype=None) -> torch.Tensor:
    """Additive mask (blocks, w, keys per block) of blocked local attention: 0 seen, -inf not."""
    blocks, keys = window_blocks(n, window, causal)
    query = torch.arange(blocks * window, device=device).view(blocks, window, 1)
    first = (torch.arange(blocks, device=device) * window - window).view(blocks, 1, 1)
    key = first + torch.arange(keys, device=device).view(1, 1, keys)
    seen = (key >= 0) & (key < n) & ((query - key).abs() <= window)
    if causal:
        seen &= key <= query
    return torch.zeros(seen.shape, device=device, dtype=dtype).masked_fill(~seen, float("-inf"))


class SelfAttention(nn.Module):
    """Multi-head (or grouped-query) self-attention, full or windowed, explicit or fused.

    qkv's output is [Q | K | V], ``widths`` = (d, h_kv d_k, h_kv d_k) wide; each run of
    h / h_kv consecutive query heads reads one K, V head.
    """

    def __init__(self, spec: Transformer, kernel: str):
        super().__init__()
        self.heads, self.window, self.causal = spec.heads, spec.window, spec.causal
        self.kv_heads, self.d_head = spec.key_value_heads, spec.d_head
        self.widths = (spec.d_model, self.kv_heads * self.d_head, self.kv_heads * self.d_head)
        self.qkv = nn.Linear(spec.d_model, sum(self.widths))
        self.out = nn.Linear(spec.d_model, spec.d_model)
        if kernel == "explicit":
            self.scores, self.values = Scores(), Values()
        else:
            self.fused = Fused()

    def attend(self, q, k, v, mask):
        """Q (B, h, ..., queries, d_k), K and V (B, h_kv, ..., keys, d_k); mask True (causal),
        None or additive (..., queries, keys). Grouped heads: a K, V head's h / h_kv query
        heads become h / h_kv times as many query rows."""
        g = self.heads // self.kv_heads
        if hasattr(self, "fused") and not isinstance(mask, torch.Tensor):
            return self.fused(q, k, v, mask, g > 1)  # the kernel shares K, V heads itself
        if isinstance(mask, bool):
            n = q.shape[-2]
            mask = torch.full((n, n), float("-inf"), device=q.device, dtype=q.dtype).triu(1)
        if g > 1:  # contiguous copies always, so autograd saves the same for every B and n
            rows, copy = q.shape[-2], partial(torch.clone, memory_format=torch.contiguous_format)
            q = copy(q.unflatten(1, (self.kv_heads, g)).movedim(2, -3)).flatten(-3, -2)
            k, v = copy(k), copy(v)  # q: (B, h_kv, ..., g q, d_k)
            mask = None if mask is None else mask.repeat(*(1,) * (mask.dim() - 2), g, 1)
        if hasattr(self, "fused"):
            y = self.fused(q, k, v, mask)
        else:
            y = self.values(self.scores(q, k, 0.0 if mask is None else mask), v)
        return y if g == 1 else y.unflatten(-2, (g, rows)).movedim(-3, 2).flatten(1, 2)

    def forward(self, x):  # x: (B, n, d)
        B, n, d = x.shape
        q, k, v = (
            part.view(B, n, -1, self.d_head).transpose(1, 2)
            for part in self.qkv(x).split(self.widths, dim=-1)
        )  # q: (B, h, n, d_k); k, v: (B, h_kv, n, d_k)
        if self.window is None or self.window >= n:
            y = self.attend(q, k, v, True if self.causal else None)
        else:
            y = self.local(q, k, v, n)
        return self.out(y.transpose(1, 2).reshape(B, n, d))

    def local(self, q, k, v, n):
        """Blocked local attention (see ``window_blocks``): O(n w) scores instead of O(n^2)."""
        w = self.window
        blocks, keys = window_blocks(n, w, self.causal)
        right = blocks * w - n + (0 if self.causal else w)  # pad to whole blocks (and after)
        qb = F.pad(q, (0, 0, 0, blocks * w - n)).unflatten(2, (blocks, w))  # (B, h, nb, w, d_k)
        kb, vb = (
            F.pad(t, (0, 0, w, right)).unfold(2, keys, w).transpose(-2, -1) for t in (k, v)
        )  # (B, h_kv, nb, keys, d_k)
        y = self.attend(qb, kb, vb, window_mask(n, w, self.causal, q.device, q.dtype))
        return y.flatten(2, 3)[:, :, :n]  # (B, h, n, d_k)


class Block(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then x + ffn(norm(x)), with a GELU FFN d_ff wide.

    `attn` is the attention module: ``SelfAttention`` in a Transformer, the linear
    attention of ``linear.LinearSelfAttention`` in a LinearAttention stack.
    """

    def __init__(self, spec, attn: nn.Module):
        super().__init__()
        self.norm1 = nn.LayerNorm(spec.d_model)
        self.attn = attn
        self.norm2 = nn.LayerNorm(spec.d_model)
        self.ffn = nn.Sequential(
            nn.Linear(spec.d_model, spec.d_ff), nn.GELU(), nn.Linear(spec.d_ff, spec.d_model)
        )

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def sinusoidal_positions(n: int, d: int, device=None, dtype=None) -> torch.Tensor:
    """PE(t, 2i) = sin(t / 10000^(2i/d)), PE(t, 2i+1) = cos(same): shape (n, d), d even.

    In Vaswani et al.'s letters: i counts the channel pairs here, not positions.
    """
    position = torch.arange(n, device=device, dtype=torch.float32).unsqueeze(1)  # (n, 1)
    frequency = torch.exp(torch.arange(0, d, 2, device=device) * (-math.log(10000.0) / d))
    angles = position * frequency  # (n, d / 2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1).to(dtype)


class TransformerStack(nn.Module):
    """`layers` Transformer blocks, with sinusoidal positions added first if the spec asks."""

    def __init__(self, spec: Transformer, kernel: str):
        super().__init__()
        self.positional = spec.positional
        self.layers = nn.ModuleList(
            Block(spec, SelfAttention(spec, kernel)) for _ in range(spec.layers)
        )

    def forward(self, x):  # x: (B, n, d)
        if self.positional:
            x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        for layer in self.layers:
            x = layer(x)
        return x


def build(spec, attention: str = "explicit") -> nn.Module:
    """A torch module for `spec`, (batch, n, d_model) -> (batch, n, d_model), batch first.

    attention: "explicit" materialises softmax(Q K^T) (the O(n^2) path); "sdpa" calls
    ``F.scaled_dot_product_attention``, which on most devices runs a fused kernel.
    Created on the current default device, so ``with torch.device("meta"): build(spec)``
    makes a module with no storage, for counting. A Hybrid is
    ``downsampling.Upsampled``: its strided ``conv``, then ``build(then)`` as ``body``.
    LinearAttention and LinearRecurrence are the stacks of ``linear`` (`attention` does
    not apply to them).
    """
    require_spec(spec)
    require_choice("attention", attention, ATTENTION_KERNELS)
    if isinstance(spec, Hybrid):
        from .downsampling import Upsampled  # downsampling builds its body here: import late

        return Upsampled(spec, attention)
    if isinstance(spec, (RNN, LSTM)):
        return Recurrent(spec)
    if isinstance(spec, CNN):
        return ConvStack(spec)
    if isinstance(spec, (LinearAttention, LinearRecurrence)):
        from .linear import LinearAttentionStack, LinearRecurrentStack  # linear imports models

        stack = LinearAttentionStack if isinstance(spec, LinearAttention) else LinearRecurrentStack
        return stack(spec)
    return TransformerStack(spec, attention)


def seeded(spec, attention: str = "explicit", seed: int = SEED) -> nn.Module:
    """``build(spec, attention)`` under `seed`, in float64 on the CPU, frozen for measuring.

    The caller's random state is left as it was (``torch.random.fork_rng``), so the same
    spec and seed give the same weights on every call; the Jacobians of "Routing graphs"
    and the gradient products of "Gradient decay" are measured on such modules.
    """
    with torch.random.fork_rng(devices=[]), torch.device("cpu"):
        torch.manual_seed(seed)
        module = build(spec, attention)
    return module.double().requires_grad_(False)


def seeded_input(n: int, d: int, seed: int = SEED) -> torch.Tensor:
    """x ~ randn(1, n, d) in float64 from its own generator: the same input on every call."""
    require_positive(n=n, d=d)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((1, n, d), generator=generator, dtype=torch.float64)
