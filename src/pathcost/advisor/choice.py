"""Choose a model from a dependency span, a length, a memory budget and a latency target.

Derived in "Choosing a model". The article's selection workflow as one function. Each
candidate is sized so its path reaches the span: the CNN by ``paths.covering_cnn``
(dilations δ_l = 2^(l-1)), a windowed Transformer with enough layers of its window; the others
reach any span. Both axes are then estimated with the package: path length at the span,
sequential steps, the whole training step (``formulas.budget``) against the budget, the
decode state, and roofline bounds on the device (``devices``). A candidate that does not
fit, misses the latency target or needs a deeper CNN than allowed is ruled out, with its
number; the rest are ranked: below the long-span threshold by the time bound of a
training step, or of one sequence's forward for inference (every candidate reaches the
span), at or above it by path length at the span, then by time (ties: the smaller
memory). The quadrant is the article's 2 x 2 matrix:
span small or large, budget small or large (whether explicit full attention fits).

The hybrid candidate is ``specs.Hybrid(stride, LSTM)``: a strided convolution, then an
LSTM on the shorter sequence. It does not decode one position at a time, so its decode
state is None and, for inference, its memory is the weights and one forward's output.
"""

from dataclasses import dataclass

from .. import devices
from ..checks import require_bool, require_choice, require_positive, require_real
from ..formulas import budget as training_budget
from ..formulas import costs, decode, kernels, paths, traffic
from ..registry import DTYPES
from ..specs import LSTM, RNN, Hybrid, Transformer, body

# The thresholds, by name; each comment names the chapter whose measurement bears on it.
THRESHOLDS = {
    "span_long": 512,  # the article's "P90 > 512: Transformer advantages stable"; Long-range tasks
    "window": 256,  # a window radius, priced in "Cutting the n^2"
    "cnn_kernel": 3,  # the convolution's width, sized in "Receptive fields"
    "cnn_max_layers": 24,  # the deepest CNN allowed; "Gradient decay" on deep products
    "layers": 6,  # depth of the Transformer candidates; "Counting compute" prices a layer
    "stride": 4,  # the hybrid's front-end; "Cutting the n^2" measures downsampling
    # training sequences below which a short span ranks the Transformers last: the article's
    # "tens of thousands of samples" at n = 64, where it says a Transformer overfits; the
    # gap between training and held-out accuracy is measured in "Capstone"
    "small_data": 50_000,
}
TRANSFORMERS = ("transformer", "transformer-fused", "windowed-transformer")
CHOICES = ("lstm", "cnn", "transformer", "transformer-fused", "windowed-transformer", "hybrid")
PRECISIONS = {"bf16": "mixed-bf16", "fp16": "mixed-fp16", "fp32": "fp32"}  # dtype -> training


@dataclass(frozen=True)
class Reason:
    """A statement, the number that drove it (value), what it was held against, and the
    chapter that measured it. function names the package function value came from."""

    text: str
    value: float
    against: float | None
    chapter: str
    function: str


@dataclass(frozen=True)
class Recommendation:
    """The advisor's answer (module docstring); estimates maps every candidate to its numbers,
    ruled_out every excluded candidate to the reason."""

    choice: str
    spec: object
    quadrant: tuple
    reasons: tuple
    runner_up: str | None
    what_would_change: tuple
    estimates: dict
    ruled_out: dict


