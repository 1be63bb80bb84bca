"""The causal saving of a fused attention kernel on this device: its time, and what it runs.

Asked for a causal mask (``is_causal=True``), PyTorch's fused kernels skip the key tiles
above the diagonal instead of scoring them and masking. ``causal_saving`` times the fused
call with and without the mask in one run; ``readers`` measures which (query, key) pairs a
kernel's A V product actually touched. Neither knows a tile size or a formula: "Cutting
the n^2" sets them beside ``formulas.kernels``.
"""

import math
import statistics
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from ..checks import require_callable, require_non_negative, require_positive
from ..runtime import device
from .timing import Timing, time


@dataclass(frozen=True)
class CausalSaving:
    """Fused attention timed with a causal mask and without, in one run, on one device."""

    n: int
    batch: int
    heads: int
    d_model: int
    threads: int
    device: str
    causal: Timing  # samples: the median of each round
    full: Timing
    ratios: tuple  # causal over full, round by round

    @property
    def ratio(self) -> float:
        """The median over rounds of the causal time over the unmasked time; 1 if nothing is
        skipped, about 1/2 if every tile above the diagonal is."""
        return statistics.median(self.ratios)


def causal_saving(n: int = 2048, d_model: int = 64, heads: int = 4, batch: int = 1, dev=None,
                  dtype=torch.float32, min_run_time: float = 0.1, rounds: int = 3,
                  threads: int | None = None) -> CausalSaving:  # fmt: skip
    """Time ``F.scaled_dot_product_attention`` on random (B, h, n, d_k) Q, K, V, with
    ``is_causal=True`` and without (forward only, no autograd), by ``timing.time``.

    The two are timed in turn, `rounds` times, so that a slow spell of a shared machine hits
    both; the ratio of each round's medians is the causal saving the kernel delivers here.
    On a CPU this is PyTorch's flash kernel, on `threads` threads (default: torch's count).
    """
    require_positive(n=n, d_model=d_model, heads=heads, batch=batch, rounds=rounds)
    if d_model % heads:
        raise ValueError(f"d_model must be divisible by heads, got {d_model} and {heads}")
    dev = device() if dev is None else torch.device(dev)
    shape = (batch, heads, n, d_model // heads)
    q, k, v = (torch.randn(shape, device=dev, dtype=dtype) for _ in range(3))

    calls = {  # forward only, no autograd
        causal: torch.no_grad()(partial(F.scaled_dot_product_attention, q, k, v, is_causal=causal))
        for causal in (False, True)
    }

    count = threads or torch.get_num_threads()
    medians = {True: [], False: []}
    for _ in range(rounds):
        for causal in (False, True):
            timing = time(calls[causal], dev, min_run_time=min_run_time, threads=count)
            medians[causal].append(timing.median)
    ratios = tuple(c / f for c, f in zip(medians[True], medians[False]))
    causal, full = (_summary(medians[key]) for key in (True, False))
    return CausalSaving(n, batch, heads, d_model, count, str(dev), causal, full, ratios)


def _summary(samples: list) -> Timing:
    """A Timing of per-round medians: their median and interquartile range."""
    if len(samples) < 2:
        return Timing(samples[0], 0.0, tuple(samples))
    low, _, high = statistics.quantiles(samples, n=4, method="inclusive")
    return Timing(statistics.median(samples), high - low, tuple(samples))


def fused_causal(q, k, v):
    """PyTorch's fused attention with a causal mask: the kernel ``readers`` probes by default."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def readers(n: int, keys=None, attend=fused_causal, d_head: int = 1, chunk: int = 64,
            dtype=torch.float32) -> dict[int, int]:  # fmt: skip
    """For each key i, how many queries' outputs ``attend(q, k, v)`` computed from V[i].

    Measured on the CPU by poisoning: V[i] = NaN (one key per sequence of a batch), and
    output row j comes out NaN exactly when the kernel's A V product multiplied some weight
    of row j by V[i]; a weight that is zero, because the mask came after the product, still
    gives 0 * NaN = NaN. So the counts summed over all keys are the (query, key) pairs the
    kernel executed: n^2 for a kernel that scores everything and masks, fewer for one that
    skips. attend maps (B, 1, n, d_k) tensors (d_k = `d_head`) to one of that shape; keys
    default to all n.
    """
    require_positive(n=n, d_head=d_head, chunk=chunk)
    require_callable(attend=attend)
    keys = list(range(n)) if keys is None else list(keys)
    for j in keys:
        require_non_negative(key=j)
        if j >= n:
            raise ValueError(f"key must be below n = {n}, got {j}")
    generator = torch.Generator().manual_seed(0)
    counts = {}
    for start in range(0, len(keys), chunk):
        batch = keys[start : start + chunk]
        q, k, v = torch.randn(3, len(batch), 1, n, d_head, generator=generator, dtype=dtype)
        v[torch.arange(len(batch)), 0, torch.tensor(batch)] = math.nan
        with torch.no_grad():
            poisoned = attend(q, k, v).isnan().any(dim=-1)[:, 0]  # (len(batch), n)
        counts.update(zip(batch, poisoned.sum(dim=1).tolist()))
    return counts
