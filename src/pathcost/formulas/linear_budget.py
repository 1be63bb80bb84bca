"""Beyond the four: the training budget of linear attention and a linear recurrence.

``formulas.budget`` calls these from its branches for ``specs.LinearAttention`` and
``specs.LinearRecurrence``, under the conventions stated there. Sizes: d = d_model,
h = heads, d_k = d / h, f = d_ff, B = batch, D = layers, b = bytes per element of the
half type under autocast; the scan pads n to N = 2^m, m = ceil(log2 n), and runs
2N - m - 2 combines (``formulas.scan.scan_combines``), N / 2 of them on its first level.
"""

from ..specs import LinearAttention, LinearRecurrence
from .linear import require_linear
from .scan import levels, padded, scan_combines

FLOAT32 = 4  # bytes of a float32: the residual stream, LayerNorm statistics under autocast


def block_weight_casts(d: int, e: int, f: int) -> int:
    """Elements of the half weight copies one pre-norm block keeps: d (d + 2e) + d^2 + 2 d f.

    qkv, out and both FFN weights; e = h_kv d_k (a Transformer's K and V width, d for
    linear attention).
    """
    return d * (d + 2 * e) + d * d + 2 * d * f


def block_float32_extra(P: int, d: int, size: int) -> int:
    """Bytes one pre-norm block keeps float32 under autocast beyond b = `size`, P positions:
    the residual stream into both LayerNorms and their statistics, (2Pd + 4P)(4 - b)."""
    return (2 * P * d + 4 * P) * (FLOAT32 - size)


def block_largest_parameter(d: int, e: int, f: int) -> int:
    """Elements of a pre-norm block's largest weight: d max(d + 2e, f), qkv or an FFN's."""
    return d * max(d + 2 * e, f)


def parameter_tensors(spec) -> int:
    """Parameter tensors of ``models.build(spec)``: 12 D (linear attention) or 5 D.

    Derived in "Beyond the four". LinearAttention: qkv, out and the two FFN linears,
    weight and bias each, and two LayerNorms, weight and bias each (a Transformer block's
    12); LinearRecurrence: input and out, weight and bias each, and the decay logits λ.
    """
    require_linear(spec)
    return spec.layers * (12 if isinstance(spec, LinearAttention) else 5)


def weight_casts(spec) -> int:
    """Elements of the half weight copies backward keeps: D (4d^2 + 2 d f) or (2D - 1) d^2.

    Derived in "Beyond the four", measured with ``measure.memory.saved_bytes`` under
    ``torch.autocast``. LinearAttention: qkv, out and both FFN weights of every block (a
    LayerNorm's output needs a gradient); LinearRecurrence: out's weight in every layer
    and input's from the second on (the first layer's input, the batch, needs none).
    The decay logits are not cast: sigmoid runs in float32.
    """
    require_linear(spec)
    d, D = spec.d_model, spec.layers
    if isinstance(spec, LinearAttention):
        return D * block_weight_casts(d, d, spec.d_ff)
    return (2 * D - 1) * d * d


def float32_extra_bytes(spec, n: int, batch: int, size: int) -> int:
    """Bytes autocast saves beyond the half-precision count and the weight casts.

    Derived in "Beyond the four", measured under ``torch.autocast`` on the CPU, b = `size`.
    LinearAttention: the float32 residual stream into both LayerNorms and their statistics,
    D (2 B n d + 4 B n)(4 - b), as a Transformer. LinearRecurrence: a = sigmoid(λ) is
    float32, and so is every state after the first transfer (a float32 ⊙ a half state
    promotes): the loop D (d + (n - 1) B d)(4 - b) (h_(-1) = 0 is half); the scan
    D (m' d + (2N - m - 2 - N / 2) B d)(4 - b), m' = max(m, 1): the powers a^(2^v) and the
    prefixes cloned after the first level (out keeps the half cast of the n states).
    """
    require_linear(spec)
    B, d, D, wide = batch, spec.d_model, spec.layers, FLOAT32 - size
    if isinstance(spec, LinearAttention):
        return D * block_float32_extra(B * n, d, size)
    if not spec.scan:
        return D * (d + (n - 1) * B * d) * wide
    m = levels(n)
    first_level = padded(n) // 2  # combines of half states, before any float32 power
    return D * (max(m, 1) * d + (scan_combines(n) - first_level) * B * d) * wide


def largest_parameter(spec) -> int:
    """Elements of the largest parameter tensor: d max(3d, f) (qkv or an FFN weight) or d^2.

    Derived in "Beyond the four": Adam's for-loop makes two temporaries its size.
    """
    require_linear(spec)
    d = spec.d_model
    return block_largest_parameter(d, d, spec.d_ff) if isinstance(spec, LinearAttention) else d * d


def transients(spec, n: int, batch: int, size: int,
               mixed: bool = False) -> tuple[int, int, int, int]:
    """The temporaries M_1, M_2, M_3 of ``budget._transients``, and the saved bytes a layer
    makes after its own peak, for linear attention or a linear recurrence.

    Derived in "Beyond the four"; NB: read off the allocator's events on the CPU, in bytes
    of u = B n d b and T = B n d (d_k + 1) b (the prefix sums S and z). Linear attention
    peaks at its prefix sums: forward, the outer products and their cumsum, 2T + u (or
    the forward's end, two activations past the block's later saved bytes); backward,
    cumsum's backward, flip(cumsum(flip(dS))), holds four T and two activations, once
    read's backward has freed S, φ(Q) and the block's later saved bytes,
    B n (d d_k + 6d + h + 2 + 2f) b; the first block, at the backward's end, still holds
    what it saved before them, B n (9d + h + 2) b (exp's outputs in the feature map
    included). The loop as an RNN: 2u, u, 2u. The scan peaks at four padded states,
    4U = 4 B N d b' (b' = 4 under autocast, `mixed`: the states are float32), and, for
    N > n, the n states copied out of them, u': forward, backward and when a checkpointed
    layer is recomputed, before out's input and GELU's, 2u, exist or after they are freed.
    """
    require_linear(spec)
    B, d = batch, spec.d_model
    u = B * n * d * size
    if isinstance(spec, LinearRecurrence):
        if not spec.scan:
            return 2 * u, u, 2 * u, 0
        N, wide = padded(n), FLOAT32 if mixed else size
        scan = 4 * B * N * d * wide + (B * n * d * wide if N > n else 0)
        return scan, scan, scan, 2 * u
    h, f, P = spec.heads, spec.d_ff, B * n
    T = P * d * (spec.d_head + 1) * size
    a_post = P * (d * spec.d_head + 6 * d + h + 2 + 2 * f) * size
    t_b = 4 * T + 2 * u
    first = P * (9 * d + h + 2) * size  # what the first block still holds at its cumsum
    return max(2 * T + u, a_post + 2 * u), t_b, max(2 * u, t_b + first), a_post
