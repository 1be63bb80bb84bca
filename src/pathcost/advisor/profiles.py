"""Span and length estimators: how long the sequences are, how far their dependencies reach.

The first two steps of choosing a model: the length distribution sets the cost (padding,
the n^2 attention weights at each percentile); the span, measured from a series or from a
trained attention model, sets the path length a model must cover.

Percentiles are nearest-rank throughout: P90 is the smallest value with at least 90% of the
data (or of the weight) at or below it, and so for any percentage, so it is always one of
the values, an exact integer for integer data, and P100 is the maximum.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..banded import BandedSelfAttention
from ..checks import is_int, is_real, require_choice, require_module_input, require_positive
from ..formulas.costs import attention_weights_bytes
from ..models import SelfAttention
from ..registry import DTYPES, dtype_name

PERCENTILES = (50, 90, 99)  # the percentiles a profile reports, beside the maximum


def _integers(values, name: str = "lengths", positive: bool = True) -> list[int]:
    """values as a list of ints (each >= 1 if positive), at least one; ValueError naming it."""
    kind = "integer >= 1" if positive else "integer"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a sequence of {kind}s, got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one value, got none")
    for i, value in enumerate(values):
        if not is_int(value) or (positive and value < 1):
            raise ValueError(f"{name}[{i}] must be an {kind}, got {value!r}")
    return [int(value) for value in values]


def _percent(p) -> None:
    if not is_int(p) or not 1 <= p <= 100:
        raise ValueError(f"p must be an integer percentage in 1..100, got {p!r}")


def percentile(values, p: int) -> int:
    """Nearest-rank percentile: the value of rank ceil(`p` count / 100) in sorted order.

    Derived in "Choosing a model". The smallest value with at least `p` percent of the
    values at or below it; in integers, rank = (`p` count + 99) // 100, with count the number
    of values. values: integers.
    """
    ordered = sorted(_integers(values, "values", positive=False))
    _percent(p)
    return ordered[(p * len(ordered) + 99) // 100 - 1]


def weighted_percentile(values, weights, p: int):
    """Weighted nearest-rank percentile: the smallest value holding `p` percent of the weight.

    Derived in "Choosing a model": the smallest value whose weights, summed over it and the
    values below it, reach `p` / 100 of all the weight. With every weight 1 it is
    ``percentile``. Weights are finite and >= 0 with a positive sum; the comparison is
    100 (weight at or below) >= `p` (total weight), exact for integer weights.
    """
    values, weights = list(values), list(weights)
    if not values or len(values) != len(weights):
        raise ValueError(f"values and weights must be non-empty and of one length, got "
                         f"{len(values)} and {len(weights)}")  # fmt: skip
    for name, items in (("values", values), ("weights", weights)):
        for i, item in enumerate(items):
            if not is_real(item) or not math.isfinite(item):
                raise ValueError(f"{name}[{i}] must be a finite number, got {item!r}")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")
    _percent(p)
    pairs = sorted(zip(values, weights))
    total = 0
    for _, weight in pairs:  # summed in the order of the scan below, so its last sum is total
        total += weight
    cumulative = 0
    for value, weight in pairs:
        cumulative += weight
        if 100 * cumulative >= p * total:
            return value


@dataclass(frozen=True)
class Padding:
    """Sequences padded to bucket ends: the ends used, the tokens after padding, the pad tokens.

    waste = padding_tokens / padded_tokens, the share of the padded batch that is padding.
    """

    ends: tuple
    padded_tokens: int
    padding_tokens: int
    waste: float


def padding_waste(lengths, boundaries=None, pad_to: int | None = None) -> Padding:
    """Padding waste: Σ (end(n) - n) / Σ end(n) over the lengths n, end(n) the smallest end >= n.

    Derived in "Choosing a model". The ends are the increasing `boundaries`, then pad_to
    (default: the longest length), so with no boundaries every sequence is padded to
    pad_to, and a length above the last boundary gets its own bucket at pad_to.
    """
    lengths = _integers(lengths)
    pad_to = max(lengths) if pad_to is None else pad_to
    require_positive(pad_to=pad_to)
    if pad_to < max(lengths):
        raise ValueError(f"pad_to must be >= the longest length {max(lengths)}, got {pad_to}")
    ends = [] if boundaries is None else _boundaries(boundaries)
    ends = tuple(ends if ends and ends[-1] >= pad_to else [*ends, pad_to])
    padded = 0
    for length in lengths:
        padded += next(end for end in ends if end >= length)
    padding = padded - sum(lengths)
    return Padding(ends, padded, padding, padding / padded)


def _boundaries(boundaries) -> list[int]:
    if isinstance(boundaries, (str, bytes)) or not hasattr(boundaries, "__iter__"):
        raise ValueError(f"boundaries must be increasing integers >= 1, got {boundaries!r}")
    ends = list(boundaries)
    for i, end in enumerate(ends):
        require_positive(**{f"boundaries[{i}]": end})
    if not ends or any(b <= a for a, b in zip(ends, ends[1:])):
        raise ValueError(f"boundaries must be strictly increasing and non-empty, got {ends}")
    return [int(end) for end in ends]


@dataclass(frozen=True)
class Percentiles:
    """A distribution of integers summarised: how many, P50, P90, P99 (nearest-rank), max."""

    count: int
    p50: int
    p90: int
    p99: int
    max: int


def percentiles(values) -> Percentiles:
    """P50, P90, P99 and max of integers >= 1 (``percentile``, nearest-rank), and the count.

    Derived in "Choosing a model": P90 is the value of rank ceil(90 count / 100) in sorted
    order, and P50 and P99 alike.
    """
    values = _integers(values)
    return Percentiles(len(values), *(percentile(values, p) for p in PERCENTILES), max(values))


@dataclass(frozen=True)
class LengthProfile:
    """What a length distribution costs: its percentiles, padding, attention weights.

    padding: every sequence padded to pad_to; bucketed: padded to the boundaries (None
    without them); attention_bytes: one layer's attention weights at n = P50, P90, P99 and
    the max (keys "p50", "p90", "p99", "max"), for heads, batch and dtype.
    """

    count: int
    tokens: int
    p50: int
    p90: int
    p99: int
    max: int
    padding: Padding
    bucketed: Padding | None
    heads: int
    batch: int
    dtype: str
    attention_bytes: dict


def length_profile(lengths, boundaries=None, pad_to: int | None = None, heads: int = 8,
                   batch: int = 1, dtype=torch.float16) -> LengthProfile:  # fmt: skip
    """Percentiles, padding waste with and without bucketing, and attention bytes per percentile.

    Derived in "Choosing a model". Percentiles are nearest-rank; waste is
    Σ (end(n) - n) / Σ end(n) (``padding_waste``); attention bytes are B h n^2 bytes(dtype)
    at each n (``attention_weights_bytes``), by default for 8 heads, batch 1, fp16.
    """
    lengths = _integers(lengths)
    require_positive(heads=heads, batch=batch)
    require_choice("dtype", dtype, DTYPES.values())
    summary = percentiles(lengths)
    at = {"p50": summary.p50, "p90": summary.p90, "p99": summary.p99, "max": summary.max}
    return LengthProfile(
        count=summary.count, tokens=sum(lengths), p50=summary.p50, p90=summary.p90,
        p99=summary.p99, max=summary.max, padding=padding_waste(lengths, None, pad_to),
        bucketed=None if boundaries is None else padding_waste(lengths, boundaries, pad_to),
        heads=heads, batch=batch, dtype=dtype_name(dtype),
        attention_bytes={k: attention_weights_bytes(n, heads, batch, dtype) for k, n in at.items()},
    )  # fmt: skip


def _series(series) -> np.ndarray:
    """series as float64, finite, at least 2 values and not constant; ValueError otherwise."""
    if isinstance(series, torch.Tensor):
        if series.dtype == torch.bool or series.is_complex():
            raise ValueError(f"series must hold real numbers, got a {series.dtype} tensor")
        x = series.detach().cpu().double().numpy().reshape(-1)
    elif isinstance(series, np.ndarray) and series.dtype.kind in "iuf":
        x = series.astype(np.float64).reshape(-1)
    elif isinstance(series, (str, bytes)) or not hasattr(series, "__iter__"):
        raise ValueError(f"series must be a sequence of numbers, got {series!r}")
    else:
        values = list(series)
        for i, value in enumerate(values):
            if not is_real(value):
                raise ValueError(f"series[{i}] must be a finite number, got {value!r}")
        x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"series must hold at least 2 values, got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError(f"series[{int(np.argmin(np.isfinite(x)))}] must be a finite number")
    if np.all(x == x[0]):
        raise ValueError("series must not be constant: its autocorrelation is undefined")
    return x


def autocorrelation(series) -> np.ndarray:
    """Sample autocorrelation at lag Δ: Σ (x(t) - mean)(x(t+Δ) - mean) / Σ (x(t) - mean)^2.

    Derived in "Choosing a model". For a series x(0) .. x(n - 1) of n values, at every lag
    Δ = 0 .. n - 1 (1 at Δ = 0), the first sum over t < n - Δ, the second over every t; the
    biased estimator (one denominator for every lag), computed by FFT in O(n log n).
    """
    x = _series(series)
    y = x - x.mean()
    size = 1 << (2 * len(y) - 1).bit_length()  # zero-padded: a linear, not circular, sum
    spectrum = np.fft.rfft(y, size)
    covariance = np.fft.irfft(spectrum * spectrum.conj(), size)[: len(y)]
    return covariance / covariance[0]


def autocorrelation_length(series) -> int:
    """Effective memory: the smallest lag Δ >= 1 whose ``autocorrelation`` is below 1/e.

    Derived in "Choosing a model". For an AR(1) series, x(t) = a x(t - 1) + noise, the
    autocorrelation at lag Δ is a^Δ, so the length is the smallest Δ > -1 / ln(a); white
    noise gives 1. The biased estimate sums to -1/2 over the lags Δ >= 1, so some lag always
    falls below 1/e.
    """
    r = autocorrelation(series)
    return int(np.flatnonzero(r[1:] < math.exp(-1))[0]) + 1


@dataclass(frozen=True)
class AttentionSpan:
    """Where attention looks: the distance Δ = ``|j - i|`` weighted by the attention mass on it.

    Query j reads key i. p50, p90: weighted nearest-rank percentiles; mean:
    Σ_Δ Δ mass(Δ) / Σ_Δ mass(Δ); queries: the query rows pooled (batch x heads x layers x n,
    each of mass 1); mass_by_distance: mass(Δ) for Δ = 0, 1, ...
    """

    p50: int
    p90: int
    mean: float
    queries: int
    mass_by_distance: tuple


def attention_span(model, batch, query: int | None = None) -> AttentionSpan:
    """Attention-weighted distance distribution: mass(Δ) = the sum of the weights A[j, i] with
    ``|j - i|`` = Δ over sequences, layers and heads, then its P50, P90 and mean.

    Derived in "Choosing a model". model: a Transformer module from ``build(spec)`` with
    explicit attention (its ``Scores`` modules give the softmax weights; full, blocked and
    banded windows alike); batch: its (B, n, d_model) input. Causal attention puts no mass
    on keys i > j, so the distance there is j - i. query: only the queries at that position
    (0 .. n - 1, or -1 for the last, where a classifier reads), as "Capstone" does; None
    pools every position.
    """
    layers = _attention_layers(model, batch)
    n = batch.shape[1]
    if query is not None:
        if not is_int(query) or not -n <= query < n:
            raise ValueError(f"query must be a position -{n} .. {n - 1} or None, got {query!r}")
        query %= n
    if not layers:
        raise ValueError("model must have explicit attention: build(spec, attention='explicit')")
    mass, queries = torch.zeros(1, dtype=torch.float64), [0]

    def record(layer, weights):
        nonlocal mass
        distance, position = _layout(layer, weights, n)
        valid = ((position < n) & ((position == query) if query is not None else True)).double()
        weighted = (weights.detach().double().cpu() * valid).flatten()
        counts = torch.bincount(distance.expand(weights.shape).flatten(), weighted)
        mass = torch.cat([mass, mass.new_zeros(max(0, len(counts) - len(mass)))])
        mass[: len(counts)] += counts
        queries[0] += int(valid.expand(weights.shape[:-1] + (1,)).sum())

    _forward_reading_scores(model, batch, layers, record)
    reached = int(torch.nonzero(mass).max())  # masked keys (padding too) carry exactly 0
    by_distance = mass[: reached + 1].tolist()
    distances = range(len(by_distance))
    mean = sum(d * m for d, m in zip(distances, by_distance)) / sum(by_distance)
    p50, p90 = (weighted_percentile(distances, by_distance, p) for p in (50, 90))
    return AttentionSpan(p50, p90, mean, queries[0], tuple(by_distance))


def attention_on(model, batch, keys) -> tuple:
    """Per attention layer, bottom first: the weight the last query puts on each sequence's
    own key in `keys`, averaged over the sequences and the heads.

    Derived in "Capstone", where keys are the positions of the answers: a value near 1
    means the layer reads the answer directly, 1 / n what uniform attention gives. model,
    batch: as ``attention_span``, full attention only (windowed layers are refused);
    keys: one position 0 .. n - 1 per sequence.
    """
    layers = _attention_layers(model, batch)
    b, n = batch.shape[:2]
    keys = torch.as_tensor(keys)
    if keys.shape != (b,) or keys.is_floating_point() or ((keys < 0) | (keys >= n)).any():
        raise ValueError(f"keys must hold one position 0 .. {n - 1} per sequence ({b})")
    if not layers or any(m.window is not None and m.window < n for m in layers):
        raise ValueError("model must have explicit full attention: build(spec, "
                         "attention='explicit') with no window shorter than n")  # fmt: skip
    found = []

    def record(layer, weights):  # (B, kv heads, g n, n): the last query is row r = n - 1 mod n
        last = weights.detach()[..., n - 1:: n, :].double().cpu()  # (B, kv, g, n)
        picked = last.gather(-1, keys.view(b, 1, 1, 1).expand(*last.shape[:-1], 1))
        found.append(picked.mean().item())

    _forward_reading_scores(model, batch, layers, record)
    return tuple(found)


def _attention_layers(model, batch) -> list:
    """The explicit attention layers of model (those with ``Scores``), batch checked."""
    require_module_input(model, batch)
    if batch.dim() != 3:
        raise ValueError(f"batch must be (B, n, d_model), got shape {tuple(batch.shape)}")
    return [m for m in model.modules() if isinstance(m, SelfAttention) and hasattr(m, "scores")]


def _forward_reading_scores(model, batch, layers, record) -> None:
    """model(batch) without gradients, calling record(layer, weights) with each layer's
    softmax weights as they are made; the hooks are removed however the pass ends."""
    hooks = [
        layer.scores.register_forward_hook(
            lambda module, inputs, weights, layer=layer: record(layer, weights)
        )
        for layer in layers
    ]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for hook in hooks:
            hook.remove()


def _layout(layer, weights, n: int):
    """(``|j - i|`` for each entry of a Scores output, the query position j of each row).

    Layouts, with w the window radius and h / h_kv query heads per K/V head: full
    (..., (h / h_kv) n, n); blocked local (..., blocks, (h / h_kv) w, keys), whose block
    starting at position t holds the queries t .. t + w - 1 (n or more: padding) and the
    keys from t - w on; banded (..., n, h / h_kv, w + 1 or 2w + 1), the keys of query t
    from t - w on. Both tensors broadcast against weights (grouped heads stack their
    h / h_kv query copies as rows).
    """
    rows, keys = weights.shape[-2:]
    if layer.window is None or layer.window >= n:
        query = (torch.arange(rows) % n).view(rows, 1)
        return (query - torch.arange(keys)).abs(), query
    w = layer.window
    if isinstance(layer, BandedSelfAttention):
        return (w - torch.arange(keys)).abs().view(1, 1, keys), torch.arange(n).view(n, 1, 1)
    blocks = weights.shape[-3]
    query = (torch.arange(blocks) * w).view(blocks, 1) + torch.arange(rows) % w  # (blocks, rows)
    key = (torch.arange(blocks) * w - w).view(blocks, 1) + torch.arange(keys)  # (blocks, keys)
    distance = (query.unsqueeze(-1) - key.unsqueeze(-2)).abs()  # (blocks, rows, keys)
    return distance, query.unsqueeze(-1)
