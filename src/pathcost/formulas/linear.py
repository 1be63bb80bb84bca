"""Axis 2 of "Beyond the four": the costs of ``linear``'s two modules. Pure arithmetic.

``costs`` and ``decode`` call these from their branches for ``specs.LinearAttention`` and
``specs.LinearRecurrence``, under the conventions stated there (FLOPs of matrix products,
2 per multiply-accumulate, with ``addcmul``, the diagonal state transfer a ⊙ h + u, one
multiply-accumulate per element). Sizes: d = d_model, h = heads, d_k = d / h, f = d_ff,
B = batch, D = layers. Tensor sizes are counted in elements here; ``costs`` and ``decode``
multiply by the bytes of the dtype. The scan pads n to N = 2^m, m = ceil(log2 n), and runs
2N - m - 2 combines (``scan.scan_combines``).
"""

from ..checks import require_positive
from ..specs import LinearAttention, LinearRecurrence
from .scan import levels, scan_combines

SPECS = (LinearAttention, LinearRecurrence)  # the specs this module prices


def require_linear(spec) -> None:
    """Refuse any spec but a LinearAttention or a LinearRecurrence (ValueError)."""
    if not isinstance(spec, SPECS):
        raise ValueError(f"spec must be a LinearAttention or a LinearRecurrence, got {spec!r}")


def require_recurrence(spec, to: str = "transfer a state") -> None:
    """Refuse any spec but a LinearRecurrence (ValueError "spec must be a LinearRecurrence
    to `to`"): nothing else transfers a state."""
    if not isinstance(spec, LinearRecurrence):
        raise ValueError(f"spec must be a LinearRecurrence to {to}, got {spec!r}")


def transfer_flops(batch: int, d: int) -> int:
    """FLOPs of one state transfer a ⊙ h + u on a (B, d) state: 2 B d (one ``addcmul``)."""
    return 2 * batch * d


def transfers(spec: LinearRecurrence, n: int) -> int:
    """State transfers (addcmul) one layer runs on n positions: n (loop) or 2N - m - 2 (scan).

    Derived in "Beyond the four"; each is 2 B d FLOPs on a (B, d) state (``transfer_flops``).
    """
    require_recurrence(spec, "have state transfers")
    require_positive(n=n)
    return scan_combines(n) if spec.scan else n


def forward_flops_by_component(spec, n: int, batch: int = 1) -> dict[str, int]:
    """Forward FLOPs of ``models.build(spec)`` by component, every layer summed.

    Derived in "Beyond the four". Per layer, LinearAttention: qkv = 6 B n d^2,
    kv = read = 2 B n h d_k (d_k + 1), out = 2 B n d^2, ffn = 4 B n d f; LinearRecurrence:
    input = out = 2 B n d^2, recurrent = 2 B d c with c = ``transfers(spec, n)``.
    """
    require_linear(spec)
    require_positive(n=n, batch=batch)
    B, d, D = batch, spec.d_model, spec.layers
    if isinstance(spec, LinearRecurrence):
        product = D * 2 * B * n * d * d
        recurrent = D * transfer_flops(B, d) * transfers(spec, n)
        return {"input": product, "recurrent": recurrent, "out": product}
    outer = D * 2 * B * n * spec.heads * spec.d_head * (spec.d_head + 1)
    return {
        "qkv": D * 2 * B * n * d * 3 * d,
        "kv": outer,
        "read": outer,
        "out": D * 2 * B * n * d * d,
        "ffn": D * 2 * 2 * B * n * d * spec.d_ff,
    }


def params(spec) -> int:
    """Trainable parameters: D (4d^2 + 2 d f + 9d + f) or D (2d^2 + 3d).

    Derived in "Beyond the four". LinearAttention as a multi-head Transformer block (qkv,
    out, FFN, their biases, two LayerNorms; the feature map has none); LinearRecurrence:
    input and out (d^2 + d each) and the d decay logits λ.
    """
    require_linear(spec)
    d = spec.d_model
    if isinstance(spec, LinearRecurrence):
        return spec.layers * (2 * d * d + 3 * d)
    return spec.layers * (4 * d * d + 2 * d * spec.d_ff + 9 * d + spec.d_ff)


def saved_elements(spec, n: int, batch: int = 1) -> int:
    """Elements autograd saves in one training forward of ``models.build(spec)``.

    Derived in "Beyond the four", measured with ``measure.saved_bytes`` on the CPU.
    LinearAttention D B n (15d + d d_k + 2h + 2f + 4); LinearRecurrence D (4 B n d + d)
    (loop) or D (3 B n d + B d (2N - m - 2) + max(m, 1) d) (scan). Per layer:
    LinearAttention: two LayerNorms (inputs, means, reciprocal deviations:
    2 B n d + 4 B n), qkv's input and output (4 B n d; the feature map's clamps read Q and
    K there), exp(min(Q, 0)) and exp(min(K, 0)), and φ(Q) and φ(K) (4 B n d), [V, 1] and
    the read's numerator with its normaliser (B n (d + h) each), the prefix sums S and z
    (B n h d_k (d_k + 1)), out's input (B n d), the FFN's input and GELU's input and output
    (B n d + 2 B n f). LinearRecurrence: input's input
    and GELU's input (2 B n d); the loop then saves out's input (B n d), the states
    h_(-1) = 0 ... h_(n-2) that each addcmul multiplies (B n d) and a = sigmoid(λ) (d); the
    scan saves one cloned (B, d) prefix per combine, the m decay powers a^(2^v) (a alone at
    n = 1) and out's input, the n real states (the scan copies them out of the padded ones,
    so the padding is not kept alive: B n d).
    """
    require_linear(spec)
    require_positive(n=n, batch=batch)
    B, d, D = batch, spec.d_model, spec.layers
    if isinstance(spec, LinearAttention):
        h, d_k, f = spec.heads, spec.d_head, spec.d_ff
        return D * B * n * (15 * d + d * d_k + 2 * h + 2 * f + 4)
    if not spec.scan:
        return D * (4 * B * n * d + d)
    m = levels(n)  # ceil(log2 n): the scan pads n to N = 2^m
    return D * (3 * B * n * d + B * d * scan_combines(n) + max(m, 1) * d)


def state_elements(spec, batch: int = 1) -> int:
    """Elements a decoder keeps between tokens: D B h d_k (d_k + 1) or D B d, whatever n is.

    Derived in "Beyond the four". LinearAttention: S_t and z_t side by side, (B, h, d_k,
    d_k + 1) per layer; LinearRecurrence: h_t, (B, d) per layer.
    """
    require_linear(spec)
    require_positive(batch=batch)
    if isinstance(spec, LinearRecurrence):
        return spec.layers * batch * spec.d_model
    return spec.layers * batch * spec.heads * spec.d_head * (spec.d_head + 1)


def step_flops(spec, batch: int = 1) -> int:
    """FLOPs of one decoded token: D B (8d^2 + 4 d f + 4 h d_k (d_k + 1)) or D B (4d^2 + 2d).

    Derived in "Beyond the four". LinearAttention: qkv, kv, read, out and ffn at one
    position (the state update S + φ(k) [v, 1]^T adds no product); LinearRecurrence: input,
    one transfer (2 B d, scan or not: a decoder never scans) and out. The same for every n.
    """
    require_linear(spec)
    require_positive(batch=batch)
    parts = forward_flops_by_component(spec, 1, batch)
    if isinstance(spec, LinearRecurrence):  # one position: the one transfer a decoder runs
        parts["recurrent"] = spec.layers * transfer_flops(batch, spec.d_model)
    return sum(parts.values())
