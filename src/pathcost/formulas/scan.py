"""Axis 1 for the Brent-Kung scan of ``linear.scan``: its combines, levels and longest chain.

Pure integer arithmetic, derived in "Beyond the four". The scan pads n positions with zeros
to N = 2^m, m = ceil(log2 n), runs an up-sweep (levels v = 0 ... m - 1: the last element of
every block of 2^(v+1) combines with the element 2^v before it) and a down-sweep (levels
v = m - 2 ... 0: every element i with i + 1 an odd multiple of 2^v, but the first, combines
with i - 2^v), then crops to n. A combine is one state transfer a^(2^v) ⊙ b + own. The
numbers here count per channel and per layer; ``paths.sequential_steps`` calls
``scan_depth`` for a LinearRecurrence with scan=True.
"""

from ..checks import require_positive


def levels(n: int) -> int:
    """m = ceil(log2 n), the doublings from 1 to the scan's padded length; 0 for n = 1.

    Integer arithmetic, exact for every n >= 1 (no floating-point log2); the callers
    validate n.
    """
    return (n - 1).bit_length()


def padded(n: int) -> int:
    """N = 2^m, m = ceil(log2 n): the length the scan pads n positions to (1 for n = 1)."""
    return 1 << levels(n)


def scan_combines(n: int) -> int:
    """Combines one scan of n positions runs per channel: 2N - m - 2, N = 2^m, m = ceil(log2 n).

    Derived in "Beyond the four": N - 1 in the up-sweep, N - m - 1 in the down-sweep (0 at
    n = 1), against the loop's n transfers; padded positions are combined too.
    """
    require_positive(n=n)
    m = levels(n)
    return 2 * padded(n) - m - 2


def scan_levels(n: int) -> int:
    """Levels (batched combines, one ``addcmul`` each) of one scan of n positions: 2m - 1.

    Derived in "Beyond the four": m up-sweep levels and m - 1 down-sweep levels,
    m = ceil(log2 n); 0 at n = 1. The top up-sweep level (the total, at N - 1) feeds no
    down-sweep level, so the longest chain (``scan_depth``) is one shorter from n = 3 on.
    """
    require_positive(n=n)
    m = levels(n)
    return max(2 * m - 1, 0)


def _combine(h: list, targets: slice, sources: slice) -> None:
    """One level: depth[t] = max(depth[t], depth[s]) + 1 for every pair, all at once."""
    h[targets] = [(t if t > s else s) + 1 for t, s in zip(h[targets], h[sources])]


def scan_depth(n: int, layers: int = 1) -> int:
    """Longest chain of combines in `layers` stacked scans of n positions: S of scan=True.

    Derived in "Beyond the four". One layer: S = 0 at n = 1, 1 at n = 2 and
    2 ceil(log2 n) - 2 for n >= 3 (m - 1 levels up to the element 2^(m-1) - 1, m - 1 down).
    A stack has no closed form: each layer pads to N and crops, so the algorithm is run on
    integers. Every position carries a depth, the padded zeros 0, layer l's inputs the
    depths of layer l - 1's outputs; each combine sets depth[i] = max(depth[i],
    depth[i - 2^v]) + 1, level by level as ``linear.scan`` runs them; S is the largest depth
    anywhere, padded positions included (they are computed). O(D N) work, D = `layers`.
    """
    require_positive(n=n, layers=layers)
    m = levels(n)
    size = padded(n)
    depths, longest = [0] * n, 0
    for _ in range(layers):
        h = depths + [0] * (size - n)
        for k in range(m):  # up-sweep
            step = 2 << k
            _combine(h, slice(step - 1, size, step), slice((1 << k) - 1, size, step))
        for k in reversed(range(m - 1)):  # down-sweep
            half = 1 << k
            step = 2 * half
            _combine(h, slice(3 * half - 1, size - half, step), slice(step - 1, size - step, step))
        longest = max(longest, max(h))
        depths = h[:n]
    return longest
