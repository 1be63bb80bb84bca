"""Memory traffic: the bytes a forward pass, a prefill or one decoding step moves.

Conventions (stated once, used by every function here, and by ``measure.traffic``):

- Phases. "forward": one training forward of ``models.build(spec)`` on (B, n, d), autograd
  on (no backward counted); "prefill": the same forward under ``torch.no_grad`` for a
  causal spec, whose K and V rows (views of each block's qkv output) are the cache;
  "decode": one ``decoding.Decoder.step`` after n cached tokens (``formulas.decode``).
- Counts. "unfused": every aten operation eager PyTorch runs reads each tensor input and
  writes each tensor output once, counted by its logical size (numel * b, with b the bytes
  per element); views (view, transpose, expand, slice, split, unbind, unfold, ..., and
  ``_unsafe_view``) move nothing; ``new_zeros`` and the like write their output only; Python
  numbers move nothing. "ideal": the lower bound with nothing in between: the weights read
  once, the input read and the output written once, plus the state after n tokens written
  once (prefill) or the cached state read once (decode).
- Transformers are counted with attention="explicit" (the sdpa kernel is not counted).
  LayerNorm writes its mean and rstd in the accumulation type (float32 for 16-bit
  dtypes); sinusoidal positions are computed in float32 and then cast to dtype.
- A window of radius w < n runs blocked local attention (``costs.window_blocks``); its mask
  is built from int64 positions and bool tests, each counted by its own itemsize.
- A Hybrid has a forward phase only (``formulas.decode`` refuses it a prefill and a
  decode): its front-end and upsampling around its body's forward at n_pad / s = ceil(n / s)
  tokens.
- LinearAttention and LinearRecurrence (scan or loop): ``formulas.linear_traffic``, the
  same counts, positions as a Transformer's; their decode state (S and z, or h) is the same
  size after every token.
"""

import torch

from ..checks import require_choice, require_non_negative, require_positive
from ..registry import require_spec
from ..specs import CNN, LSTM, RNN, Hybrid, LinearAttention, LinearRecurrence, Transformer
from .costs import (
    downsampled_length,
    forward_flops,
    itemsize,
    kv_cache_rows,
    params,
    window_blocks,
)
from .decode import decode_state_bytes, decode_step_flops, require_decoder
from .linear_traffic import block_bytes, linear_attention_bytes, linear_recurrence_bytes

PHASES = ("forward", "prefill", "decode")
COUNTS = ("unfused", "ideal")


def _recurrent(spec, n: int, B: int, s: int, decode: bool) -> int:
    """Unfused bytes of an RNN or LSTM: addmm over all n, then one mm and a cell per step."""
    d = spec.d_model
    G = (1 if isinstance(spec, RNN) else 4) * d  # width of the gate pre-activations
    cell = 5 * B * d if isinstance(spec, RNN) else 34 * B * d  # adds, gates, products
    steps = 1 if decode else n
    elements = (B * steps * d + G * d + G + B * steps * G)  # input addmm (W_x, b)
    elements += steps * (B * d + G * d + B * G + cell)  # recurrent mm, then the cell
    if not decode:
        elements += B * d + 2 * B * n * d  # new_zeros h_0 (c_0 is the same tensor), stack
    return spec.layers * elements * s


def _conv(spec: CNN, n: int, B: int, s: int, decode: bool) -> int:
    """Unfused bytes of a CNN: pad (or the buffer's cat), convolution, GELU (, clone)."""
    d, k, total = spec.d_model, spec.kernel, 0
    for r in spec.dilation_schedule:
        span = (k - 1) * r
        if decode:  # cat(buffer, x), conv over span + 1, gelu, clone of the last span
            total += 2 * B * d * (span + 1) + B * d * (span + 1) + d * d * k + d + B * d
            total += 2 * B * d + 2 * B * d * span
        else:  # constant_pad_nd, convolution over n + span, gelu
            total += B * d * (2 * n + span) + B * d * (n + span) + d * d * k + d + B * d * n
            total += 2 * B * d * n
    return total * s


