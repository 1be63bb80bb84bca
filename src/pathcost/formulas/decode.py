"""Inference with a cache: what a decoder keeps between tokens and what one token costs.

Conventions (stated once, used by every function here, by ``costs.kv_cache_bytes`` and by
``pathcost.decoding``, which runs them):

- Decoding generates positions 0, 1, 2, ... one at a time. "After n tokens" means positions
  0 ... n - 1 are decoded and held in the state; the next token is at position n. So n
  does not include the new token: ``decode_step_flops(spec, n)`` is the step that makes
  position n, and n = 0 is the first step, from the initial state.
- Only causal specs decode: RNN, LSTM, a causal CNN, a causal Transformer, LinearAttention
  and LinearRecurrence (always causal; a decoder steps the recurrence, scan or not). A centred CNN
  or a non-causal Transformer reads later positions and is refused (ValueError). So is
  every Hybrid: its token needs all s of its positions before the body can step, and
  even at s = 1 no decoder of ``pathcost.decoding`` runs it to measure the formulas.
- Full attention: query n reads keys 0 ... n, so the cache keeps all n rows of K and V
  per layer (and the step reads n + 1 keys, its own included).
- A window of radius w keeps the convention of ``costs.window_blocks`` and
  ``models.window_mask``: query t reads the key at t - Δ for Δ = 0 ... w, the keys
  t - w ... t. Query n reads cached keys n - w ... n - 1 and its own, so the cache keeps the
  last m = min(n, w) rows (a step reads m + 1 keys) and drops a row as soon as no later
  query can read it.
- K and V have h_kv = kv_heads heads of d_k each (h_kv d_k wide; d without kv_heads); a
  recurrence keeps h(n - 1) per layer (RNN) or h(n - 1) and c(n - 1) (LSTM), each (B, d); a
  causal CNN layer l of kernel width k and dilation δ_l keeps its last (k - 1) δ_l inputs,
  (B, d, (k - 1) δ_l), zeros before position 0 (the left padding of the full forward pass);
  a linear-attention layer keeps its prefix sums S and z, (B, h, d_k, d_k + 1), and a linear
  recurrent layer its h(n - 1), (B, d): neither grows with n, and neither is a KV cache.
- FLOPs count matrix products and convolutions, 2 per multiply-accumulate, as
  ``costs.forward_flops`` does; bytes are exact ints for a floating torch dtype.
- Sequential steps are counted in layer or cell applications, as ``paths.sequential_steps``.
"""

import torch

from ..checks import require_non_negative, require_positive
from ..registry import require_spec
from ..specs import LSTM, RNN, Hybrid, Transformer
from . import linear
from .costs import forward_flops_by_component, itemsize, kv_cache_bytes, kv_cache_rows


def decodes(spec) -> bool:
    """True when `spec` decodes one token at a time (``require_decoder`` would accept it)."""
    require_spec(spec)
    return spec.causal and not isinstance(spec, Hybrid)


def require_decoder(spec) -> None:
    """Raise ValueError (naming spec) unless `spec` is one of the book's causal architectures.

    A Hybrid is refused by name, causal or not (the module docstring says why).
    """
    require_spec(spec)
    if isinstance(spec, Hybrid):
        raise ValueError(
            "spec must not be a Hybrid to decode one token at a time (a token waits for all "
            f"s of its positions, and no decoder runs a Hybrid); got {spec!r}"
        )
    if not spec.causal:
        raise ValueError(f"spec must be causal to decode one token at a time, got {spec!r}")


def decode_state_bytes(spec, n: int, batch: int = 1, dtype=torch.float16) -> int:
    """Bytes a decoder keeps between tokens after n tokens, every layer summed.

    Derived in "Inference and memory traffic". With D layers and b = bytes(dtype) per
    element: Transformer: the KV cache, 2 D B m h_kv d_k b (``costs.kv_cache_bytes``);
    RNN: D B d b; LSTM: 2 D B d b; causal CNN: B d (k - 1) Σ δ_l b;
    LinearAttention: D B h d_k (d_k + 1) b; LinearRecurrence: D B d b (``linear.state_elements``).
    Only the cache grows with n; the others are the same after every token.
    """
    require_decoder(spec)
    require_non_negative(n=n)
    require_positive(batch=batch)
    if isinstance(spec, Transformer):
        return kv_cache_bytes(spec, n, batch, dtype)
    size, B, d = itemsize(dtype), batch, spec.d_model
    if isinstance(spec, linear.SPECS):
        return linear.state_elements(spec, batch) * size
    if isinstance(spec, (RNN, LSTM)):
        tensors = 1 if isinstance(spec, RNN) else 2
        return tensors * spec.layers * B * d * size
    return B * d * (spec.kernel - 1) * sum(spec.dilation_schedule) * size


def decode_step_flops(spec, n: int, batch: int = 1) -> int:
    """FLOPs of decoding the token at position n, after n tokens, every layer summed.

    Derived in "Inference and memory traffic". RNN, LSTM, CNN: one position of the forward
    pass, ``forward_flops(spec, 1, batch)``. Transformer, per layer:
    2 B d (d + 2 h_kv d_k) + 2 B d^2 + 4 B d f (qkv, out, ffn at one position) + 2 * 2 B (m + 1) d
    (scores and values over the m cached keys and its own, all heads: h d_k = d).
    LinearAttention: qkv + kv + read + out + ffn at one position; LinearRecurrence: input +
    one transfer (2 B d) + out per layer, scan or not (``linear.step_flops``).
    """
    require_decoder(spec)
    require_non_negative(n=n)
    require_positive(batch=batch)
    if isinstance(spec, linear.SPECS):
        return linear.step_flops(spec, batch)
    one_position = forward_flops_by_component(spec, 1, batch)
    if not isinstance(spec, Transformer):
        return sum(one_position.values())
    keys = kv_cache_rows(spec, n) + 1
    attention = spec.layers * 2 * 2 * batch * keys * spec.d_model
    return one_position["qkv"] + one_position["out"] + one_position["ffn"] + attention


def generation_steps(spec, n: int) -> int:
    """Sequential steps of generating n tokens, each output the next input: S = n D.

    Derived in "Inference and memory traffic". Token t + 1 cannot start before token t has
    left the last layer, so every architecture pays all its D = ``layers`` layers once per
    token: the forward pass's S = D (CNN, Transformer, LinearAttention) or n + D - 1 (RNN,
    LSTM, the LinearRecurrence loop) becomes n D for every architecture that decodes.
    """
    require_decoder(spec)
    require_positive(n=n)
    return n * spec.layers
