"""The rules of thumb of the source article, each recomputed by the package, with a verdict.

Shown in the appendix "Rules of thumb, checked". One list, ``CLAIMS``: every claim is what
the article (or folklore beside it) states, the value it states, one or more readings that
recompute that value with package calls, and the chapter section that works it out. The
verdict is computed, never typed: a reading agrees when its value, brought to the
precision of the stated value, equals it (or satisfies the stated bound); the claim
"holds" when every reading agrees, is "wrong" when none does, and "depends on convention"
when some readings (units, conventions, kernels) agree and others do not.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from functools import lru_cache

import torch

from .advisor import choice
from .checks import require_callable, require_choice
from .experiments import decay
from .formulas import budget, costs, kernels, paths
from .measure import jacobians, steps
from .models import seeded, seeded_input
from .specs import CNN, LSTM, RNN, Transformer

VERDICTS = ("holds", "wrong", "depends on convention")
RELATIONS = {"≈": "≈", "=": "", ">": ">", "<": "<", "in": ""}  # relation: as printed
SCALES = {"k": 3, "M": 6, "B": 9}  # suffixes of a stated value: 16k, 268M, 2.1B
MiB, GiB = 2**20, 2**30
FP16 = torch.float16
ARTICLE = Transformer(512, 8, 2048, 1)  # d = 512, h = 8 (d_k = 64), d_ff = 2048: one layer


@dataclass(frozen=True)
class Reading:
    """One way to recompute a claim: its convention, in words, and the package calls
    (compute, no arguments). cut: bring the value to the stated precision by cutting
    digits instead of rounding them."""

    convention: str
    compute: Callable[[], float | tuple]
    cut: bool = False


@dataclass(frozen=True)
class Claim:
    """A rule of thumb: key (an id), topic, text (the claim, paraphrased, with {} where the
    stated value goes), said (the value as stated: "0.000026", "16k", "3–4", "1/4"), unit,
    relation (one of ``RELATIONS``), readings, and doc and label, the chapter and the
    section label that show it."""

    key: str
    topic: str
    text: str
    said: str
    unit: str
    relation: str
    readings: tuple
    doc: str
    label: str

    def __post_init__(self):
        if not isinstance(self.text, str) or self.text.count("{}") != 1:
            raise ValueError(f"text must hold one {{}} for the stated value, got {self.text!r}")
        require_choice("relation", self.relation, RELATIONS)
        stated(self.said)  # parses, or raises naming `said`
        for reading in self.readings:
            require_callable(compute=reading.compute)


def stated(said: str) -> Decimal | tuple:
    """The stated value as an exact Decimal ("16k" -> 16E3, "1/4" -> 0.25), its last digit
    kept as the precision; a range "a–b" as (a, b)."""
    if not isinstance(said, str) or not said:
        raise ValueError(f"said must be a stated number such as '0.000026' or '16k', got {said!r}")
    if "–" in said:
        low, high = said.split("–")
        return stated(low), stated(high)
    if "/" in said:
        top, bottom = said.split("/")
        return stated(top) / stated(bottom)
    scale = SCALES.get(said[-1], 0)
    try:
        return Decimal(said[:-1] if scale else said).scaleb(scale)
    except ArithmeticError:
        raise ValueError(
            f"said must be a stated number such as '0.000026' or '16k', got {said!r}"
        ) from None


def agrees(said: str, relation: str, value, cut: bool = False) -> bool:
    """Whether a recomputed value reproduces the stated one under `relation`.

    "≈": the value brought to the last stated digit (rounded, or cut if `cut`) equals it;
    "=": exactly equal; ">" and "<": the strict bound holds; "in": every value (one, or a
    tuple) lies in the stated range a–b, ends included.
    """
    require_choice("relation", relation, RELATIONS)
    target = stated(said)
    values = value if isinstance(value, tuple) else (value,)
    exact = [Decimal(v) for v in values]  # a float's exact binary value
    if relation == "in":
        low, high = target
        return all(low <= v <= high for v in exact)
    (v,) = exact
    if relation == "≈":
        rounding = ROUND_DOWN if cut else ROUND_HALF_EVEN
        return v.quantize(Decimal(1).scaleb(target.as_tuple().exponent), rounding) == target
    return {"=": v == target, ">": v > target, "<": v < target}[relation]


def verdict(agreements) -> str:
    """"holds" if every reading agrees, "wrong" if none does, else "depends on convention"."""
    agreements = tuple(agreements)
    if not agreements or not all(isinstance(a, bool) for a in agreements):
        raise ValueError(f"agreements must be one or more booleans, got {agreements!r}")
    if all(agreements):
        return VERDICTS[0]
    return VERDICTS[2] if any(agreements) else VERDICTS[1]


# The recomputations. Each is a package call; the claims below only name them.


def _power(rho: float, steps_back: int) -> float:
    """||W^Δ||_2 of the linear RNN with spectral radius ρ: its gradient factor after Δ steps."""
    W = decay.recurrent_matrix(8, rho)
    return torch.linalg.matrix_norm(torch.linalg.matrix_power(W, steps_back), ord=2).item()


def _macs(spec, n: int, *components) -> int:
    """MACs (FLOPs / 2) of the named components of one forward pass, all if none named."""
    parts = costs.forward_flops_by_component(spec, n)
    return sum(parts[c] for c in components or parts) // 2


def _first_n(wins, spec, lo: int = 1, hi: int = 1 << 16) -> int:
    """Smallest n with wins(FLOPs by component at n), by bisection (False at lo, True at hi)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if wins(costs.forward_flops_by_component(spec, mid)) else (mid, hi)
    return hi