def _positions(spec, n: int, B: int, s: int, decode: bool) -> int:
    """Bytes of building the sinusoidal encoding of P positions (float32, cast to dtype)
    and adding it, 0 for a spec without positions (a Transformer or linear attention).

    Forward: P = n, and what is added is B n d plus n d; decode: P = n + 1, B d plus d (the
    one row decoded).
    """
    if not spec.positional:
        return 0
    d = spec.d_model
    P, added = (n + 1, 1) if decode else (n, n)  # positions built, rows added
    rows = 2 * B * added * d + added * d
    half = d // 2
    f32 = 4 * P + 8 * half + (8 + 4) * half + 2 * 4 * half  # arange, arange, mul, exp
    f32 += 4 * (P + half + P * half) + 2 * 2 * 4 * P * half + 2 * 4 * P * d  # outer, sin, cos
    cast = (4 * P * d + s * P * d) if s != 4 else 0  # NB: float32 to float32 moves nothing
    return f32 + cast + rows * s


def _transformer_step(spec: Transformer, n: int, B: int, s: int) -> int:
    """Unfused bytes of one Decoder.step after n tokens: every layer, positions included."""
    d, f, h, hkv = spec.d_model, spec.d_ff, spec.heads, spec.key_value_heads
    e = hkv * spec.d_head
    r = kv_cache_rows(spec, n) + 1  # keys the query reads, its own included
    el = 2 * 2 * B * r * e  # cat the new K and V rows to the cache
    el += 2 * B * d if B > 1 and hkv > 1 else 0  # matmul copies q (a strided view) first
    el += (B * d + B * r * e + B * h * r) + 3 * 2 * B * h * r  # Q K^T, / sqrt(d_k), + 0, softmax
    el += B * h * r + B * r * e + B * d  # A V
    if spec.window is not None and r > spec.window:
        el += 2 * 2 * B * spec.window * e  # keep the last w rows, cloned
    block = block_bytes(B, d, e, f, s)  # LayerNorms, qkv, out, residual adds, FFN
    return spec.layers * (block + el * s) + _positions(spec, n, B, s, True)


def _window_mask(n: int, w: int, causal: bool, s: int) -> int:
    """Bytes of building ``models.window_mask``: int64 positions, bool tests, a b-byte fill.

    ceil(n / w) blocks of w queries each score 2w (causal) or 3w keys; the mask has one
    entry per (query, key) pair of the blocks. The fill takes b = `s` bytes per element.
    """
    nb, K = window_blocks(n, w, causal)
    M = nb * w * K
    total = 8 * (nb * w + nb + K) + 2 * 16 * nb  # three aranges, the block starts' mul and sub
    total += 8 * (nb + K + nb * K) + 2 * (8 + 1) * nb * K + 3 * nb * K  # keys, >= 0, < n, &
    total += 8 * (nb * w + nb * K + M) + 16 * M + (8 + 1) * M + nb * K + 2 * M  # |q - k| <= w
    if causal:  # & (key <= query), in place
        total += 8 * (nb * K + nb * w) + M + 3 * M
    return total + s * M + 2 * M + (2 * s + 1) * M  # zeros, ~seen, masked_fill


