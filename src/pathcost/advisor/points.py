"""The advisor's candidates on the two axes, measured and by formula ("Choosing a model").

One point per candidate and route: path length at the span from the Jacobians of the real
module (input 0 to output span) and forward FLOPs from the FLOP counter on the meta device,
beside ``paths.path_length`` and ``costs.forward_flops``. The fused Transformer is left out:
it is the explicit one on both axes. ``plots.advisor.two_axis_map`` draws the points.
"""

import torch

from .. import measure
from ..checks import require_positive
from ..formulas import costs, paths
from ..models import build
from .choice import THRESHOLDS, candidates


def two_axis_points(span: int, n: int, d_model: int, heads: int, **limits) -> list:
    """(spec, path length at `span`, forward FLOPs at `n`, measured) for every candidate of
    ``choice.candidates(span, d_model, heads, limits)`` but the fused Transformer: a
    measured point (True) and a formula point (False) each. Needs n > span."""
    require_positive(span=span, n=n)
    if n <= span:
        raise ValueError(f"n must be longer than the span {span} to measure it, got n={n}")
    points = []
    for name, spec in candidates(span, d_model, heads, {**THRESHOLDS, **limits}).items():
        if name == "transformer-fused":
            continue
        with torch.device("meta"):
            module, x = build(spec), torch.empty(1, n, spec.d_model)
        points.append((spec, measure.path_length(spec, n, 0, span),
                       measure.flops(module, x), True))  # fmt: skip
        points.append((spec, paths.path_length(spec, span), costs.forward_flops(spec, n), False))
    return points