def _chain(spec, n: int, batch: int) -> int:
    """Measured sequential steps of the seeded module on a batch of `batch` sequences."""
    unit = steps.longest_chain(seeded(replace(spec, layers=1)), seeded_input(1, spec.d_model))
    x = seeded_input(n, spec.d_model).expand(batch, n, spec.d_model).contiguous()
    return steps.longest_chain(seeded(spec), x, unit)


def _transformer_pick(n: int = 4096) -> int:
    """Smallest P90 span at which the advisor's first pick is a Transformer (T4, B = 1, fp16)."""

    def picks(span):
        pick = choice.recommend(span, n, device="t4", batch=1, dtype="fp16").choice
        return pick in choice.TRANSFORMERS

    lo, hi = 1, n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if picks(mid) else (mid, hi)
    return hi


def _field(layers: int, dilations=None) -> int | float:
    """Measured receptive field (the Jacobian's span) of a k = 3 CNN."""
    return jacobians.receptive_field(CNN(4, kernel=3, layers=layers, dilations=dilations))


def _weights(n: int, heads: int, batch: int, unit: int) -> float:
    """One layer's float16 attention weights, in `unit` bytes."""
    return costs.attention_weights_bytes(n, heads, batch, FP16) / unit


def _n_max(budget: int, overhead: float = 1.0) -> int:
    """Longest n whose float16 weights (B = 2, h = 8), times `overhead`, fit `budget` bytes."""
    return costs.weights_max_seq_len(budget, heads=8, batch=2, dtype=FP16, overhead=overhead)


def _headroom_whole_step() -> float:
    """Weights-only n_max over the n whose whole training step fits 8 GB (six layers, B = 2)."""
    six = Transformer(512, 8, 2048, 6)
    return _n_max(8 * 10**9) / budget.max_seq_len(six, 8 * 10**9, 2, "mixed-fp16", "adam")


def _window_saving() -> float:
    """Attention FLOPs of full attention over a causal window of radius 256, n = 2048."""
    full = costs.forward_flops_by_component(ARTICLE, 2048)
    window = costs.forward_flops_by_component(Transformer(512, 8, 2048, 1, window=256), 2048)
    return (full["scores"] + full["values"]) / (window["scores"] + window["values"])


def _longest_16gb(attention: str) -> int:
    """Longest n whose training step fits a T4 (six layers, B = 1, Adam, fp16 autocast)."""
    return budget.max_seq_len(Transformer(512, 8, 2048, 6), "t4", 1, "mixed-fp16", "adam",
                              attention=attention)  # fmt: skip