def _local_attention(spec: Transformer, n: int, B: int, s: int) -> int:
    """Unfused bytes of one layer's blocked local attention (w < n), mask included.

    Queries are padded to ceil(n / w) w rows, K and V to their blocks and unfolded (a
    view); each block scores 2w (causal) or 3w keys, so the scores have
    B h ceil(n / w) w (2w or 3w) entries. matmul copies the unfolded K and V (overlapping
    windows have no batched view) unless B h = 1, and Q too when w divides n (nothing
    padded, Q keeps its head-interleaved layout); grouped heads copy Q, K and V themselves.
    With one head the output slice is not contiguous for B > 1, so the out Linear copies it.
    """
    d, h, hkv, w = spec.d_model, spec.heads, spec.key_value_heads, spec.window
    e, g, P = hkv * spec.d_head, spec.group_size, B * n
    nb, K = window_blocks(n, w, spec.causal)
    M, S, Q = nb * w * K, B * h * nb * w * K, B * nb * w * d  # Q: the padded queries
    padded = nb * w + (w if spec.causal else 2 * w)  # K, V rows after padding
    el = P * d + Q + 2 * (P * e + B * padded * e)  # pad q, k, v
    mask = M
    if g > 1:  # contiguous q (g rows per K, V head), K and V; the mask repeated g times
        el += 2 * Q + 2 * 2 * B * nb * K * e + (M + g * M)
        mask = g * M
    else:
        el += 2 * 2 * B * nb * K * e if B * h > 1 else 0  # matmul copies the unfolded K, V
        # with no padding to add, pad keeps q's (B, n, h, d_k) layout, which matmul copies
        el += 2 * Q if h > 1 and nb * w == n else 0
    el += (Q + B * nb * K * e + S) + 2 * S + (2 * S + mask) + 2 * S  # Q K^T, /, + mask, softmax
    el += S + B * nb * K * e + Q  # A V
    el += 2 * Q if g > 1 else 0  # the g query rows back to their heads: a copy
    if h > 1:  # heads back to (B, n, d): a copy
        el += 2 * P * d
    elif B > 1 and nb * w > n:  # one head, padding sliced off: the out Linear copies its
        el += 2 * P * d + 2 * P * d  # input, then runs mm and a bias add instead of addmm
    return el * s + _window_mask(n, w, spec.causal, s)


def _full_attention(spec: Transformer, n: int, B: int, s: int) -> int:
    """Unfused bytes of one layer's full attention over n positions (qkv and out excluded)."""
    d, h, hkv = spec.d_model, spec.heads, spec.key_value_heads
    e, g, P, S = hkv * spec.d_head, spec.group_size, B * n, B * h * n * n  # S: score entries
    el, mask = 0, 0
    if spec.causal:  # full((n, n), -inf).triu(1), repeated g times for grouped heads
        mask = n * n if g == 1 else g * n * n
        el += 3 * n * n + (n * n + g * n * n if g > 1 else 0)
    if g > 1:  # contiguous copies of q (grouped as g rows) and of k, v
        el += 2 * P * d + 2 * 2 * P * e
    elif B > 1 and h > 1:  # matmul's reshape cannot view the strided q, k, v: it copies
        el += 3 * 2 * P * d
    el += (P * d + P * e + S) + 2 * S + (2 * S + mask) + 2 * S  # Q K^T, /, + mask, softmax
    el += S + P * e + P * d  # A V
    el += 2 * P * d if n > 1 and h > 1 else 0  # heads back to (B, n, d): a copy
    return el * s


def _transformer_forward(spec: Transformer, n: int, B: int, s: int) -> int:
    """Unfused bytes of a Transformer forward over n positions, full or blocked local."""
    d, f, e, P = spec.d_model, spec.d_ff, spec.key_value_heads * spec.d_head, B * n
    local = spec.window is not None and spec.window < n
    attention = (_local_attention if local else _full_attention)(spec, n, B, s)
    block = block_bytes(P, d, e, f, s)  # LayerNorms, qkv, out, residual adds, FFN
    return spec.layers * (block + attention) + _positions(spec, n, B, s, False)


def _hybrid_forward(spec: Hybrid, n: int, B: int, s: int) -> int:
    """Unfused bytes of a Hybrid's forward: pad, strided convolution, the tokens made
    contiguous, the body at n_pad / s tokens, the outputs repeated s times (then a slice).

    The contiguous copy happens unless the transposed tokens already are (one token or
    d = 1); the repeat is a copy of the expanded (B, n_pad / s, s, d) outputs unless s = 1 or
    there is one token (a view).
    """
    d, stride = spec.d_model, spec.stride
    m = downsampled_length(n, stride)
    padded = B * d * m * stride
    el = B * n * d + padded  # constant_pad_nd: even a zero pad writes a copy
    el += padded + stride * d * d + d + B * d * m  # convolution: input, weight, bias, tokens
    el += 2 * B * m * d if m > 1 and d > 1 else 0  # contiguous
    el += 2 * padded if stride > 1 and m > 1 else 0  # reshape of the expanded outputs: a clone
    return el * s + _unfused(spec.then, m, B, s, False)


