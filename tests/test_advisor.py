"""The advisor's choice: its quadrants, its exclusions with their numbers, and its properties."""

import functools
import math

import pytest
import torch

import pathcost as pc
from pathcost.advisor.choice import CHOICES, THRESHOLDS, TRANSFORMERS, candidates, recommend
from pathcost.formulas import budget, kernels, paths

# (keyword arguments, expected quadrant); fp16 because a T4 has no bf16 peak
CASES = {
    "small span, large budget": dict(span_p90=64, n_p90=128, device="t4", batch=32, dtype="fp16"),
    "small span, small budget": dict(span_p90=64, n_p90=16384, device="t4", batch=8, dtype="fp16"),
    "large span, large budget": dict(span_p90=600, n_p90=4096, device="a100-80gb", batch=2),
    "large span, small budget": dict(span_p90=1000, n_p90=3000, device="t4", batch=4,
                                     d_model=768, heads=12, dtype="fp16"),
}  # fmt: skip


@pytest.mark.parametrize("quadrant", list(CASES))
def test_every_quadrant_is_reached(quadrant):
    r = recommend(**CASES[quadrant])
    assert ", ".join(r.quadrant) == quadrant
    assert r.choice in CHOICES
    assert paths.path_length(r.spec, CASES[quadrant]["span_p90"]) < math.inf  # it reaches


def test_explicit_attention_ruled_out_by_the_budget_and_the_fused_kernel_admitted():
    args = CASES["large span, small budget"]
    r = recommend(**args)
    out = r.ruled_out["transformer"]
    explicit = pc.training_memory(pc.Transformer(768, 12, 3072, 6), 3000, 4, "mixed-fp16",
                                  "adamw", lists="cuda").total  # fmt: skip
    assert out.value == explicit and out.against == budget.budget_bytes("t4") < explicit
    assert r.choice == "transformer-fused" and "transformer-fused" not in r.ruled_out
    assert any("full attention" in change for change in r.what_would_change)


def test_a_latency_target_rules_out_the_serial_models_with_the_number():
    r = recommend(span_p90=600, n_p90=4096, device="a100-80gb", batch=2, latency_p95_s=1e-3)
    reason = r.ruled_out["lstm"]
    assert reason.against == 1e-3 < reason.value == r.estimates["lstm"]["latency_bound_s"]
    steps = paths.sequential_steps(pc.LSTM(512), 4096)
    assert reason.value >= steps * 1e-3 / 4096  # S sequential steps, each at least a bound
    assert f"{reason.value:.3g}" in reason.text


def test_a_span_beyond_the_reach_of_a_cnn_of_the_allowed_depth():
    r = recommend(span_p90=300, n_p90=1024, device="a100-80gb", cnn_max_layers=3)
    needed = paths.covering_cnn(300, 512, kernel=THRESHOLDS["cnn_kernel"], dilation_base=2)
    assert needed.layers > 3
    assert r.ruled_out["cnn"].value == needed.layers and r.ruled_out["cnn"].against == 3


def test_every_number_in_the_reasons_is_the_package_functions():
    args = CASES["large span, small budget"]
    r = recommend(**args)
    e = r.estimates[r.choice]
    by_text = {reason.text.split(": ", 1)[-1]: reason for reason in r.reasons}
    assert by_text["path length at the span"].value == paths.path_length(r.spec, 1000)
    attention = "sdpa" if r.choice == "transformer-fused" else "explicit"
    total = pc.training_memory(r.spec, 3000, 4, "mixed-fp16", "adamw", False, attention,
                               "cuda").total  # fmt: skip
    assert by_text["memory against the budget"].value == total == e["memory_bytes"]
    flops = kernels.executed_forward_flops(r.spec, 3000, 4, attention)
    moved = pc.bytes_moved(r.spec, 3000, 4, pc.registry.DTYPES["fp16"], "forward", "ideal")
    bound = pc.roofline_time(3 * flops, 3 * moved, "t4", "fp16")
    assert by_text["time bound of a training step (s)"].value == bound


@pytest.mark.parametrize("span", [600, 2000])
def test_more_budget_never_picks_a_longer_path_at_the_span(span):
    picked = [recommend(span_p90=span, n_p90=8192, device="a100-80gb", budget_bytes=b)
              for b in (2 * 2**30, 8 * 2**30, 40 * 2**30, 80 * 10**9)]  # fmt: skip
    lengths = [paths.path_length(r.spec, span) for r in picked]
    assert lengths == sorted(lengths, reverse=True)