def _scores_alone(parts) -> bool:
    """QK^T alone costs more than both FFN products (the rule of thumb's reading)."""
    return parts["scores"] > parts["ffn"]


R, C = Reading, Claim
MIB_READING, MB_READING = "“MB” read as MiB (2^20 bytes)", "“MB” read as 10^6 bytes"
CAUSAL, CENTRED = "causal stack, distance {}", "centred stack, distance {}"
# fmt: off
CLAIMS = (
    # gradient decay: ||W^Δ|| of a linear recurrence, or a forget gate held at γ
    C("decay-0.9-100", "gradient decay", "An average factor of 0.9 per step leaves about {} of "
      "the gradient after 100 steps", "0.000026", "", "≈",
      (R("last digit rounded", lambda: _power(0.9, 100)),
       R("last digit cut", lambda: _power(0.9, 100), cut=True)), "gradient_decay", "decay-quoted"),
    C("decay-0.99-100", "gradient decay", "A factor of 0.99 still leaves only {} after 100 "
      "steps", "0.366", "", "≈",
      (R("last digit rounded", lambda: _power(0.99, 100)),
       R("last digit cut", lambda: _power(0.99, 100), cut=True)), "gradient_decay", "decay-quoted"),
    C("decay-0.95-200", "gradient decay", "A forget gate near 0.95 keeps {} of the memory after "
      "200 steps", "0.00034", "", "≈",
      (R("last digit rounded", lambda: _power(0.95, 200)),
       R("last digit cut", lambda: _power(0.95, 200), cut=True)), "gradient_decay", "decay-quoted"),
    C("decay-0.99-200", "gradient decay", "A forget gate near 0.99 keeps {} after 200 steps",
      "0.133", "", "≈",
      (R("last digit rounded", lambda: _power(0.99, 200)),
       R("last digit cut", lambda: _power(0.99, 200), cut=True)), "gradient_decay", "decay-quoted"),
    # attention weights, B h n^2 b, and the GPU examples
    C("weights-one-head-8192", "attention weights", "One head's float16 attention weights at "
      "n = 8192 take {} MB", "128", "MB", "≈",
      (R(MIB_READING, lambda: _weights(8192, 1, 1, MiB)),
       R(MB_READING, lambda: _weights(8192, 1, 1, 10**6))), "memory", "mem-per-head"),
    C("weights-b4-2048", "attention weights", "B = 4, h = 8, n = 2048 in float16 take about "
      "{} MB of weights", "512", "MB", "≈",
      (R(MIB_READING, lambda: _weights(2048, 8, 4, MiB)),
       R(MB_READING, lambda: _weights(2048, 8, 4, 10**6))), "memory", "mem-batch-heads"),
    C("weights-b4-4096", "attention weights", "B = 4, h = 8, n = 4096 take more than {} GB of "
      "weights", "1", "GB", ">",
      (R("“GB” read as GiB (2^30 bytes)", lambda: _weights(4096, 8, 4, GiB)),
       R("“GB” read as 10^9 bytes", lambda: _weights(4096, 8, 4, 10**9))), "memory",
      "mem-batch-heads"),
    C("weights-24gb-4096", "GPU examples", "On a 24 GB card, B = 2, h = 8, n = 4096 take about "
      "{} MB of weights", "512", "MB", "≈",
      (R(MIB_READING, lambda: _weights(4096, 8, 2, MiB)),
       R(MB_READING, lambda: _weights(4096, 8, 2, 10**6))), "memory", "mem-budget-article"),
    C("oom-16gb-8k", "GPU examples", "On a 16 GB card, training full attention at n = 8k runs "
      "out of memory: the longest n that fits is below {}", "8192", "tokens", "<",
      (R("explicit kernel, six layers, B = 1, Adam, fp16 autocast, T4",
         lambda: _longest_16gb("explicit")),
       R("fused kernel (sdpa), the same model", lambda: _longest_16gb("sdpa"))), "cutting_n2",
      "cut-thresholds"),
    # the KV cache
    C("kv-cache-4096", "KV cache", "The KV cache for B = 1, h = 8, n = 4096, d_k = 64 takes "
      "about {} MB", "4", "MB", "≈",
      (R("K and V of one layer, MiB",
         lambda: costs.kv_cache_bytes(ARTICLE, 4096, 1, FP16) / MiB),
       R("K and V of one layer, 10^6 bytes",
         lambda: costs.kv_cache_bytes(ARTICLE, 4096, 1, FP16) / 10**6)), "memory",
      "mem-kv-article"),
    # the longest n for a budget, and the headroom rule
    C("n-max-8gb", "max n for a budget", "With 8 GB, B = 2, h = 8 in float16 the weights allow "
      "n up to about {}", "16k", "tokens", "≈",
      (R("8 GiB (2^33 bytes)", lambda: _n_max(8 * GiB)),
       R("8 · 10^9 bytes", lambda: _n_max(8 * 10**9))), "memory", "mem-budget-article"),
    C("headroom-sqrt", "headroom", "Leaving 4× to 8× headroom makes the longest n {} times "
      "smaller", "3–4", "times smaller", "in",
      (R("memory × 4 and × 8 on the weights' n_max (8 GiB, B = 2, h = 8)",
         lambda: tuple(_n_max(8 * GiB) / _n_max(8 * GiB, o) for o in (4, 8))),), "memory",
      "mem-budget-article"),
    C("headroom-whole-step", "headroom", "Counting all a training step keeps, the real n is {} "
      "times below the weights-only n", "3–4", "times smaller", "in",
      (R("six layers, d = 512, 8 GB, B = 2, Adam, fp16 autocast", _headroom_whole_step),),
      "training_budget", "budget-headroom"),
    # MAC counts at n = 1024, d = 512
    C("macs-rnn", "MAC counts", "An RNN at n = 1024, d = 512 costs about {} MACs", "268M",
      "MACs", "≈", (R("both products, W_x x and W_h h", lambda: _macs(RNN(512), 1024)),),
      "counting_compute", "cc-article"),
    C("macs-lstm", "MAC counts", "An LSTM of the same size costs about {} MACs", "1.07B",
      "MACs", "≈", (R("all four gates, both products", lambda: _macs(LSTM(512), 1024)),),
      "counting_compute", "cc-article"),
    C("macs-lstm-ratio", "MAC counts", "An LSTM costs {} times as much as an RNN", "4", "×", "=",
      (R("LSTM MACs over RNN MACs", lambda: _macs(LSTM(512), 1024) / _macs(RNN(512), 1024)),),
      "counting_compute", "cc-article"),
    C("macs-attention", "MAC counts", "Attention at n = 1024 with d_k = 64 costs about {} MACs",
      "67M", "MACs", "≈",
      (R("QKᵀ and AV of all eight heads", lambda: _macs(ARTICLE, 1024, "scores", "values")),),
      "counting_compute", "cc-article"),
    C("macs-ffn", "MAC counts", "The FFN with d_ff = 2048 costs about {} MACs", "2.1B", "MACs",
      "≈", (R("both FFN products", lambda: _macs(ARTICLE, 1024, "ffn")),), "counting_compute",
      "cc-article"),
    # the attention / FFN crossover
    C("crossover", "attention/FFN crossover", "Attention outweighs the FFN only for n above "
      "2 d_ff, that is above {} for d_ff = 2048", "4096", "tokens", "=",
      (R("QKᵀ alone against both FFN products", lambda: _first_n(_scores_alone, ARTICLE) - 1),
       R("QKᵀ and AV, a kernel that scores every pair",
         lambda: costs.attention_ffn_crossover(ARTICLE) - 1),
       R("QKᵀ and AV, a causal kernel skipping every masked pair",
         lambda: kernels.causal_crossover(ARTICLE, tiles=(1, 1)) - 1)), "counting_compute",
      "cc-crossover"),
    # receptive fields and the layers to cover a distance
    C("rf-8-layers", "receptive field", "Eight layers of k = 3 see only R = {} positions", "17",
      "positions", "=", (R("measured field (Jacobian)", lambda: _field(8)),),
      "receptive_fields", "rf-shallow"),
    C("rf-20-layers", "receptive field", "Twenty layers of k = 3 see R = {} positions", "41",
      "positions", "=", (R("measured field (Jacobian)", lambda: _field(20)),),
      "receptive_fields", "rf-growth-article"),
    C("rf-dilated", "receptive field", "Dilations 1, 2, 4, 8 with k = 3 give R = {}", "31",
      "positions", "=", (R("measured field (Jacobian)", lambda: _field(4, (1, 2, 4, 8))),),
      "receptive_fields", "rf-dilation"),
    C("cover-512-k3", "layers to cover a distance", "Covering 512 positions with k = 3 takes {} "
      "layers", "256", "layers", "=",
      (R(CAUSAL.format(511), lambda: paths.layers_to_cover(511, 3, causal=True)),
       R(CENTRED.format(511), lambda: paths.layers_to_cover(511, 3, causal=False))),
      "receptive_fields", "rf-heard"),
    C("cover-512-r1", "layers to cover a distance", "With radius 1 (k = 3), a distance of 512 "
      "takes {} layers", "512", "layers", "=",
      (R(CENTRED.format(512), lambda: paths.layers_to_cover(512, 3, causal=False)),
       R(CAUSAL.format(512), lambda: paths.layers_to_cover(512, 3, causal=True))),
      "receptive_fields", "rf-heard"),
    C("cover-256-r2", "layers to cover a distance", "With radius 2 (k = 5), a distance of 256 "
      "takes {} layers", "128", "layers", "=",
      (R(CENTRED.format(256), lambda: paths.layers_to_cover(256, 5, causal=False)),
       R(CAUSAL.format(256), lambda: paths.layers_to_cover(256, 5, causal=True))),
      "receptive_fields", "rf-heard"),
    # sequential latency: S times an assumed time per step
    C("latency-rnn-512", "sequential latency", "At 0.3 ms a step, an RNN forward at n = 512 "
      "takes about {} ms", "154", "ms", "≈",
      (R("S of an RNN × 0.3 ms", lambda: paths.sequential_steps(RNN(512), 512) * 0.3),),
      "time_parallelism", "time-article"),
    C("latency-six-layers", "sequential latency", "At 0.3 ms a step, a six-layer Transformer "
      "takes about {} ms", "1.8", "ms", "≈",
      (R("S of six layers × 0.3 ms",
         lambda: paths.sequential_steps(Transformer(512, 8, 2048, 6), 512) * 0.3),),
      "time_parallelism", "time-article"),
    C("latency-rnn-1024", "sequential latency", "At 0.2 ms a step, an RNN forward at n = 1024 "
      "takes about {} ms", "205", "ms", "≈",
      (R("S of an RNN × 0.2 ms", lambda: paths.sequential_steps(RNN(512), 1024) * 0.2),),
      "time_parallelism", "time-article"),
    # sequential steps are a hard ceiling
    C("steps-ceiling", "sequential steps", "An RNN at n = 1024 needs {} ordered steps; more "
      "GPUs add batch, not fewer steps", "1024", "steps", "=",
      (R("measured chain, B = 1", lambda: _chain(RNN(4), 1024, 1)),
       R("measured chain, B = 8 (a batch split over devices)", lambda: _chain(RNN(4), 1024, 8))),
      "time_parallelism", "time-batch"),
    C("steps-transformer", "sequential steps", "A six-layer Transformer takes {} ordered steps "
      "at n = 1024", "6", "steps", "=",
      (R("measured chain, B = 1",
         lambda: steps.sequential_steps(Transformer(4, 1, 8, 6), 1024)),),
      "routing_graphs", "routing-steps"),
    # the window and downsampling
    C("window-saving", "window saving", "A window of 256 at n = 2048 makes attention about {} "
      "times cheaper", "8", "×", "≈",
      (R("256 keys per query (a causal radius of 255) against all n keys",
         lambda: 2048 / kernels.window_size(255, causal=True)),
       R("radius w = 256, the blocked causal kernel's attention FLOPs", _window_saving)),
      "cutting_n2", "cut-window-article"),
    C("window-path", "window saving", "Windows of 256 at n = 2048 need n / w = {} layers to "
      "reach across", "8", "layers", "=",
      (R("distance 2047, first to last",
         lambda: paths.path_length(Transformer(512, 8, 2048, 64, window=256), 2047)),
       R("distance 2048",
         lambda: paths.path_length(Transformer(512, 8, 2048, 64, window=256), 2048))),
      "cutting_n2", "cut-path-length"),
    C("downsample-quarter", "window saving", "Halving n from 2048 to 1024 cuts attention cost "
      "to {}", "1/4", "", "=",
      (R("attention products, FLOPs", lambda: _macs(ARTICLE, 1024, "scores", "values")
         / _macs(ARTICLE, 2048, "scores", "values")),
       R("attention weights, bytes", lambda: costs.attention_weights_bytes(1024, 8)
         / costs.attention_weights_bytes(2048, 8))), "cutting_n2", "cut-downsample-cost"),
    # the length and span thresholds
    C("threshold-n-2048", "thresholds", "Up to n = {} full attention is usually affordable: "
      "the FFN still costs at least as much", "2048", "tokens", "=",
      (R("a kernel that scores every pair (an encoder)",
         lambda: costs.attention_ffn_crossover(ARTICLE) - 1),
       R("a causal kernel skipping every masked pair",
         lambda: kernels.causal_crossover(ARTICLE, tiles=(1, 1)) - 1)), "cutting_n2",
      "cut-thresholds"),
    C("threshold-span-512", "thresholds", "From a P90 span of {} on, a Transformer is the model "
      "to try", "512", "tokens", "=",
      (R("smallest span the advisor gives to a Transformer (n = 4096, T4, B = 1, fp16)",
         _transformer_pick),), "choosing_a_model", "choose-questions"),
    C("threshold-truncation", "thresholds", "Truncating backpropagation to 256 steps caps the "
      "learnable span at {}", "256", "", "=",
      (R("positions one chunk spans",
         lambda: 1 + max(decay.truncated_reach(t, 256) for t in range(512))),
       R("steps back, a distance",
         lambda: max(decay.truncated_reach(t, 256) for t in range(512)))),
      "gradient_decay", "decay-reach"),
)
# fmt: on
del R, C


