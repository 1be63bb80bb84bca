"""Axis 2, resource complexity: FLOPs, parameters and bytes as n grows. Pure arithmetic.

Conventions (stated once, used by every function):

- FLOPs count matrix products and convolutions only, 2 per multiply-accumulate, exactly as
  ``torch.utils.flop_counter.FlopCounterMode`` does; elementwise work (softmax, gates,
  norms, biases) is not counted. Every count is for one forward pass of ``models.build``.
- Sizes are d = d_model, h = heads, d_k = d / h, f = d_ff, k = kernel, B = batch,
  D = layers; h_kv = kv_heads (h when None) heads of K and V, so K and V are h_kv d_k wide
  (d for multi-head attention).
- A dtype is a torch floating dtype; bytes are exact Python ints.
- Windowed attention (radius w < n) is computed in blocks (``window_blocks``), which is
  what makes its cost O(n w); with w >= n it is full attention.
- A Hybrid (stride s) is its strided convolution over n_pad = s ceil(n / s) positions,
  plus its body `then` at ceil(n / s) tokens (``downsampled_length``): every cost of
  `then` applies at that length unchanged (``downsampling.Upsampled`` hands the body a
  contiguous (B, ceil(n / s), d) input); repeating the token outputs back to n costs no
  FLOPs and saves nothing.
- LinearAttention and LinearRecurrence ("Beyond the four") are priced in ``formulas.linear``.
"""

import math

import torch

from ..checks import require_choice, require_non_negative, require_positive, require_real
from ..registry import ATTENTION_KERNELS, DTYPES, require_spec
from ..specs import CNN, LSTM, RNN, Hybrid, Transformer
from . import linear


def itemsize(dtype) -> int:
    """Bytes of one element of a floating torch dtype."""
    require_choice("dtype", dtype, DTYPES.values())
    return dtype.itemsize


