"""Axis 2 by kernel: the attention products a kernel executes, beside what ``build`` computes.

``costs.forward_flops`` counts the products of ``models.build(spec)``: the explicit kernel
scores every (query, key) pair it is handed, masked or not, and so does the blocked window.
A fused causal kernel that skips the key tiles above the diagonal executes fewer, and a
window scored as a band (``banded``) scores only each query's own keys. Conventions:

- Counts are of (query, key) pairs per batch element, head and layer. Each pair costs
  2 d_k FLOPs in Q K^T and 2 d_k in A V, so over h heads a pair costs 4 d FLOPs (d = h d_k),
  the same for grouped-query attention (the products are per query head).
- A window is a radius w (query t sees keys within w positions, as in ``specs``); its size,
  w + 1 (causal) or 2w + 1 (both sides), is the number of keys a query away from the edges
  sees: ``window_size``.
- "sdpa" means PyTorch's CPU flash-attention kernel; a GPU kernel tiles differently: pass
  its tiles, or ``(1, 1)`` for the idealised kernel that skips every masked pair.
- The two architectures of "Beyond the four" score no (query, key) pairs: linear attention
  sums outer products over positions, a linear recurrence transfers a state, so either
  kernel executes exactly the FLOPs ``costs.forward_flops`` counts. The kernel on a linear
  recurrence's chain is one state transfer: ``state_transfer_flops`` and its bytes.
"""

from typing import NamedTuple

import torch

from ..checks import require_bool, require_choice, require_positive
from ..registry import ATTENTION_KERNELS, require_spec
from ..specs import Hybrid, Transformer, body
from .costs import (
    downsampled_length,
    forward_flops,
    forward_flops_by_component,
    itemsize,
    window_blocks,
)
from .linear import require_recurrence, transfer_flops
from .linear_traffic import transfer_elements

# NB: the tiles of PyTorch's CPU flash-attention kernel, read from
# aten/src/ATen/native/cpu/FlashAttentionKernel.cpp (pytorch/pytorch at
# 008ec6b1840c94ff6d0f685bc10fbf585167c673; the same in every version since the 256/64/32
# dispatch): ``flash_attention_kernel_impl`` picks query tiles of 256 rows for n >= 768, 64
# for n >= 192, else 32, and key tiles of 512; ``cpu_flash_attention`` clips both to n. With
# is_causal, query tile [m, m + q) runs the key tiles that start below min(m + q, n), each
# min(512, n - start) keys wide: the tile on the diagonal is scored whole, then masked.
CPU_FLASH_KV_TILE = 512
CPU_FLASH_Q_TILES = ((768, 256), (192, 64), (1, 32))  # (from this n on, query tile rows)


def cpu_flash_tiles(n: int) -> tuple[int, int]:
    """(query tile, key tile) of PyTorch's CPU flash kernel at length n: (q, min(512, n)).

    Derived in "Cutting the n^2": q = 256 rows for n >= 768, 64 for n >= 192, else 32, and
    at most n (the kernel clips both tiles to the sequence); the key tile holds k_v keys.
    """
    require_positive(n=n)
    rows = next(rows for start, rows in CPU_FLASH_Q_TILES if n >= start)
    return min(rows, n), min(CPU_FLASH_KV_TILE, n)


def causal_pairs(n: int) -> int:
    """(Query, key) pairs a causal mask keeps: n(n + 1) / 2.

    Derived in "Cutting the n^2": query t keeps keys 0..t, t + 1 of them. It is what a
    kernel that skipped every masked pair would execute, ``tiled_causal_pairs(n, 1, 1)``.
    """
    require_positive(n=n)
    return n * (n + 1) // 2