def test_a_longer_span_never_picks_a_longer_path_at_that_span():
    spans = [100, 300, 600, 1200, 2400]
    picked = [recommend(span_p90=s, n_p90=4096, device="a100-40gb", batch=4) for s in spans]
    for (earlier, later), span in zip(zip(picked, picked[1:]), spans[1:]):
        earlier_at_span = paths.path_length(
            candidates(span, 512, 8, THRESHOLDS)[earlier.choice],
            span,
        )  # the earlier choice, sized for the longer span
        assert paths.path_length(later.spec, span) <= earlier_at_span


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(span_p90=5000, n_p90=4096), "span_p90"),
        (dict(span_p90=0, n_p90=4096), "span_p90"),
        (dict(span_p90=10, n_p90=100, batch=0), "batch"),
        (dict(span_p90=10, n_p90=100, device="k80"), "name"),
        (dict(span_p90=10, n_p90=100, latency_p95_s="fast"), "latency_p95_s"),
        (dict(span_p90=10, n_p90=100, latency_p95_s=-1.0), "latency_p95_s"),
        (dict(span_p90=10, n_p90=100, dtype="int8"), "dtype"),
        (dict(span_p90=10, n_p90=100, span_short=3), "threshold"),
        (dict(span_p90=10, n_p90=100, train_samples=0), "train_samples"),
        (dict(span_p90=10, n_p90=100, train_samples=2.5), "train_samples"),
        (dict(span_p90=10, n_p90=100, small_data=-1), "small_data"),
    ],
)
def test_bad_input_is_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        recommend(**{"device": "a100-80gb", **kwargs})


def test_the_hybrid_shortens_the_recurrent_chain_by_its_stride():
    r = recommend(span_p90=200, n_p90=1600, device="t4", batch=1, dtype="fp16", training=False,
                  latency_p95_s=0.2)  # fmt: skip
    hybrid, lstm = r.estimates["hybrid"], r.estimates["lstm"]
    stride = THRESHOLDS["stride"]
    assert hybrid["sequential_steps"] == 1 + lstm["sequential_steps"] // stride
    assert hybrid["latency_bound_s"] < lstm["latency_bound_s"]
    assert hybrid["decode_state_bytes"] is None  # no Decoder runs a Hybrid


# the CNN too deep for span 100 and a one-position front-end: a Transformer then wins on time
FEW = dict(span_p90=100, n_p90=128, device="t4", batch=8, dtype="fp16", cnn_max_layers=2,
           stride=1)  # fmt: skip


def test_few_training_sequences_rank_the_transformers_last_with_the_count():
    plenty, few = recommend(**FEW), recommend(**FEW, train_samples=1000)
    assert plenty.choice in ("transformer", "transformer-fused")
    assert few.choice not in TRANSFORMERS and few.runner_up not in TRANSFORMERS
    reason = next(r for r in few.reasons if r.chapter == "Capstone")
    assert (reason.value, reason.against) == (1000, THRESHOLDS["small_data"])
    assert any(f"{THRESHOLDS['small_data']:,}" in change for change in few.what_would_change)
    # no Transformer is ruled out by the count: their estimates are the same numbers
    assert few.estimates == plenty.estimates and few.ruled_out == plenty.ruled_out


def test_the_count_matters_only_below_the_threshold_and_for_a_short_span():
    assert recommend(**FEW, train_samples=THRESHOLDS["small_data"]) == recommend(**FEW)
    assert recommend(**FEW, train_samples=10, small_data=5) == recommend(**FEW)
    long = dict(span_p90=600, n_p90=4096, device="a100-80gb", batch=2)
    assert recommend(**long, train_samples=10) == recommend(**long)


def test_a_profile_measured_once_stands_for_its_device():
    t4 = pc.device_profile("t4")
    assert recommend(**{**FEW, "device": t4}) == recommend(**FEW)


def test_an_inference_answer_gives_its_latency_and_its_memory_of_weights_and_state():
    r = recommend(span_p90=200, n_p90=1600, device="t4", batch=1, dtype="fp16", training=False,
                  latency_p95_s=0.2)  # fmt: skip
    by_text = {reason.text.split(": ", 1)[-1]: reason for reason in r.reasons}
    latency = by_text["latency bound of one sequence's forward (s)"]
    assert (latency.value, latency.against) == (r.estimates[r.choice]["latency_bound_s"], 0.2)
    assert "time bound of a training step (s)" not in by_text
    memory = by_text["memory against the budget"]
    weights = pc.params(r.spec) * 2  # fp16
    state = (pc.decode_state_bytes(r.spec, 1600, 1, pc.registry.DTYPES["fp16"])
             if pc.decode.decodes(r.spec) else 1600 * r.spec.d_model * 2)
    assert memory.value == weights + state and memory.chapter == "Inference and memory traffic"
    assert "latency bound" in r.reasons[0].text


