"""Beyond the four: the bytes linear attention and a linear recurrence move, unfused.

The unfused count of ``formulas.traffic`` (every aten operation reads its tensor inputs
and writes its outputs once, views move nothing) for ``specs.LinearAttention`` and
``specs.LinearRecurrence``, in elements of b bytes; ``traffic.bytes_moved`` dispatches
here. Sizes: d = d_model, h = heads, d_k = d / h, f = d_ff, B = batch, P = B n positions,
D = layers; T = P h d_k (d_k + 1) = P d (d_k + 1) entries of the states S_t and z_t side
by side (``linear.LinearSelfAttention``).
"""

from ..specs import LinearAttention, LinearRecurrence
from .scan import levels, padded


def block_bytes(P: int, d: int, e: int, f: int, size: int) -> int:
    """Unfused bytes of a pre-norm block outside its attention, over P positions.

    Two LayerNorms 2 (2Pd + 2d) b + 2 (2P) max(b, 4) (mean and rstd); qkv (addmm)
    Pd + d (d + 2e) + (d + 2e) + P (d + 2e); out (addmm) and two residual adds
    2Pd + d^2 + d + 6Pd; the FFN Pd + df + f + Pf + 2Pf + Pf + fd + d + Pd. e = h_kv d_k: a
    Transformer's K and V width, d for linear attention; b = `size`.
    """
    el = 2 * (2 * P * d + 2 * d)  # two LayerNorms (their mean and rstd below)
    el += P * d + d * (d + 2 * e) + (d + 2 * e) + P * (d + 2 * e)  # qkv addmm
    el += 2 * P * d + d * d + d + 2 * 3 * P * d  # out addmm, two residual adds
    el += P * d + d * f + f + P * f + 2 * P * f + P * f + f * d + d + P * d  # ffn
    stat = 2 * P * max(size, 4)
    return el * size + 2 * stat


def transfer_elements(batch: int, d: int) -> int:
    """Elements one state transfer (``addcmul``) moves: 3 B d + d.

    It reads u_t and h_(t-1) (B d each) and the decays a (d), and writes h_t (B d).
    """
    return 3 * batch * d + d


def _attention_core(d: int, h: int, k: int, P: int, decode: bool) -> int:
    """Elements one linear-attention core moves between qkv and out, over P positions.

    [V, 1] (ones_like, cat) 2Pd + 3Ph; φ(Q), φ(K), each exp(min(x, 0)) + max(x, 0) (two
    clamps, exp, add), 18Pd; the outer products
    (bmm) Pd + P(d + h) + T; their prefix sums (cumsum) 2T, or, decoding, the kept S plus
    the new term (add) 3T; the read (bmm) Pd + T + P(d + h); the division 2Pd + Ph.
    """
    T = P * d * (k + 1)
    return 26 * P * d + 6 * P * h + (5 if decode else 4) * T


def linear_attention_bytes(spec: LinearAttention, n: int, batch: int, size: int,
                           decode: bool = False) -> int:
    """Unfused bytes of a linear-attention forward over n positions, or of one decode step.

    Derived in "Beyond the four". b = `size` bytes per element, P = B n (B for a decode
    step), per layer: two LayerNorms 2 (2Pd + 2d) b + 2 (2P) max(b, 4) (mean and rstd);
    qkv (addmm) Pd + 3d^2 + 3d + 3Pd; the core 26Pd + 6Ph + 4T (a decode step 5T in
    place of 4T: the kept S is read, and the next one written); out (addmm) and two residual adds
    2Pd + d^2 + d + 6Pd; the FFN Pd + df + f + Pf + 2Pf + Pf + fd + d + Pd; times D.
    """
    d, h, k, f = spec.d_model, spec.heads, spec.d_head, spec.d_ff
    P = batch if decode else batch * n
    core = _attention_core(d, h, k, P, decode) * size
    return spec.layers * (block_bytes(P, d, d, f, size) + core)  # K and V: d wide


def scan_elements(n: int, batch: int, d: int) -> int:
    """Elements ``linear.scan`` moves for all n states of one layer (B, n, d), a^(2^v) included.

    Derived in "Beyond the four". With N = 2^m, m = ceil(log2 n), and c(v) = N / 2^(v+1):
    pad B n d + B N d; the decay powers 3d (m - 1); each up-sweep level v = 0 .. m - 1,
    clone, addcmul, cat, 5 B c(v) d + d + 2 B N d; each down-sweep level v = 0 .. m - 2,
    5 B (c(v) - 1) d + d + 2 B (N - 2^(v+1)) d + 2 B N d (the middle's cat, then the whole).
    """
    m, N, B = levels(n), padded(n), batch
    el = B * n * d + B * N * d + 3 * d * max(m - 1, 0)
    for level in range(m):
        el += 5 * B * (N >> (level + 1)) * d + d + 2 * B * N * d
    for level in range(m - 1):
        blocks = (N >> (level + 1)) - 1
        el += 5 * B * blocks * d + d + 2 * B * (N - (2 << level)) * d + 2 * B * N * d
    return el


def linear_recurrence_bytes(spec: LinearRecurrence, n: int, batch: int, size: int,
                            decode: bool = False) -> int:
    """Unfused bytes of a linear recurrence over n positions, or of one decode step.

    Derived in "Beyond the four". b = `size` bytes, per layer: input (addmm) 2Bnd + d^2 + d,
    a = sigmoid(λ) 2d, out (addmm) 2Bnd + d^2 + d, GELU 2Bnd; the recurrence, by the loop,
    h_(-1) (new_zeros) Bd + n addcmul (3Bd + d) + stack 2Bnd; by the scan,
    ``scan_elements`` + 2Bnd when N > n (the n real states copied out of the padded ones);
    a decode step, n = 1 and one addcmul 3Bd + d. Times D.
    """
    d, B = spec.d_model, batch
    P = B if decode else B * n
    el = 2 * (2 * P * d + d * d + d) + 2 * d + 2 * P * d  # input, out, sigmoid, GELU
    if decode:
        el += transfer_elements(B, d)
    elif spec.scan:
        el += scan_elements(n, B, d)
        el += 2 * P * d if n < padded(n) else 0
    else:
        el += B * d + n * transfer_elements(B, d) + 2 * P * d
    return spec.layers * el * size
