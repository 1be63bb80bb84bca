"""Incremental decoding: a causal module of ``models.build`` run one position at a time.

A ``Decoder`` wraps the module (its own weights, no copies) and steps it from an explicit
``State``: per layer the K and V cache of a Transformer block, the h(t) or h(t) and c(t) of
a recurrent layer, the rolling buffer of a causal convolution, the prefix sums S and z of a
linear-attention block. Decoding n positions one at a
time gives the outputs of one full causal forward pass of the same module; the
conventions (what "after n tokens" means, which keys a windowed query reads, what each
state holds) are stated once in ``formulas.decode``, and its formulas count what a
``Decoder`` keeps and computes.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .checks import require_non_negative, require_positive
from .linear import LinearAttentionStack
from .models import ConvStack, LSTMLayer, Recurrent, TransformerStack, sinusoidal_positions


class State(NamedTuple):
    """What a decoder keeps between tokens.

    position: the position of the next token (= tokens decoded so far); layers: one tuple
    of tensors per layer, bottom first: (K, V) of shape (B, h_kv, m, d_k), m the rows kept,
    for a Transformer block; (h(t),) or (h(t), c(t)) of shape (B, d), t the last position
    decoded, for an RNN, LSTM or linear recurrent layer; (buffer,) of shape
    (B, d, (k - 1) δ_l) for a convolution of kernel width k and dilation δ_l, its last
    inputs, oldest first; (S,) of shape (B, h, d_k, d_k + 1) for a linear-attention block,
    S_t and z_t side by side (``linear.LinearSelfAttention``), the same size after every token.
    """

    position: int
    layers: tuple


class Decoder(nn.Module):
    """Steps a causal module of ``models.build(spec)`` one position at a time.

    ``start(batch)`` gives the initial state, ``step(x_t, state)`` maps one input (B, d) to
    one output (B, d) and the next state, ``forward(x)`` decodes every position of x
    (B, n, d) in turn, and ``generate(x_0, n)`` feeds each output back as the next input.
    Raises ValueError for a module that ``build`` did not make or that is not causal.
    """

    def __init__(self, module):
        super().__init__()
        if not isinstance(module, (Recurrent, ConvStack, TransformerStack)):  # linear's too
            raise ValueError(
                f"module must come from models.build(spec), got {type(module).__name__}"
            )
        if isinstance(module, ConvStack) and any(layer.pad[1] for layer in module.layers):
            raise ValueError("module must be causal to decode: this CNN is centred")
        softmax = isinstance(module, TransformerStack) and not isinstance(
            module, LinearAttentionStack
        )  # a LinearAttentionStack is a TransformerStack too, and always causal
        if softmax and not module.layers[0].attn.causal:
            raise ValueError("module must be causal to decode: this Transformer is not")
        self.module = module  # a submodule: the decoder's parameters are the module's own

    def start(self, batch: int = 1) -> State:
        """The state before position 0: empty caches, zero hidden and cell states, zero buffers."""
        require_positive(batch=batch)
        weight = next(self.module.parameters())
        new = {"device": weight.device, "dtype": weight.dtype}
        layers = []
        for layer in self.module.layers:
            if isinstance(self.module, LinearAttentionStack):  # before TransformerStack: one too
                attn = layer.attn
                shape = (batch, attn.heads, attn.d_head, attn.d_head + 1)
                layers.append((torch.zeros(shape, **new),))
            elif isinstance(self.module, TransformerStack):
                attn = layer.attn
                shape = (batch, attn.kv_heads, 0, attn.d_head)
                layers.append((torch.zeros(shape, **new), torch.zeros(shape, **new)))
            elif isinstance(self.module, Recurrent):  # linear recurrences too
                d = layer.input.in_features
                count = 2 if isinstance(layer, LSTMLayer) else 1  # (h, c) or (h,)
                layers.append(tuple(torch.zeros(batch, d, **new) for _ in range(count)))
            else:
                shape = (batch, layer.conv.in_channels, layer.pad[0])  # (B, d, (k - 1) r)
                layers.append((torch.zeros(shape, **new),))
        return State(0, tuple(layers))

    def step(self, x, state: State) -> tuple:
        """One position: input x (B, d) at ``state.position`` -> (output (B, d), next state)."""
        if getattr(self.module, "positional", False):  # a Transformer's or linear attention's
            p, d = state.position, x.shape[-1]
            x = x + sinusoidal_positions(p + 1, d, x.device, x.dtype)[p]  # row p, as forward
        layers = []
        for layer, kept in zip(self.module.layers, state.layers, strict=True):
            if isinstance(self.module, LinearAttentionStack):  # before TransformerStack: one too
                x, kept = _linear_block_step(layer, x, kept)
            elif isinstance(self.module, TransformerStack):
                x, kept = _block_step(layer, x, kept)
            elif isinstance(self.module, Recurrent):  # linear recurrences too
                kept = layer.step(layer.input(x), kept)
                x = layer.output(kept[0])
            else:
                x, kept = _conv_step(layer, x, kept)
            layers.append(kept)
        return x, State(state.position + 1, tuple(layers))

    def forward(self, x, state: State | None = None) -> tuple:
        """Decode every position of x (B, n, d) in turn: (outputs (B, n, d), state after)."""
        state = self.start(x.shape[0]) if state is None else state
        outputs = []
        for x_t in x.unbind(1):
            y_t, state = self.step(x_t, state)
            outputs.append(y_t)
        return (torch.stack(outputs, dim=1) if outputs else x.new_zeros(x.shape)), state

    def generate(self, x, n: int, state: State | None = None) -> tuple:
        """n positions from the first input x (B, d), each output the next input.

        Returns (outputs (B, n, d), state after): the loop whose sequential steps
        ``formulas.decode.generation_steps`` counts.
        """
        require_non_negative(n=n)
        state = self.start(x.shape[0]) if state is None else state
        outputs = [x.new_zeros(x.shape[0], 0, x.shape[-1])]
        for _ in range(n):
            x, state = self.step(x, state)
            outputs.append(x.unsqueeze(1))
        return torch.cat(outputs, dim=1), state


def _block_step(block, x, cache: tuple) -> tuple:
    """A pre-norm Transformer block at one position: x (B, d), cache (K, V) -> (y, (K, V))."""
    attn, (B, d) = block.attn, x.shape
    q, k, v = attn.qkv(block.norm1(x)).split(attn.widths, dim=-1)
    q = q.view(B, attn.kv_heads, -1, attn.d_head)  # (B, h_kv, g, d_k): head i reads i // g
    keys, values = (
        torch.cat([kept, new.view(B, attn.kv_heads, 1, attn.d_head)], dim=2)
        for kept, new in zip(cache, (k, v))
    )  # (B, h_kv, m + 1, d_k): every row is one this query reads, so no mask
    if hasattr(attn, "fused"):
        y = attn.fused(q, keys, values, None)  # the g query heads as g query rows
    else:
        y = attn.values(attn.scores(q, keys, 0.0), values)  # (B, h_kv, g, d_k)
    x = x + attn.out(y.reshape(B, d))
    x = x + block.ffn(block.norm2(x))
    if attn.window is not None and keys.shape[2] > attn.window:  # drop what no query reads
        keys, values = (t[:, :, -attn.window :].clone() for t in (keys, values))
    return x, (keys, values)


def _linear_block_step(block, x, kept: tuple) -> tuple:
    """A linear-attention block at one position: x (B, d), (S,) -> (y, (S + φ(k) [v, 1]^T,))."""
    attn = block.attn
    q, k, v1 = attn.project(block.norm1(x))  # (B, h, d_k), (B, h, d_k + 1)
    states = kept[0] + attn.kv(k, v1)  # (B, h, d_k, d_k + 1): the prefix sums, one more term
    x = x + attn.out(attn.normalise(attn.read(q, states)))
    return x + block.ffn(block.norm2(x)), (states,)


def _conv_step(layer, x, kept: tuple) -> tuple:
    """A causal convolution at one position: x (B, d), (buffer,) -> (y (B, d), (buffer,))."""
    (buffer,) = kept
    window = torch.cat([buffer, x.unsqueeze(-1)], dim=-1)  # (B, d, (k - 1) r + 1)
    y = F.gelu(layer.conv(window)).squeeze(-1)  # the one output the taps reach
    return y, (window[..., 1:].clone(),)  # the last (k - 1) r inputs, in a tensor of their own