# "Beyond the four": linear attention and the linear recurrence among the candidates. The
# numbers they are held to are counted on the real modules (the FLOP counter on the meta
# device, parameters, the chain tracer) or closed forms of the tensors a decoder keeps.
D, LAYERS = 512, THRESHOLDS["layers"]
T4_BANDWIDTH = pc.devices.DEVICES["t4"].bandwidth_bytes_per_s  # bytes/s, its datasheet


def _measured(spec, n, batch):
    """(forward FLOPs, parameters) of build(spec), counted on the meta device."""
    with torch.device("meta"):
        module = pc.build(spec)
        flops = pc.measure.flops(module, torch.empty(batch, n, spec.d_model))
    return flops, sum(p.numel() for p in module.parameters())


@functools.cache
def _scan_steps(n):
    """The scan's longest chain of state transfers, traced on the module (d does not matter)."""
    return pc.measure.steps.sequential_steps(pc.LinearRecurrence(4, scan=True), n)


def _bound(spec, n, batch, device, dtype, training):
    """The advisor's time bound rebuilt from counts: the roofline of the measured FLOPs and
    the ideal bytes (weights once, input and output once), and for the linear recurrence the
    traced chain of transfers, each one addcmul on (B, d): 2 B d FLOPs, (3 B + 1) d bytes."""
    size = torch.finfo(pc.registry.DTYPES[dtype]).bits // 8
    flops, params = _measured(spec, n, batch)
    moved = params * size + 2 * batch * n * spec.d_model * size
    b, times = (batch, 3) if training else (1, 1)
    if not training:
        flops, moved = flops / batch, moved / batch
    bound = pc.roofline_time(times * flops, times * moved, device, dtype)
    if isinstance(spec, pc.LinearRecurrence):
        one = pc.roofline_time(2 * b * spec.d_model, (3 * b + 1) * spec.d_model * size, device,
                               dtype)  # fmt: skip
        bound = max(bound, times * (_scan_steps(n) * one))
    return bound


def test_the_two_linear_candidates_are_sized_as_the_brief_says():
    specs = candidates(4096, D, 8, {})
    assert specs["linear-attention"] == pc.LinearAttention(D, 8, 4 * D, LAYERS)
    assert specs["linear-recurrence"] == pc.LinearRecurrence(D, layers=1, scan=True)
    assert {"linear-attention", "linear-recurrence"} <= set(CHOICES)


STREAM = dict(span_p90=200, n_p90=1600, device="t4", batch=1, dtype="fp16", training=False)