@dataclass(frozen=True)
class Result:
    """A claim with its readings' values, whether each agrees, and the verdict."""

    claim: Claim
    values: tuple
    agreements: tuple
    verdict: str


@lru_cache(maxsize=1)
def results() -> tuple:
    """Every claim of ``CLAIMS`` recomputed (cached: the measured ones take a few seconds)."""
    out = []
    for c in CLAIMS:
        values = tuple(r.compute() for r in c.readings)
        agreed = tuple(agrees(c.said, c.relation, v, r.cut) for r, v in zip(c.readings, values))
        out.append(Result(c, values, agreed, verdict(agreed)))
    return tuple(out)


def shown(value) -> str:
    """A recomputed value as the table prints it: integers with separators, 5 digits else."""
    if isinstance(value, tuple):
        return " and ".join(shown(v) for v in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.5g}"


def table() -> list[dict]:
    """One row per claim: claim, stated, recomputed (each reading: value, convention, ✓ or
    ✗), verdict, doc and label (the chapter and section that show it)."""
    rows = []
    for r in results():
        c = r.claim
        said = " ".join(s for s in (RELATIONS[c.relation], c.said, c.unit) if s)
        recomputed = "; ".join(
            f"{shown(v)} ({reading.convention}) {'✓' if ok else '✗'}"
            for reading, v, ok in zip(c.readings, r.values, r.agreements))  # fmt: skip
        rows.append({"key": c.key, "topic": c.topic, "claim": c.text.format(c.said),
                     "stated": said, "recomputed": recomputed, "verdict": r.verdict,
                     "doc": c.doc, "label": c.label})  # fmt: skip
    return rows


def counts() -> dict:
    """How many claims get each verdict, in the order of ``VERDICTS``."""
    verdicts = [r.verdict for r in results()]
    return {v: verdicts.count(v) for v in VERDICTS}