def tiled_causal_pairs(n: int, q_tile: int, kv_tile: int) -> int:
    """Pairs a causal kernel scores that skips whole key tiles above the diagonal.

    Derived in "Cutting the n^2": sum over query tiles [m, m + q_m) of
    q_m * min(n, k_v * ceil((m + q_m) / k_v)), q_m = min(q, n - m), with q = `q_tile` and
    k_v = `kv_tile`: each query tile scores every key tile that starts before its last
    query, the diagonal ones whole. Always between n(n + 1) / 2 (tiles of 1,
    ``causal_pairs``) and n^2 (one key tile of n: nothing skipped).
    """
    require_positive(n=n, q_tile=q_tile, kv_tile=kv_tile)
    if q_tile % kv_tile == 0:  # every query tile ends on a key tile's edge (or at n): no sum
        full, rest = divmod(n, q_tile)
        return q_tile * q_tile * full * (full + 1) // 2 + rest * n
    pairs = 0
    for m in range(0, n, q_tile):
        rows = min(q_tile, n - m)
        pairs += rows * min(n, kv_tile * -(-(m + rows) // kv_tile))
    return pairs


def _require_transformer(spec) -> None:
    require_spec(spec)
    if not isinstance(spec, Transformer):  # LinearAttention too: it scores no pairs
        raise ValueError(f"spec must be a Transformer to score (query, key) pairs, got {spec!r}")


def _tiles(n: int, tiles) -> tuple[int, int]:
    if tiles is None:
        return cpu_flash_tiles(n)
    if not isinstance(tiles, tuple) or len(tiles) != 2:
        raise ValueError(f"tiles must be None or a (q_tile, kv_tile) pair, got {tiles!r}")
    require_positive(q_tile=tiles[0], kv_tile=tiles[1])
    return tiles


def executed_attention_flops(spec, n: int, batch: int = 1, attention: str = "explicit",
                             tiles=None) -> int:  # fmt: skip
    """FLOPs the two attention products (Q K^T and A V) execute in one forward pass.

    Derived in "Cutting the n^2": 4 B D d n_pairs over D layers, n_pairs the pairs scored per
    batch element and head. n_pairs = n^2 for explicit full attention (causal or not: the mask
    comes after the product), the blocks of ``window_blocks`` for a window of radius w < n
    (either kernel: "sdpa" runs the blocks through PyTorch's math fallback), n^2 for "sdpa"
    without a mask, and for "sdpa" with a causal mask ``tiled_causal_pairs(n, *tiles)``: the CPU
    flash kernel's tiles (``cpu_flash_tiles``) unless ``tiles`` = (q, k_v) names another
    kernel's.
    """
    _require_transformer(spec)
    require_positive(n=n, batch=batch)
    require_choice("attention", attention, ATTENTION_KERNELS)
    q_tile, kv_tile = _tiles(n, tiles)
    full = spec.window is None or spec.window >= n
    if attention == "explicit" or not spec.causal or not full:
        parts = forward_flops_by_component(spec, n, batch)
        return parts["scores"] + parts["values"]
    return spec.layers * 4 * batch * spec.d_model * tiled_causal_pairs(n, q_tile, kv_tile)


def executed_forward_flops(spec, n: int, batch: int = 1, attention: str = "explicit",
                           tiles=None) -> int:  # fmt: skip
    """Forward FLOPs executed by ``build(spec, attention)``: forward_flops with the attention
    products replaced by ``executed_attention_flops``.

    Derived in "Time and parallelism", where utilisation divides these, not forward_flops,
    by the time. Equal to forward_flops except for a causal full-attention Transformer under
    "sdpa" (a Hybrid's too, on its ceil(n / s) tokens): for every other architecture,
    linear attention and the linear recurrence of "Beyond the four" included (no causal
    tiles: they score no pairs), it is the counted forward_flops.
    """
    require_choice("attention", attention, ATTENTION_KERNELS)
    total = forward_flops(spec, n, batch)  # validates spec, n and batch
    sequence, m = body(spec), n
    if isinstance(spec, Hybrid):
        m = downsampled_length(n, spec.stride)
    if not isinstance(sequence, Transformer):
        return total
    parts = forward_flops_by_component(sequence, m, batch)
    executed = executed_attention_flops(sequence, m, batch, attention, tiles)
    return total - parts["scores"] - parts["values"] + executed


def causal_crossover(spec, tiles=None) -> int:
    """Smallest n at which a tile-skipping causal kernel's attention products exceed the FFN.

    Derived in "Counting compute": 4 B d n_pairs > 4 B n d f with n_pairs =
    ``tiled_causal_pairs`` at length n (CPU flash tiles unless ``tiles``). With tiles (1, 1),
    n_pairs = n(n + 1) / 2 and the answer is exactly n = 2f; any tiles give f < n <= 2f
    (n_pairs lies between n(n + 1) / 2 and n^2).
    Compare ``costs.attention_ffn_crossover``, n = f + 1, for kernels that skip nothing.
    """
    _require_transformer(spec)
    if not spec.causal or spec.window is not None:
        raise ValueError(f"spec must be a causal Transformer with full attention, got {spec!r}")
    f = spec.d_ff
    for n in range(f + 1, 2 * f + 1):  # P(n) <= n^2 fails below, n(n + 1) / 2 wins at 2f
        if tiled_causal_pairs(n, *_tiles(n, tiles)) > n * f:
            return n
    raise AssertionError("unreachable: P(2f) >= f (2f + 1) > 2f * f")


def window_size(window: int, causal: bool) -> int:
    """Keys per query of a window of radius w, away from the edges: w + 1 or 2w + 1.

    Derived in "Cutting the n^2". A causal query t sees keys t - w..t, a two-sided one
    t - w..t + w. Longformer and Mistral name a window by this size; the book by its radius
    w (`window`).
    """
    require_positive(window=window)
    require_bool(causal=causal)
    return window + 1 if causal else 2 * window + 1


class WindowScores(NamedTuple):
    """Pairs per batch element, head and layer: scored by ``build``'s kernel, and needed."""

    scored: int
    needed: int

    @property
    def wasted(self) -> int:
        """Scored pairs that the mask throws away, scored - needed."""
        return self.scored - self.needed


def window_scores(spec, n: int) -> WindowScores:
    """(scored, needed) (query, key) pairs of one attention layer at length n.

    Derived in "Cutting the n^2". Scored, by ``build``'s blocked kernel: ceil(n/w) w (2w or
    3w) for a window w < n, n^2 otherwise. Needed, the pairs within the sequence with
    ``|query - key| <= w`` (and key <= query if causal): n + c Σ (n - Δ) over the distances
    Δ = 1 .. min(w, n - 1), with c = 1 causal or 2 both sides (Δ up to n - 1 without a
    window): n - Δ pairs at each distance Δ, on each side.
    """
    _require_transformer(spec)
    require_positive(n=n)
    m = n - 1 if spec.window is None else min(spec.window, n - 1)
    needed = n + (1 if spec.causal else 2) * (m * n - m * (m + 1) // 2)
    if spec.window is None or spec.window >= n:
        return WindowScores(n * n, needed)
    blocks, keys = window_blocks(n, spec.window, spec.causal)
    return WindowScores(blocks * spec.window * keys, needed)


def banded_scores(spec, n: int) -> int:
    """Pairs the banded kernel (``pathcost.banded``) scores per batch element, head and layer.

    Derived in "Cutting the n^2": n (w + 1) causal, n (2w + 1) both sides
    (``window_size(w, causal)``): every query scores the keys of its own window. The pairs
    beyond the needed ones are padding past the sequence's ends, w (w + 1) / 2 at each end
    a band overhangs for n > w (one end causal, two both sides).
    """
    _require_transformer(spec)
    require_positive(n=n)
    if spec.window is None:
        raise ValueError(f"spec must have a window to be banded, got {spec!r}")
    return n * window_size(spec.window, spec.causal)


def _require_recurrence(spec) -> None:
    require_spec(spec)
    require_recurrence(spec)


def state_transfer_flops(spec, batch: int = 1) -> int:
    """FLOPs of one state transfer of a linear recurrence, one layer at one position: 2 B d.

    Derived in "Beyond the four": h_t = a ⊙ h_(t-1) + u_t is one multiply-accumulate per
    element of the (B, d) state, one ``addcmul``. It is the unit of the recurrence's
    sequential steps: the loop runs n of them one after another, each level of the scan at
    least one (``paths.sequential_steps``).
    """
    _require_recurrence(spec)
    require_positive(batch=batch)
    return transfer_flops(batch, spec.d_model)


def state_transfer_bytes(spec, batch: int = 1, dtype=torch.float32) -> int:
    """Bytes one state transfer moves, at least: (3 B d + d) b, b = bytes(dtype).

    Derived in "Beyond the four": the ``addcmul`` reads u_t and h_(t-1) (B d elements each)
    and the decays a (d), and writes h_t (B d). It reads no weight matrix: the input and
    output projections of all n positions run before and after the chain.
    """
    _require_recurrence(spec)
    require_positive(batch=batch)
    return transfer_elements(batch, spec.d_model) * itemsize(dtype)