def window_blocks(n: int, window: int, causal: bool) -> tuple[int, int]:
    """Blocked local attention: (query blocks of w positions, keys each block scores).

    Derived in "Cutting the n^2". Queries are cut into ceil(n / w) blocks of w (n padded
    up); a block scores the 2w keys of the block before it and itself (causal) or 3w
    (before, itself, after), and a mask keeps exactly ``|query - key| <= w``.
    """
    require_positive(n=n, window=window)
    return -(-n // window), (2 if causal else 3) * window


def _attention_shape(spec: Transformer, n: int) -> tuple[int, int, int]:
    """(blocks, queries per block, keys per block) of one attention layer at length n."""
    if spec.window is None or spec.window >= n:
        return 1, n, n
    blocks, keys = window_blocks(n, spec.window, spec.causal)
    return blocks, spec.window, keys


def _kv_width(spec: Transformer) -> int:
    """h_kv d_k: the width of K (and of V) in one layer."""
    return spec.key_value_heads * spec.d_head


def forward_flops_by_component(spec, n: int, batch: int = 1) -> dict[str, int]:
    """Forward FLOPs by component, named like the submodules of ``models.build(spec)``.

    Derived in "Counting compute". Per layer: input = recurrent = 2 B n d^2 (RNN) or
    2 B n d (4d) (LSTM, four gate blocks); conv = 2 B n d^2 k;
    qkv = 2 B n d (d + 2 h_kv d_k), out = 2 B n d^2, ffn = 2 * 2 B n d f,
    scores = values = 2 B n^2 d for full attention (d = h d_k: all heads together), or
    2 B ceil(n/w) w (2w or 3w) d with a window of radius w < n.
    Hybrid: conv = 2 B ceil(n / s) d^2 s (its strided convolution) + then's components at
    ceil(n / s) tokens (a CNN body's own conv adds to it: the same submodule name).
    LinearAttention (qkv, kv, read, out, ffn), LinearRecurrence (input, recurrent, out):
    ``linear.forward_flops_by_component``.
    """
    require_spec(spec)
    require_positive(n=n, batch=batch)
    if isinstance(spec, linear.SPECS):
        return linear.forward_flops_by_component(spec, n, batch)
    if isinstance(spec, Hybrid):
        short = downsampled_length(n, spec.stride)
        components = forward_flops_by_component(spec.then, short, batch)
        front = _front_end_flops(spec.d_model, short, spec.stride, batch)
        return {"conv": front + components.pop("conv", 0), **components}
    B, d, L = batch, spec.d_model, spec.layers
    if isinstance(spec, (RNN, LSTM)):
        gates = 1 if isinstance(spec, RNN) else 4
        product = L * 2 * B * n * d * gates * d
        return {"input": product, "recurrent": product}
    if isinstance(spec, CNN):
        return {"conv": L * 2 * B * n * d * d * spec.kernel}
    blocks, queries, keys = _attention_shape(spec, n)
    pairs = L * 2 * B * blocks * queries * keys * d
    return {
        "qkv": L * 2 * B * n * d * (d + 2 * _kv_width(spec)),
        "scores": pairs,
        "values": pairs,
        "out": L * 2 * B * n * d * d,
        "ffn": L * 2 * 2 * B * n * d * spec.d_ff,
    }


def forward_flops(spec, n: int, batch: int = 1) -> int:
    """Forward FLOPs of ``models.build(spec)`` on (batch, n, d_model): the components summed.

    Derived in "Counting compute". Over D layers: RNN 4 B D n d^2, LSTM 16 B D n d^2,
    CNN 2 B D n k d^2, Transformer B D (8 n d^2 + 4 n d f + 4 n^2 d) with full attention,
    LinearAttention B D (8 n d^2 + 4 n d f + 4 n d (d_k + 1)), LinearRecurrence
    B D (4 n d^2 + 2 d c), c = n transfers (loop) or 2N - m - 2 combines (scan, N = 2^m).
    """
    return sum(forward_flops_by_component(spec, n, batch).values())


def params(spec) -> int:
    """Trainable parameters of ``models.build(spec)``.

    Derived in "Counting compute". Per layer: RNN 2d^2 + d, LSTM 8d^2 + 4d, CNN k d^2 + d,
    Transformer 2d^2 + 2 d h_kv d_k + 2 d f + 7d + 2 h_kv d_k + f (projections, FFN,
    biases, two LayerNorms), which is 4d^2 + 2 d f + 9d + f for multi-head attention
    (h_kv d_k = d).
    Hybrid: s d^2 + d (its strided convolution) + params(then).
    LinearAttention and LinearRecurrence: ``linear.params``.
    """
    require_spec(spec)
    if isinstance(spec, linear.SPECS):
        return linear.params(spec)
    d = spec.d_model
    if isinstance(spec, Hybrid):
        return spec.stride * d * d + d + params(spec.then)
    if isinstance(spec, RNN):
        per_layer = 2 * d * d + d
    elif isinstance(spec, LSTM):
        per_layer = 8 * d * d + 4 * d
    elif isinstance(spec, CNN):
        per_layer = spec.kernel * d * d + d
    else:
        e = _kv_width(spec)
        per_layer = 2 * d * d + 2 * d * e + 2 * d * spec.d_ff + 7 * d + 2 * e + spec.d_ff
    return spec.layers * per_layer


def attention_weights_bytes(n: int, heads: int, batch: int = 1, dtype=torch.float16) -> int:
    """Bytes of one layer's attention weights softmax(QK^T): B * h * n^2 * bytes(dtype).

    Derived in "Memory". Counts the softmax output only (not Q, K, V or the scores before
    softmax); a fused kernel never materialises it.
    """
    require_positive(n=n, heads=heads, batch=batch)
    return batch * heads * n * n * itemsize(dtype)


def activation_bytes(
    spec, n: int, batch: int = 1, dtype=torch.float32, attention: str = "explicit"
) -> int:
    """Bytes autograd saves for backward in one training forward of ``models.build(spec)``.

    Derived in "Memory". Elements per layer: RNN B d (2n + 1); LSTM B d (8n - 1);
    CNN B d (2n + (k - 1) δ_l) for layer l of dilation δ_l;
    Transformer (6d + 2 h_kv d_k) B n + 4Bn + 2Bnf (8Bnd + ...
    for multi-head attention) + the attention core: B h n^2 weights (explicit; Q, K, V count
    in the first term, as qkv's output or, grouped, as copies) or, for the fused CPU
    kernel ("sdpa"), a float32 log-sum-exp of B h n. NB: measured on CPU; LayerNorm keeps
    its statistics in the activation dtype there (CUDA keeps float32); a windowed layer
    saves its Q, K, V blocks and B h ceil(n/w) w (2w or 3w) weights with either kernel, in
    float32 for half types under "sdpa" (PyTorch's math fallback upcasts).
    Hybrid: B d n_pad (the padded input its convolution keeps, n_pad = s ceil(n / s)) +
    activation_bytes(then, ceil(n / s)).
    LinearAttention, LinearRecurrence: ``linear.saved_elements`` b (`attention` does not apply).
    """
    require_spec(spec)
    require_positive(n=n, batch=batch)
    require_choice("attention", attention, ATTENTION_KERNELS)
    size, B, d, L = itemsize(dtype), batch, spec.d_model, spec.layers
    if isinstance(spec, linear.SPECS):
        return linear.saved_elements(spec, n, batch) * size
    if isinstance(spec, Hybrid):
        short = downsampled_length(n, spec.stride)
        body = activation_bytes(spec.then, short, batch, dtype, attention)
        return B * d * short * spec.stride * size + body
    if isinstance(spec, RNN):
        return L * B * d * (2 * n + 1) * size
    if isinstance(spec, LSTM):
        return L * B * d * (8 * n - 1) * size
    if isinstance(spec, CNN):
        pads = (spec.kernel - 1) * sum(spec.dilation_schedule)
        return B * d * (2 * n * L + pads) * size
    norms = 2 * (B * n * d + 2 * B * n)  # inputs, means and reciprocal deviations
    ffn = B * n * d + 2 * B * n * spec.d_ff  # input, GELU input, GELU output
    blocks, queries, keys = _attention_shape(spec, n)
    e = _kv_width(spec)
    if attention == "sdpa" and blocks == 1:  # fused: q, k, v share qkv's output; output; lse
        core = (B * n * d + B * n * (d + 2 * e) + B * n * d) * size + B * spec.heads * n * 4
    else:  # Q, K, V copies and weights, between the qkv and output projections' inputs
        blocked = B * blocks * (queries * d + 2 * keys * e)
        blocked += B * spec.heads * blocks * queries * keys
        # NB: sdpa on 5-D blocks runs PyTorch's math fallback, which computes half types in float32
        core_size = max(size, 4) if attention == "sdpa" else size
        core = 2 * B * n * d * size + blocked * core_size
    return L * ((norms + ffn) * size + core)


def korthikanti_activation_bytes(spec, n: int, batch: int = 1) -> int:
    """The published estimate of a Transformer's training activations: n B d (34 + 5 h n / d).

    Korthikanti et al. 2022, per layer, summed over the D layers. In the paper's own letters
    it is s b h (34 + 5 a s / h), with s = n, b = B (batch), h = d (d_model) and a = h
    (heads). It assumes 16-bit activations, 1-byte dropout masks, d_ff = 4d and a
    materialised softmax; "Memory" sets it beside ``activation_bytes`` and explains each gap.
    """
    require_spec(spec)
    require_positive(n=n, batch=batch)
    if not isinstance(spec, Transformer):
        raise ValueError(f"spec must be a Transformer for this estimate, got {spec!r}")
    s, b, h, a = n, batch, spec.d_model, spec.heads
    return spec.layers * (34 * s * b * h + 5 * a * s * s * b)


def kv_cache_rows(spec, n: int) -> int:
    """Rows of K (and of V) per layer a decoder keeps after n tokens: m = n, or min(n, w).

    Derived in "Inference and memory traffic", under the decoding conventions stated once
    in ``formulas.decode``: the cache keeps the rows the next query can read.
    """
    require_spec(spec)
    require_non_negative(n=n)
    if not isinstance(spec, Transformer) or not spec.causal:
        raise ValueError(f"spec must be a causal Transformer to have a KV cache, got {spec!r}")
    return n if spec.window is None else min(n, spec.window)


def kv_cache_bytes(spec, n: int, batch: int = 1, dtype=torch.float16) -> int:
    """Bytes of a decoder's KV cache after n tokens: K and V in every layer.

    Derived in "Memory". 2 D B m h_kv d_k b bytes, with D = ``layers``, h_kv d_k = d for
    multi-head attention, b = bytes(dtype) per element and m = ``kv_cache_rows(spec, n)``:
    n, or min(n, w) with a window of radius w.
    """
    kept = kv_cache_rows(spec, n)
    require_positive(batch=batch)
    return 2 * spec.layers * batch * kept * _kv_width(spec) * itemsize(dtype)


def weights_max_seq_len(
    budget_bytes: int, heads: int, batch: int = 1, dtype=torch.float16, overhead: float = 1.0
) -> int:
    """Largest n whose attention weights, times `overhead`, fit in budget_bytes.

    Derived in "Memory". n_max = floor(sqrt(M / (o B h b))), with M = `budget_bytes`,
    o = `overhead` and b = bytes(dtype) per element, checked exactly: n_max fits and
    n_max + 1 does not.
    """
    require_positive(budget_bytes=budget_bytes, heads=heads, batch=batch)
    require_real("overhead", overhead, low=0, low_open=True)

    def fits(n: int) -> bool:
        return attention_weights_bytes(n, heads, batch, dtype) * overhead <= budget_bytes

    if not fits(1):
        need = math.ceil(attention_weights_bytes(1, heads, batch, dtype) * overhead)
        raise ValueError(f"budget_bytes must be at least {need} to fit n = 1, got {budget_bytes}")
    n = math.isqrt(int(budget_bytes / (overhead * batch * heads * itemsize(dtype))))
    while not fits(n):  # the float division may overshoot by one
        n -= 1
    while fits(n + 1):
        n += 1
    return n


def attention_ffn_crossover(spec) -> int | float:
    """Smallest n at which the attention products (QK^T and AV) cost strictly more than the FFN.

    Derived in "Counting compute". Full attention: 4 B n^2 d > 4 B n d f, so n = f + 1.
    A window w < n makes both sides linear in n; the blocks' padding makes the first
    windowed length, n = w + 1, the most favourable to attention, so if attention does
    not win there (or at n <= w, where attention is full) it never does: ``math.inf``.
    """
    require_spec(spec)
    if not isinstance(spec, Transformer):
        raise ValueError(f"spec must be a Transformer to have attention, got {spec!r}")
    if spec.window is None or spec.d_ff + 1 <= spec.window:
        return spec.d_ff + 1
    first_windowed = spec.window + 1
    parts = forward_flops_by_component(spec, first_windowed)
    if parts["scores"] + parts["values"] > parts["ffn"]:
        return first_windowed
    return math.inf


def downsampled_length(n: int, stride: int) -> int:
    """Tokens left after merging every `stride` positions into one: ceil(n / s).

    Derived in "Cutting the n^2". The sequence is padded up to n_pad = s * ceil(n / s)
    positions first, so the last token may hold fewer than s real positions.
    """
    require_positive(n=n, stride=stride)
    return -(-n // stride)


def downsampled_forward_flops(spec, n: int, stride: int, batch: int = 1) -> int:
    """Forward FLOPs of ``downsampling.downsampled(spec, stride)`` on (batch, n, d_model).

    Derived in "Cutting the n^2": 2 B (n_pad / s) d^2 s for the strided convolution
    (kernel = stride = s, d channels in and out) + forward_flops(spec, n_pad / s), with
    n_pad / s = ceil(n / s). The attention products of a full-attention spec shrink by s^2.
    The same count as ``forward_flops(Hybrid(stride, spec), n)``: repeating the tokens'
    outputs back to n positions costs nothing.
    """
    require_spec(spec)
    short = downsampled_length(n, stride)  # validates n and stride
    require_positive(batch=batch)
    return _front_end_flops(spec.d_model, short, stride, batch) + forward_flops(spec, short, batch)


def _front_end_flops(d: int, tokens: int, stride: int, batch: int) -> int:
    """The strided convolution's 2 B (n_pad / s) d^2 s FLOPs, with `tokens` = n_pad / s."""
    return 2 * batch * tokens * d * d * stride