def _unfused(spec, n: int, B: int, s: int, decode: bool) -> int:
    if isinstance(spec, Hybrid):
        return _hybrid_forward(spec, n, B, s)
    if isinstance(spec, (RNN, LSTM)):
        return _recurrent(spec, n, B, s, decode)
    if isinstance(spec, CNN):
        return _conv(spec, n, B, s, decode)
    if isinstance(spec, LinearAttention):
        # positions as a Transformer's: n positions, or the one row decoded
        return linear_attention_bytes(spec, n, B, s, decode) + _positions(spec, n, B, s, decode)
    if isinstance(spec, LinearRecurrence):
        return linear_recurrence_bytes(spec, n, B, s, decode)
    return (_transformer_step if decode else _transformer_forward)(spec, n, B, s)


def _check(spec, n: int, batch: int, dtype, phase: str, count: str) -> int:
    """Validate the workload; return itemsize(dtype)."""
    require_spec(spec)
    require_choice("phase", phase, PHASES)
    require_choice("count", count, COUNTS)
    require_positive(batch=batch)
    if phase == "decode":
        require_non_negative(n=n)
    else:
        require_positive(n=n)
    if phase != "forward":
        require_decoder(spec)
    return itemsize(dtype)


def bytes_moved(spec, n: int, batch: int = 1, dtype=torch.float32, phase: str = "forward",
                count: str = "unfused") -> int:
    """Bytes moved to and from memory by one phase of ``models.build(spec)``, every layer.

    Derived in "Inference and memory traffic". With b = bytes(dtype) per element: unfused:
    sum over the aten ops eager PyTorch runs of bytes(inputs) + bytes(outputs), views 0;
    ideal: bytes(weights) + B n d b (in) + B n d b (out) [+ state after n tokens, prefill]
    or bytes(weights) + bytes(state after n) + 2 B d b (decode). n: positions (forward,
    prefill) or cached tokens (decode). A Hybrid of stride s, forward only, with
    n_pad = s ceil(n / s) and n_pad / s tokens: unfused, B n d + 2 B d n_pad + s d^2 + d +
    B d n_pad / s, + 2 B d n_pad / s (contiguous tokens, more than one token and d > 1)
    + 2 B d n_pad (the repeat, s > 1 and more than one token), times b bytes, + the body's
    unfused bytes at n_pad / s tokens; ideal as above. LinearAttention, LinearRecurrence:
    ``linear_traffic.linear_attention_bytes`` and ``linear_recurrence_bytes``.
    """
    s = _check(spec, n, batch, dtype, phase, count)
    if count == "unfused":
        return _unfused(spec, n, batch, s, phase == "decode")
    weights, d = params(spec) * s, spec.d_model
    if phase == "decode":
        return weights + decode_state_bytes(spec, n, batch, dtype) + 2 * batch * d * s
    state = decode_state_bytes(spec, n, batch, dtype) if phase == "prefill" else 0
    return weights + 2 * batch * n * d * s + state


def arithmetic_intensity(spec, n: int, batch: int = 1, dtype=torch.float32,
                         phase: str = "forward", count: str = "unfused") -> float:
    """FLOPs per byte moved, I = F / M_moved (M_moved = ``bytes_moved``), of one phase.

    Derived in "Inference and memory traffic". FLOPs are ``costs.forward_flops(spec, n,
    batch)`` (forward, prefill) or ``decode.decode_step_flops(spec, n, batch)`` (decode).
    """
    moved = bytes_moved(spec, n, batch, dtype, phase, count)
    if phase == "decode":
        return decode_step_flops(spec, n, batch) / moved
    return forward_flops(spec, n, batch) / moved
