"""Choose a model from a dependency span, a length, a memory budget and a latency target.

Derived in "Choosing a model". The article's selection workflow as one function. Each
candidate is sized so its path reaches the span: the CNN by ``paths.covering_cnn``
(dilations δ_l = 2^(l-1)), a windowed Transformer with enough layers of its window; the others
reach any span. Both axes are then estimated with the package (``advisor.estimates``): path
length at the span, sequential steps, the whole training step (``formulas.budget``) against
the budget, the decode state, and roofline bounds on the device (``devices``). A candidate
that does not fit, misses the latency target or needs a deeper CNN than allowed is ruled
out, with its number; the rest are ranked: below the long-span threshold by the time bound
of a training step, or of one sequence's forward for inference (every candidate reaches
the span), at or above it by path length at the span, then by time (ties: the smaller
memory). The quadrant is the article's 2 x 2 matrix:
span small or large, budget small or large (whether explicit full attention fits).

The hybrid candidate is ``specs.Hybrid(stride, LSTM)``: a strided convolution, then an
LSTM on the shorter sequence. It does not decode one position at a time, so its decode
state is None and, for inference, its memory is the weights and one forward's output.

The two candidates of "Beyond the four" (registry flag ``beyond``) are linear attention,
sized like the Transformer (path length 1, O(n d d_k) work, a decode state of D h d_k
(d_k + 1) numbers per sequence), and one linear recurrence layer computed by its scan
(path length Δ like an RNN, 2 ceil(log2 n) - 2 sequential steps, a decode state of D B d).
Both hold the whole prefix in a state of fixed size, a loss the advisor cannot price
(accuracy is not among its inputs; "Beyond the four" measures it). So they rank after the
other candidates where those are as good on the first key: at the same path length (a
long span), or whenever one of the others is left (a short span). They are chosen where
the others cannot serve: full attention does not fit and every other path is longer
(linear attention at a long span), or a latency target rules the others out.
"""

from dataclasses import dataclass

from .. import devices
from ..checks import require_bool, require_choice, require_positive, require_real
from ..formulas import budget as training_budget
from ..formulas import paths
from ..registry import ARCHITECTURES
from ..specs import LSTM, Hybrid, LinearAttention, LinearRecurrence, Transformer
from .estimates import CHOICES, PRECISIONS, estimate

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
BEYOND = "Beyond the four"  # the chapter that derives the two linear candidates' numbers
# the candidates of "Beyond the four" (registry flag ``beyond``), ranked after the others
BEYOND_CHOICES = frozenset(c for c in CHOICES if c in ARCHITECTURES and ARCHITECTURES[c].beyond)


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
        "linear-attention": LinearAttention(d_model, heads, 4 * d_model, layers),
        "linear-recurrence": LinearRecurrence(d_model, layers=1, scan=True),
    }  # fmt: skip


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

    Derived in "Choosing a model" (module docstring), with the two candidates of "Beyond
    the four" ranked after the others as it says. device: a name of ``devices.DEVICES``,
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

    def rank(c, flagged=BEYOND_CHOICES):
        e = numbers[c]
        time = e[_time_name(training)]  # training: a step's time; inference: one sequence's latency
        path, memory = e["path_length_at_span"], e["memory_bytes"]
        demoted, later = small_data and c in TRANSFORMERS, c in flagged
        if long_span:
            return demoted, path, later, time, memory
        return demoted, later, time, path, memory

    left = [c for c in CHOICES if c not in ruled_out]
    ranked = sorted(left, key=rank)
    if not ranked:
        raise ValueError(f"no candidate fits budget_bytes={limit} within the latency target: "
                         + "; ".join(r.text for r in ruled_out.values()))  # fmt: skip
    choice = ranked[0]
    demoted_by = train_samples if small_data else None  # the count that ranked them last
    explicit_fits = "transformer" not in ruled_out or ruled_out["transformer"].against != limit
    quadrant = ("large span" if long_span else "small span",
                "large budget" if explicit_fits else "small budget")  # fmt: skip
    unflagged = min(left, key=lambda c: rank(c, ()))  # first with no candidate ranked later
    return Recommendation(
        choice, specs[choice], quadrant,
        _reasons(choice, numbers, limits, span_p90, long_span, ruled_out, demoted_by, training,
                 latency_p95_s),
        ranked[1] if len(ranked) > 1 else None,
        _what_would_change(choice, numbers, limits, long_span, ruled_out, demoted_by,
                           unflagged, training),
        numbers, ruled_out,
    )  # fmt: skip


def _source(c, chapter: str, function: str) -> tuple:
    """(chapter, function) behind a number of candidate c: "Beyond the four" derives the
    numbers of the two linear candidates."""
    return (BEYOND if c in BEYOND_CHOICES else chapter), function


def _memory_source(c, training: bool) -> tuple:
    """(chapter, function) behind a candidate's memory_bytes (``estimate``)."""
    if training:
        return _source(c, "The whole training budget", "formulas.budget.training_memory")
    return _source(c, "Inference and memory traffic", "formulas.decode.decode_state_bytes")


