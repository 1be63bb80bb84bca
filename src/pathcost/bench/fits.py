"""Fitted scaling exponents: the slope of log time against log n, with its 95% interval.

Derived in "Time and parallelism". A power law T = c n^p is a straight line of slope p on
log-log axes; these functions fit it to measured points and find where a sweep jumps.
"""

import math

import numpy as np


def fit_exponent(ns, ys) -> tuple[float, tuple[float, float]]:
    """Least-squares slope p of log T = p log n + log c, with its 95% confidence interval.

    Derived in "Time and parallelism", through the points (n, T) of `ns` and `ys`. The
    interval is slope +/- t_0.975 × standard error, t_0.975 the 97.5% quantile of Student's
    t distribution with len(ns) - 2 degrees of freedom (three points at least).
    """
    ns, ys = np.asarray(ns, dtype=float), np.asarray(ys, dtype=float)
    if ns.shape != ys.shape or ns.ndim != 1:
        raise ValueError(f"ns and ys must be 1-D and of equal length, got {ns.shape}, {ys.shape}")
    if len(ns) < 3:
        raise ValueError(f"ns must hold at least 3 points to give an interval, got {len(ns)}")
    if not (np.isfinite(ns).all() and np.isfinite(ys).all() and (ns > 0).all() and (ys > 0).all()):
        raise ValueError("ns and ys must be positive and finite to take logarithms")
    x, y = np.log(ns), np.log(ys)
    if np.ptp(x) == 0:
        raise ValueError("ns must hold at least two different lengths")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    dof = len(x) - 2
    error = math.sqrt((residual @ residual) / dof / ((x - x.mean()) @ (x - x.mean()))) if dof else 0
    half = _t975(dof) * error
    return float(slope), (float(slope - half), float(slope + half))


# 97.5% quantiles of Student's t for 1..30 degrees of freedom (any statistics table);
# beyond 30 the normal quantile 1.960 is within 2%.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def _t975(dof: int) -> float:
    return _T975[dof - 1] if 1 <= dof <= len(_T975) else 1.960


def exponents(records, min_n: int = 512) -> dict:
    """Fitted time exponent (slope, 95% interval) per (label, mode), over points with n >= min_n.

    Falls back to every point when fewer than three reach min_n; groups with fewer than three
    points that ran are left out.
    """
    groups = {}
    for record in records:
        if record.status == "ok":
            groups.setdefault((record.label, record.mode), []).append(record)
    fitted = {}
    for key, points in groups.items():
        chosen = [r for r in points if r.n >= min_n]
        chosen = chosen if len(chosen) >= 3 else points
        if len(chosen) >= 3:
            fitted[key] = fit_exponent([r.n for r in chosen], [r.median_s for r in chosen])
    return fitted


def largest_step(times: dict) -> tuple[float, int, int]:
    """Biggest ratio T(n_2) / T(n_1) of neighbouring n_1 < n_2 in {n: time}: (ratio, n_1, n_2).

    "Time and parallelism" uses it to find where a sweep jumps (a cache or allocator edge).
    """
    ns = sorted(times)
    if len(ns) < 2:
        raise ValueError(f"times must hold at least two lengths, got {len(ns)}")
    return max((times[b] / times[a], a, b) for a, b in zip(ns, ns[1:]))
