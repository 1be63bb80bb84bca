"""What ``python -m pathcost recommend`` prints: the choice, its quadrant, its reasons with
their numbers, the runner-up, what would change the answer, and what was ruled out."""

import dataclasses
import math


def as_dict(recommendation) -> dict:
    """The Recommendation as plain data (spec as its repr) for ``--json``."""
    data = dataclasses.asdict(recommendation)
    data["spec"] = repr(recommendation.spec)
    return data


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "unreachable"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{int(value):,}"


def recommendation_report(recommendation) -> str:
    """The recommendation as aligned text: one line per reason, value against threshold."""
    r = recommendation
    lines = [f"choice        {r.choice}: {r.spec!r}", f"quadrant      {', '.join(r.quadrant)}",
             f"runner-up     {r.runner_up or 'none'}", "reasons"]  # fmt: skip
    for reason in r.reasons:
        against = "" if reason.against is None else f" against {_number(reason.against)}"
        lines.append(f"  {reason.text}: {_number(reason.value)}{against} ({reason.chapter})")
    lines.append("what would change the answer")
    lines += [f"  {change}" for change in r.what_would_change]
    return "\n".join(lines)