def _time_name(training: bool) -> str:
    return "step_time_bound_s" if training else "latency_bound_s"


def _rule_out(specs, numbers, limits, latency, training) -> dict:
    out = {}
    for c in CHOICES:
        e = numbers[c]
        if e["memory_bytes"] > e["budget_bytes"]:
            out[c] = Reason(f"{c}: {e['memory_bytes']:,} bytes do not fit the budget",
                            e["memory_bytes"], e["budget_bytes"],
                            *_memory_source(c, training))  # fmt: skip
        elif latency is not None and e["latency_bound_s"] > latency:
            out[c] = Reason(f"{c}: one sequence takes at least {e['latency_bound_s']:.3g} s",
                            e["latency_bound_s"], latency,
                            *_source(c, "Time and parallelism", "devices.roofline_time"))
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
                      None, *_source(choice, "Inference and memory traffic",
                                     "devices.roofline_time"))  # fmt: skip
    else:
        time = Reason(f"{choice}: latency bound of one sequence's forward (s)",
                      e["latency_bound_s"], latency,
                      *_source(choice, "Time and parallelism", "devices.roofline_time"))
    later = "at the same path length" if long_span else "while one of them is left"
    out = [
        Reason(f"span {'at or above' if long_span else 'below'} the long-span threshold: "
               f"ranked by {ranked_by}; linear attention and the linear recurrence after the "
               f"others {later}",
               span, limits["span_long"], "Long-range tasks", "advisor.recommend"),
        Reason(f"{choice}: path length at the span", e["path_length_at_span"], None,
               *_source(choice, "Routing graphs", "formulas.paths.path_length")),
        Reason(f"{choice}: memory against the budget", e["memory_bytes"], e["budget_bytes"],
               *_memory_source(choice, training)),
        time,
    ]  # fmt: skip
    if choice in BEYOND_CHOICES:  # what sets it apart: a state of fixed size, a short chain
        out.append(Reason(f"{choice}: decode state after n tokens, the same after every token "
                          "(bytes)", e["decode_state_bytes"], None, BEYOND,
                          "formulas.decode.decode_state_bytes"))  # fmt: skip
        out.append(Reason(f"{choice}: sequential steps of one forward", e["sequential_steps"],
                          None, BEYOND, "formulas.paths.sequential_steps"))  # fmt: skip
    if not training and e["token_latency_bound_s"] is not None:
        out.append(Reason(f"{choice}: latency bound of the next decoded token (s)",
                          e["token_latency_bound_s"], None,
                          *_source(choice, "Inference and memory traffic",
                                   "devices.roofline_time")))  # fmt: skip
    if samples is not None:  # below small_data, with a short span
        out.append(Reason("training sequences below the small-data threshold, span short: "
                          "the Transformers ranked last", samples, limits["small_data"],
                          "Capstone", "advisor.recommend"))  # fmt: skip
    return tuple(out + list(ruled_out.values()))


def _what_would_change(choice, numbers, limits, long_span, ruled_out, samples,
                       unflagged, training) -> tuple:  # fmt: skip
    out = []
    if samples is not None:
        out.append(f"with {limits['small_data']:,} training sequences or more: the "
                   f"Transformers ranked by time with the rest")  # fmt: skip
    too_big = {c: numbers[c]["memory_bytes"] for c in ("transformer", "transformer-fused")
               if c in ruled_out and ruled_out[c].against == numbers[c]["budget_bytes"]}
    if len(set(too_big.values())) == 1 and len(too_big) == 2 and choice in BEYOND_CHOICES:
        out.append(f"with more than {too_big['transformer'] / 2**30:.2f} GiB: full attention "
                   f"fits, with either kernel")  # fmt: skip
    else:
        for c, kernel in (("transformer", "explicit"), ("transformer-fused", "fused")):
            if c in too_big and (c == "transformer" or choice in BEYOND_CHOICES):
                out.append(f"with more than {too_big[c] / 2**30:.2f} GiB: full attention "
                           f"with the {kernel} kernel fits")  # fmt: skip
    if choice in BEYOND_CHOICES:
        slowed = [c for c, r in ruled_out.items() if c not in BEYOND_CHOICES
                  and r.function == "devices.roofline_time"]  # fmt: skip
        if slowed:
            fastest = min(slowed, key=lambda c: numbers[c]["latency_bound_s"])
            out.append(f"with a latency target of {numbers[fastest]['latency_bound_s']:.3g} s "
                       f"or more: {fastest} is left, one of the others")  # fmt: skip
    elif unflagged in BEYOND_CHOICES:  # the rule that ranks the two later decided the answer
        time = _time_name(training)
        out.append(f"ranked with the others, {unflagged} would come first: "
                   f"{numbers[unflagged][time]:.3g} s against {numbers[choice][time]:.3g} s "
                   f"(what its fixed-size state costs in accuracy: {BEYOND})")  # fmt: skip
    if long_span:
        out.append(f"with a span below {limits['span_long']}: the fastest model that reaches it")
    else:
        out.append(f"with a span of {limits['span_long']} or more: the shortest path that fits")
    return tuple(out)