def candidates(span: int, d_model: int, heads: int, limits: dict) -> dict:
    """Each choice's spec, sized so its path reaches `span` positions back; limits override
    ``THRESHOLDS`` by name."""
    require_positive(span=span, d_model=d_model, heads=heads)
    limits = {**THRESHOLDS, **limits}
    w, layers = min(limits["window"], span), limits["layers"]
    full = Transformer(d_model, heads, 4 * d_model, layers)
    return {
        "lstm": LSTM(d_model, layers=1),
        "cnn": paths.covering_cnn(span, d_model, kernel=limits["cnn_kernel"], dilation_base=2),
        "transformer": full,
        "transformer-fused": full,
        "windowed-transformer": Transformer(d_model, heads, 4 * d_model,
                                            max(layers, -(-span // w)), window=w),
        "hybrid": Hybrid(limits["stride"], LSTM(d_model, layers=1)),
    }  # fmt: skip


def _bound(flops: float, moved: float, profile, dtype: str) -> float:
    """The roofline bound; where the table states no peak for dtype, the memory term alone
    (M_moved / β, still a lower bound)."""
    if dtype in profile.peak_flops:
        return devices.roofline_time(flops, moved, profile, dtype)
    return moved / profile.bandwidth_bytes_per_s


def estimate(choice: str, spec, span: int, n: int, batch: int, dtype: str, profile,
             budget: int, training: bool) -> dict:  # fmt: skip
    """Both axes of one candidate at the workload, every number from a package function.

    memory_bytes: the whole training step (``training_memory(...).total``, AdamW, the
    dtype's mixed precision, the device's autocast lists) or, for inference, the weights
    and the decode state after n tokens (a Hybrid: one forward's output).
    step_time_bound_s: the roofline of a training step, 3 x the forward's executed FLOPs
    and ideal bytes, and for a recurrence at least
    3 S(n) x one batched step's roofline (the chain runs forward, and backward at twice the
    work). latency_bound_s: one sequence's forward, the larger of its roofline and, for a
    recurrence (or a Hybrid's recurrent body), S(n) x one step's roofline.
    Where the device table states no peak for dtype the bounds keep the memory term only
    (compute_term False).
    """
    require_choice("choice", choice, CHOICES)
    require_choice("dtype", dtype, PRECISIONS)
    require_positive(span=span, n=n, batch=batch, budget=budget)
    require_bool(training=training)
    attention = "sdpa" if choice == "transformer-fused" else "explicit"
    torch_dtype = DTYPES[dtype]
    decodes = decode.decodes(spec)  # no Decoder runs a Hybrid
    state = decode.decode_state_bytes(spec, n, batch, torch_dtype) if decodes else None
    if training:
        memory = training_budget.training_memory(
            spec, n, batch, PRECISIONS[dtype], "adamw", False, attention,
            training_budget.device_lists(profile),
        ).total  # fmt: skip
    else:  # the weights, and the state a decoder keeps (a Hybrid: its forward's output)
        memory = costs.params(spec) * costs.itemsize(torch_dtype)
        memory += state if decodes else batch * n * spec.d_model * costs.itemsize(torch_dtype)
    flops = kernels.executed_forward_flops(spec, n, batch, attention)
    moved = traffic.bytes_moved(spec, n, batch, torch_dtype, "forward", "ideal")
    latency = _bound(flops / batch, moved / batch, profile, dtype)
    step_time = _bound(3 * flops, 3 * moved, profile, dtype)
    recurrence = body(spec)
    if isinstance(recurrence, (RNN, LSTM)):  # steps wait for each other, in backward too
        def chain(b: int) -> float:
            one = _bound(decode.decode_step_flops(recurrence, 0, b),
                         traffic.bytes_moved(recurrence, 0, b, torch_dtype, "decode", "ideal"),
                         profile, dtype)  # fmt: skip
            return paths.sequential_steps(spec, n) * one

        latency = max(latency, chain(1))
        step_time = max(step_time, 3 * chain(batch))
    return {
        "path_length_at_span": paths.path_length(spec, span),
        "sequential_steps": paths.sequential_steps(spec, n),
        "memory_bytes": memory,
        "budget_bytes": budget,
        "decode_state_bytes": state,
        "step_time_bound_s": step_time,
        "compute_term": dtype in profile.peak_flops,  # False: no sourced peak, memory term only
        "latency_bound_s": latency,
    }


def _check(span_p90, n_p90, batch, d_model, heads, latency_p95_s, training, dtype,
           train_samples, thresholds):  # fmt: skip
    require_positive(span_p90=span_p90, n_p90=n_p90, batch=batch, d_model=d_model, heads=heads)
    if train_samples is not None:
        require_positive(train_samples=train_samples)
    if span_p90 >= n_p90:
        raise ValueError(f"span_p90 must be shorter than n_p90 (a span lives inside a "
                         f"sequence), got span_p90={span_p90}, n_p90={n_p90}")  # fmt: skip
    if latency_p95_s is not None:  # seconds
        require_real("latency_p95_s", latency_p95_s, low=0, low_open=True)
    require_bool(training=training)
    require_choice("dtype", dtype, PRECISIONS)
    for name, value in thresholds.items():
        require_choice("threshold", name, THRESHOLDS)
        require_positive(**{name: value})


def recommend(span_p90: int, n_p90: int, *, device: str = "this", budget_bytes=None,
              batch: int = 1, training: bool = True, latency_p95_s=None, d_model: int = 512,
              heads: int = 8, dtype: str = "bf16", train_samples=None,
              **thresholds) -> Recommendation:  # fmt: skip
    """The model to try first for dependencies of span_p90 in sequences of n_p90 tokens.

    Derived in "Choosing a model" (module docstring). device: a name of ``devices.DEVICES``,
    "this" (measured now) or a ``devices.DeviceProfile`` (one measured before);
    budget_bytes: the memory to fit, bytes or a device (default: the device's);
    latency_p95_s: a bound in seconds on one sequence's forward pass, or None;
    train_samples: the training sequences there are, or None (unknown): below small_data,
    with a span below span_long, the Transformers rank after every other candidate;
    thresholds: override ``THRESHOLDS`` by name.
    """
    _check(span_p90, n_p90, batch, d_model, heads, latency_p95_s, training, dtype,
           train_samples, thresholds)  # fmt: skip
    limits = {**THRESHOLDS, **thresholds}
    measured = isinstance(device, devices.DeviceProfile)
    profile = device if measured else devices.device_profile(device)
    limit = training_budget.budget_bytes(profile if budget_bytes is None else budget_bytes)
    specs = candidates(span_p90, d_model, heads, limits)
    numbers = {c: estimate(c, s, span_p90, n_p90, batch, dtype, profile, limit, training)
               for c, s in specs.items()}  # fmt: skip
    ruled_out = _rule_out(specs, numbers, limits, latency_p95_s, training)
    long_span = span_p90 >= limits["span_long"]
    small_data = not long_span and train_samples is not None and (
        train_samples < limits["small_data"])

    def rank(c):  # training: a step's time; inference: one sequence's latency
        e = numbers[c]
        time = e["step_time_bound_s"] if training else e["latency_bound_s"]
        path, memory = e["path_length_at_span"], e["memory_bytes"]
        demoted = small_data and c in TRANSFORMERS
        return (demoted, path, time, memory) if long_span else (demoted, time, path, memory)

    ranked = sorted((c for c in CHOICES if c not in ruled_out), key=rank)
    if not ranked:
        raise ValueError(f"no candidate fits budget_bytes={limit} within the latency target: "
                         + "; ".join(r.text for r in ruled_out.values()))  # fmt: skip
    choice = ranked[0]
    demoted_by = train_samples if small_data else None  # the count that ranked them last
    explicit_fits = "transformer" not in ruled_out or ruled_out["transformer"].against != limit
    quadrant = ("large span" if long_span else "small span",
                "large budget" if explicit_fits else "small budget")  # fmt: skip
    return Recommendation(
        choice, specs[choice], quadrant,
        _reasons(choice, numbers, limits, span_p90, long_span, ruled_out, demoted_by, training,
                 latency_p95_s),
        ranked[1] if len(ranked) > 1 else None,
        _what_would_change(choice, numbers, limits, long_span, ruled_out, demoted_by),
        numbers, ruled_out,
    )  # fmt: skip


def _memory_source(training: bool) -> tuple:
    """(chapter, function) behind a candidate's memory_bytes (``estimate``)."""
    if training:
        return "The whole training budget", "formulas.budget.training_memory"
    return "Inference and memory traffic", "formulas.decode.decode_state_bytes"


def _rule_out(specs, numbers, limits, latency, training) -> dict:
    out = {}
    for c in CHOICES:
        e = numbers[c]
        if e["memory_bytes"] > e["budget_bytes"]:
            out[c] = Reason(f"{c}: {e['memory_bytes']:,} bytes do not fit the budget",
                            e["memory_bytes"], e["budget_bytes"], *_memory_source(training))
        elif latency is not None and e["latency_bound_s"] > latency:
            out[c] = Reason(f"{c}: one sequence takes at least {e['latency_bound_s']:.3g} s",
                            e["latency_bound_s"], latency, "Time and parallelism",
                            "devices.roofline_time")  # fmt: skip
        elif c == "cnn" and specs[c].layers > limits["cnn_max_layers"]:
            out[c] = Reason(f"cnn: reaching the span takes {specs[c].layers} layers",
                            specs[c].layers, limits["cnn_max_layers"], "Receptive fields",
                            "formulas.paths.layers_to_cover")  # fmt: skip
    return out


def _reasons(choice, numbers, limits, span, long_span, ruled_out, samples, training,
             latency) -> tuple:  # fmt: skip
    e = numbers[choice]
    bound = "the time bound of a step" if training else "one sequence's latency bound"
    ranked_by = "path length at the span" if long_span else bound
    if training:
        time = Reason(f"{choice}: time bound of a training step (s)", e["step_time_bound_s"],
                      None, "Inference and memory traffic", "devices.roofline_time")
    else:
        time = Reason(f"{choice}: latency bound of one sequence's forward (s)",
                      e["latency_bound_s"], latency, "Time and parallelism",
                      "devices.roofline_time")  # fmt: skip
    out = [
        Reason(f"span {'at or above' if long_span else 'below'} the long-span threshold: "
               f"ranked by {ranked_by}", span, limits["span_long"], "Long-range tasks",
               "advisor.recommend"),
        Reason(f"{choice}: path length at the span", e["path_length_at_span"], None,
               "Routing graphs", "formulas.paths.path_length"),
        Reason(f"{choice}: memory against the budget", e["memory_bytes"], e["budget_bytes"],
               *_memory_source(training)),
        time,
    ]  # fmt: skip
    if samples is not None:  # below small_data, with a short span
        out.append(Reason("training sequences below the small-data threshold, span short: "
                          "the Transformers ranked last", samples, limits["small_data"],
                          "Capstone", "advisor.recommend"))  # fmt: skip
    return tuple(out + list(ruled_out.values()))


def _what_would_change(choice, numbers, limits, long_span, ruled_out, samples) -> tuple:
    out = []
    if samples is not None:
        out.append(f"with {limits['small_data']:,} training sequences or more: the "
                   f"Transformers ranked by time with the rest")  # fmt: skip
    explicit = numbers["transformer"]
    if "transformer" in ruled_out and ruled_out["transformer"].against == explicit["budget_bytes"]:
        out.append(f"with more than {explicit['memory_bytes'] / 2**30:.2f} GiB: full "
                   f"attention with the explicit kernel fits")  # fmt: skip
    if long_span:
        out.append(f"with a span below {limits['span_long']}: the fastest model that reaches it")
    else:
        out.append(f"with a span of {limits['span_long']} or more: the shortest path that fits")
    return tuple(out)