def test_a_streaming_target_the_serial_models_miss_picks_the_linear_recurrence():
    target, n = 1e-4, STREAM["n_p90"]
    r = recommend(**STREAM, latency_p95_s=target)
    t4 = pc.device_profile("t4")
    # each of the LSTM's n steps reads its recurrent weights W_h (4d x d, fp16) at least once
    lstm = r.ruled_out["lstm"]
    assert lstm.value >= n * 4 * D * D * 2 / t4.bandwidth_bytes_per_s > target == lstm.against
    hybrid = r.ruled_out["hybrid"]  # the same chain on ceil(n / s) tokens
    tokens = -(-n // THRESHOLDS["stride"])
    assert hybrid.value >= tokens * 4 * D * D * 2 / t4.bandwidth_bytes_per_s > target
    specs = candidates(STREAM["span_p90"], D, 8, {})
    for c in ("cnn", "transformer", "transformer-fused", "windowed-transformer",
              "linear-attention"):  # fmt: skip
        with torch.device("meta"):
            counts = pc.measure.flops_by_component(pc.build(specs[c]), torch.empty(1, n, D))
        # the FLOPs outside the attention products, which a fused kernel may skip in part
        floor = sum(v for k, v in counts.items() if k not in ("scores", "values", "fused"))
        assert r.ruled_out[c].value >= floor / t4.peak_flops["fp16"] > target
    assert r.choice == "linear-recurrence" and r.runner_up is None
    bound = _bound(r.spec, n, 1, "t4", "fp16", training=False)
    assert r.estimates[r.choice]["latency_bound_s"] == bound <= target
    # its decode state is one (B, d) vector, fp16, whatever n is
    assert r.estimates[r.choice]["decode_state_bytes"] == D * 2
    chapters = {reason.chapter for reason in r.reasons if reason.text.startswith(r.choice)}
    assert chapters == {"Beyond the four"}
    assert any("latency target" in change and "cnn" in change for change in r.what_would_change)


def test_while_one_of_the_four_meets_the_target_the_rule_not_the_numbers_keeps_it():
    r = recommend(**STREAM, latency_p95_s=0.2)  # the book's streaming speech
    linear = _bound(pc.LinearRecurrence(D, scan=True), 1600, 1, "t4", "fp16", training=False)
    cnn = _bound(r.spec, 1600, 1, "t4", "fp16", training=False)
    assert r.choice == "cnn" and r.estimates["cnn"]["latency_bound_s"] == cnn
    assert r.estimates["linear-recurrence"]["latency_bound_s"] == linear < cnn
    assert not r.ruled_out and r.runner_up == "windowed-transformer"
    assert any("linear-recurrence would come first" in c for c in r.what_would_change)


LONG = dict(span_p90=4096, n_p90=65536, device="a100-80gb", batch=16, training=False,
            budget_bytes=8 * 2**30)  # fmt: skip


def test_a_long_span_whose_kv_cache_does_not_fit_picks_linear_attention():
    r = recommend(**LONG)
    n, B = LONG["n_p90"], LONG["batch"]
    _, weights = _measured(pc.Transformer(D, 8, 4 * D, LAYERS), 1, 1)
    cache = 2 * LAYERS * B * n * D * 2  # K and V, every row, every layer, bf16
    for c in ("transformer", "transformer-fused"):
        assert r.ruled_out[c].value == weights * 2 + cache > LONG["budget_bytes"]
    assert r.quadrant == ("large span", "small budget")
    assert r.choice == "linear-attention" and r.estimates[r.choice]["path_length_at_span"] == 1
    _, params = _measured(r.spec, 1, 1)
    state = LAYERS * B * 8 * (D // 8) * (D // 8 + 1) * 2  # S and z per head: d_k (d_k + 1)
    assert r.estimates[r.choice]["memory_bytes"] == params * 2 + state <= LONG["budget_bytes"]
    # every other candidate left has a longer path: a window of 256 needs 4096 / 256 layers
    others = [c for c in CHOICES if c not in r.ruled_out and c != r.choice]
    assert min(r.estimates[c]["path_length_at_span"] for c in others) > 1
    assert r.estimates["windowed-transformer"]["path_length_at_span"] == 4096 // 256
    assert any("GiB: full attention" in change for change in r.what_would_change)


def test_training_at_that_span_materialised_prefix_sums_lose_to_the_fused_kernel():
    # The same span in training, batch 1: build(spec) keeps every layer's prefix sums
    # (B, n, h, d_k, d_k + 1) for backward, d_k + 1 = 65 numbers per activation element,
    # more than a fused-attention block keeps. Where the fused kernel does not fit, linear
    # attention does not either, and the shortest path that fits is the CNN's.
    n, budget_bytes = 65536, 4 * 2**30
    r = recommend(span_p90=4096, n_p90=n, device="a100-80gb", budget_bytes=budget_bytes)
    sums = LAYERS * n * D * (D // 8 + 1) * 2  # the prefix sums alone, bf16, every layer
    linear = r.ruled_out["linear-attention"]
    assert linear.value >= sums > budget_bytes == linear.against
    assert linear.value > r.ruled_out["transformer-fused"].value > budget_bytes
    assert linear.chapter == "Beyond the four"
    assert r.choice == "cnn" and r.quadrant == ("large span", "small budget")
    cnn = paths.covering_cnn(4096, D, kernel=THRESHOLDS["cnn_kernel"], dilation_base=2)
    assert r.spec == cnn and r.estimates["cnn"]["path_length_at_span"] == cnn.layers == 12


def test_a_short_span_with_room_keeps_the_answer_of_the_four():
    # "small span, large budget": the answer before the two linear candidates was the
    # hybrid, with the CNN as runner-up; the linear recurrence's bound is lower still
    args = CASES["small span, large budget"]
    r = recommend(**args)
    assert (r.choice, r.runner_up) == ("hybrid", "cnn") and not r.ruled_out
    linear = _bound(pc.LinearRecurrence(D, scan=True), 128, 32, "t4", "fp16", training=True)
    assert r.estimates["linear-recurrence"]["step_time_bound_s"] == linear
    # the hybrid's chain alone: 3 passes of ceil(n / s) steps, each reading W_h (4d x d)
    chain = 3 * -(-128 // THRESHOLDS["stride"]) * 4 * D * D * 2 / T4_BANDWIDTH
    assert r.estimates["hybrid"]["step_time_bound_s"] >= chain > linear
    assert any("linear-recurrence would come first" in c for c in r.what_would_change)
