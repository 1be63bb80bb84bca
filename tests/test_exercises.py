"""The exercise checkers accept a right answer and name the first case a common wrong one misses.

The right answers are written here from the exercises' formulas (or, where the exercise says
to search, by another search); the wrong ones are the mistakes each exercise warns about,
written as a reader would. For each wrong answer the checker must return False and print the
input it failed on, which parsed back must be a case where the wrong answer and the right one
differ, with the right answer as the value expected.
"""

import ast
import bisect
import math

import numpy as np
import pytest
import torch

import pathcost as pc

# --- right answers, one per checker -------------------------------------------------------


def right_steps(arch, n, layers):
    return n + layers - 1 if arch in ("rnn", "lstm") else layers


def right_field(kernel, dilations):
    return 1 + (kernel - 1) * sum(dilations)


def right_decay(rho, threshold):
    return next(k for k in range(10**6) if rho**k < threshold)


def right_reach(spec, span):  # how far back each architecture reads, from its layers
    if isinstance(spec, (pc.RNN, pc.LSTM)):
        return True
    if isinstance(spec, pc.CNN):
        back = (spec.kernel - 1) * sum(spec.dilations or (1,) * spec.layers)
        return span <= (back if spec.causal else back // 2)  # centred: half each side
    return spec.window is None or span <= spec.window * spec.layers


def right_flops(n, d_model, heads, d_ff, layers):
    return layers * (8 * n * d_model**2 + 4 * n * d_model * d_ff + 4 * n * n * d_model)


def right_max_n(budget_bytes, heads, batch, bytes_per_element, overhead):
    # integers only: P n^2 <= M exactly when n^2 <= M // P, for P = B h b o
    return math.isqrt(budget_bytes // (heads * batch * bytes_per_element * overhead))


def right_slope(ns, ys):
    x, y = [math.log(n) for n in ns], [math.log(v) for v in ys]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)


def right_window_layers(distance, window):
    return max(1, -(-distance // window))


def right_kv(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    rows = n if window is None else min(n, window)
    return 2 * layers * batch * rows * kv_heads * (d_model // heads) * bytes_per_element


def right_bytes_per_parameter(precision, optimizer):  # torch.optim keeps the weights' dtype
    return (2 + {"sgd": 0, "momentum": 1}.get(optimizer, 2)) * (
        2 if precision.startswith("pure") else 4
    )


def right_tile_pairs(n, q_tile, kv_tile):
    return sum(
        min(q_tile, n - m) * min(n, -(-(m + min(q_tile, n - m)) // kv_tile) * kv_tile)
        for m in range(0, n, q_tile)
    )


def step_bytes(spec, n, batch, precision):
    return pc.training_memory(spec, n, batch, precision, "adam").total


def right_max_batch(spec, n, budget_bytes, precision):  # plain bisection over all batches
    return bisect.bisect_right(
        range(1, 2**16), budget_bytes, key=lambda b: step_bytes(spec, n, b, precision)
    )


def right_padding_waste(lengths, boundaries):
    return 1 - sum(lengths) / sum(
        next((b for b in boundaries if b >= n), max(lengths)) for n in lengths
    )


def lstm_body(d):
    return 8 * d * d + 4 * d


def transformer_body(d, d_ff, layers):  # 4d^2 + 2 d d_ff + 9d + d_ff a block
    return layers * (4 * d * d + 2 * d * d_ff + 9 * d + d_ff)


def right_classifier_params(arch, d_model, tokens, classes):
    d = d_model
    body = lstm_body(d) if arch == "lstm" else transformer_body(d, 2 * d, 2)
    return tokens * d + body + d * classes + classes


def right_hops(arch, distance):
    return {"rnn": distance, "lstm": distance, "cnn": max(1, math.ceil(distance / 2))}.get(arch, 1)


def right_layer_params(arch, d_model):
    d = d_model
    return {"rnn": 2 * d * d + d, "lstm": 4 * (2 * d * d + d), "cnn": 3 * d * d + d}.get(
        arch, 12 * d * d + 13 * d
    )


def right_scan_steps(n):  # measured: the chain of transfers of the executed scan
    return pc.measure.sequential_steps(pc.LinearRecurrence(2, 1, scan=True), n)


def right_linear_state_bytes(d_model, heads, layers, batch, bytes_per_element):  # measured
    dtype = {2: torch.float16, 4: torch.float32, 8: torch.float64}[bytes_per_element]
    module = pc.build(pc.LinearAttention(d_model, heads, 4 * d_model, layers)).to(dtype)
    return pc.measure.cache.state_bytes(pc.Decoder(module).start(batch))


RIGHT = {
    "check_scan_steps": right_scan_steps,
    "check_linear_state_bytes": right_linear_state_bytes,
    "check_sequential_steps": right_steps,
    "check_receptive_field": right_field,
    "check_decay_steps": right_decay,
    "check_can_reach": right_reach,
    "check_transformer_flops": right_flops,
    "check_max_seq_len": right_max_n,
    "check_fit_exponent": right_slope,
    "check_window_layers": right_window_layers,
    "check_kv_cache_bytes": right_kv,
    "check_bytes_per_parameter": right_bytes_per_parameter,
    "check_causal_tile_pairs": right_tile_pairs,
    "check_max_batch": right_max_batch,
    "check_padding_waste": right_padding_waste,
    "check_classifier_params": right_classifier_params,
    "check_hops": right_hops,
    "check_layer_params": right_layer_params,
}
TOLERANCE = {"check_fit_exponent": 1e-9, "check_padding_waste": 1e-12}

# --- common wrong answers, as a reader would write them ----------------------------------


def steps_as_launched(arch, n, layers):  # PyTorch's n D launches, not the critical path
    return n * layers if arch in ("rnn", "lstm") else layers


def steps_plus_layers(arch, n, layers):  # off by one on the wavefront
    return n + layers if arch in ("rnn", "lstm") else layers


def steps_one_stack(arch, n, layers):  # a stack is "one step"
    return n + layers - 1 if arch in ("rnn", "lstm") else 1


def field_ignores_dilations(kernel, dilations):
    return 1 + (kernel - 1) * len(dilations)


def field_kernel_times_sum(kernel, dilations):
    return kernel * sum(dilations)


def field_forgets_one(kernel, dilations):
    return (kernel - 1) * sum(dilations)


def field_assumes_doubling(kernel, dilations):
    return 1 + (kernel - 1) * (2 ** len(dilations) - 1)


def decay_ceil_log(rho, threshold):
    return math.ceil(math.log(threshold) / math.log(rho))


def decay_floor_log(rho, threshold):  # the closed form without its correction
    return math.floor(math.log(threshold) / math.log(rho)) + 1


def decay_floor_log_clamped(rho, threshold):  # ... even kept at >= 0
    return max(0, math.floor(math.log(threshold) / math.log(rho)) + 1)


def decay_at_or_below(rho, threshold):  # rho**k <= threshold
    steps = 0
    while rho**steps > threshold:
        steps += 1
    return steps


def decay_from_one(rho, threshold):  # forgets that 0 steps may already be enough
    steps = 1
    while rho**steps >= threshold:
        steps += 1
    return steps


def decay_running_product(rho, threshold):  # rounding accumulates in p
    steps, p = 0, 1.0
    while p >= threshold:
        p, steps = p * rho, steps + 1
    return steps


def reach_field_at_least_span(spec, span):  # off by one: R positions reach R - 1 back
    return pc.receptive_field(spec) >= span


def reach_field_above_span(spec, span):  # right for causal stacks, not for centred ones
    return pc.receptive_field(spec) > span


def reach_one_window(spec, span):  # as if one windowed layer were all
    if isinstance(spec, pc.Transformer) and spec.window is not None:
        return span <= spec.window
    return right_reach(spec, span)


def reach_ignores_window(spec, span):
    return True if isinstance(spec, pc.Transformer) else right_reach(spec, span)


def reach_window_strict(spec, span):
    if isinstance(spec, pc.Transformer) and spec.window is not None:
        return span < spec.window * spec.layers
    return right_reach(spec, span)


def flops_forgets_av(n, d_model, heads, d_ff, layers):  # QK^T only
    return right_flops(n, d_model, heads, d_ff, layers) - 2 * layers * n * n * d_model


def flops_times_heads(n, d_model, heads, d_ff, layers):  # h score matrices of n^2 d each
    return layers * (8 * n * d_model**2 + 4 * n * d_model * d_ff + 4 * heads * n * n * d_model)


def flops_causal_half(n, d_model, heads, d_ff, layers):  # a masked kernel still scores n^2
    return layers * (8 * n * d_model**2 + 4 * n * d_model * d_ff + 2 * n * (n + 1) * d_model)


def flops_assumes_4d(n, d_model, heads, d_ff, layers):  # d_ff = 4 d, whatever d_ff is
    return layers * (24 * n * d_model**2 + 4 * n * n * d_model)


def flops_counts_macs(n, d_model, heads, d_ff, layers):
    return right_flops(n, d_model, heads, d_ff, layers) // 2


def max_n_float_sqrt(budget_bytes, heads, batch, bytes_per_element, overhead):  # issue 14
    return int(math.sqrt(budget_bytes / (batch * heads * bytes_per_element * overhead)))


def max_n_float_division(budget_bytes, heads, batch, bytes_per_element, overhead):
    return math.isqrt(int(budget_bytes / (heads * batch * bytes_per_element * overhead)))


def max_n_fixed_downwards(budget_bytes, heads, batch, bytes_per_element, overhead):
    p = batch * heads * bytes_per_element * overhead
    n = math.isqrt(int(budget_bytes / p))
    while p * n * n > budget_bytes:  # corrects an overshoot, not an undershoot
        n -= 1
    return n


def max_n_ceil_division(budget_bytes, heads, batch, bytes_per_element, overhead):
    return math.isqrt(-(-budget_bytes // (heads * batch * bytes_per_element * overhead)))


def max_n_rounded(budget_bytes, heads, batch, bytes_per_element, overhead):
    return round(math.sqrt(budget_bytes / (heads * batch * bytes_per_element * overhead)))


def max_n_ignores_overhead(budget_bytes, heads, batch, bytes_per_element, overhead):
    return math.isqrt(budget_bytes // (heads * batch * bytes_per_element))


def max_n_strict(budget_bytes, heads, batch, bytes_per_element, overhead):  # < for <=
    p = batch * heads * bytes_per_element * overhead
    n = math.isqrt(budget_bytes // p)
    return n - 1 if p * n * n == budget_bytes else n


def max_n_overhead_after_sqrt(budget_bytes, heads, batch, bytes_per_element, overhead):
    n = math.isqrt(budget_bytes // (heads * batch * bytes_per_element))
    return int(n / math.sqrt(overhead))  # the sqrt of o taken after flooring


def slope_of_endpoints(ns, ys):
    return (math.log(ys[-1]) - math.log(ys[0])) / (math.log(ns[-1]) - math.log(ns[0]))


def slope_without_logs(ns, ys):
    return float(np.polyfit(ns, ys, 1)[0])


def slope_takes_intercept(ns, ys):  # polyfit's second value
    return float(np.polyfit(np.log(ns), np.log(ys), 1)[1])


def slope_mean_of_neighbours(ns, ys):
    slopes = [
        (math.log(y1) - math.log(y0)) / (math.log(n1) - math.log(n0))
        for n0, n1, y0, y1 in zip(ns, ns[1:], ys, ys[1:])
    ]
    return sum(slopes) / len(slopes)


def window_floor(distance, window):
    return distance // window


def window_ceil_no_minimum(distance, window):
    return -(-distance // window)


def window_floor_plus_one(distance, window):
    return distance // window + 1


def window_as_width(distance, window):  # radius read as the window's full width
    return max(1, math.ceil(2 * distance / window))


def kv_ignores_window(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    return right_kv(n, batch, d_model, heads, kv_heads, layers, None, bytes_per_element)


def kv_window_rows(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    rows = n if window is None else window  # w, not min(n, w)
    return 2 * layers * batch * rows * kv_heads * (d_model // heads) * bytes_per_element


def kv_forgets_v(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    return right_kv(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element) // 2


def kv_query_heads(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    return right_kv(n, batch, d_model, heads, heads, layers, window, bytes_per_element)


def kv_counts_next_token(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    rows = n + 1 if window is None else min(n + 1, window)
    return 2 * layers * batch * rows * kv_heads * (d_model // heads) * bytes_per_element


def bytes_fp32_moments(precision, optimizer):  # moments always in float32
    b = 2 if precision.startswith("pure") else 4
    return 2 * b + 4 * {"sgd": 0, "momentum": 1}.get(optimizer, 2)


def bytes_count_adam_step(precision, optimizer):
    steps = 4 if optimizer in ("adam", "adamw") else 0
    return right_bytes_per_parameter(precision, optimizer) + steps


def bytes_mixed_as_half(precision, optimizer):  # autocast keeps the weights in float32
    b = 4 if precision == "fp32" else 2
    return (2 + {"sgd": 0, "momentum": 1}.get(optimizer, 2)) * b


def bytes_forget_gradients(precision, optimizer):
    b = 2 if precision.startswith("pure") else 4
    return (1 + {"sgd": 0, "momentum": 1}.get(optimizer, 2)) * b


def tiles_ideal(n, q_tile, kv_tile):  # the ideal causal kernel, not the tiled one
    return n * (n + 1) // 2


def tiles_full(n, q_tile, kv_tile):
    return n * n


def tiles_unclipped(n, q_tile, kv_tile):  # the last key tile counted whole past n
    return sum(
        min(q_tile, n - m) * (-(-(m + min(q_tile, n - m)) // kv_tile) * kv_tile)
        for m in range(0, n, q_tile)
    )


def tiles_whole_last_query_tile(n, q_tile, kv_tile):  # q_tile rows, also past n
    return sum(q_tile * min(n, -(-(m + q_tile) // kv_tile) * kv_tile) for m in range(0, n, q_tile))


def tiles_swapped(n, q_tile, kv_tile):
    return right_tile_pairs(n, kv_tile, q_tile)


def tiles_below_first_query(n, q_tile, kv_tile):  # key tiles up to the tile's first query only
    return sum(
        min(q_tile, n - m) * min(n, (m // kv_tile + 1) * kv_tile) for m in range(0, n, q_tile)
    )


def batch_first_too_big(spec, n, budget_bytes, precision):
    return next(b for b in range(1, 10**6) if step_bytes(spec, n, b, precision) > budget_bytes)


def batch_strictly_below(spec, n, budget_bytes, precision):  # < for <=
    low, high = 1, 2
    while step_bytes(spec, n, high, precision) < budget_bytes:
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        fits = step_bytes(spec, n, mid, precision) < budget_bytes
        low, high = (mid, high) if fits else (low, mid)
    return low


def batch_doubling_only(spec, n, budget_bytes, precision):
    batch = 1
    while step_bytes(spec, n, 2 * batch, precision) <= budget_bytes:
        batch *= 2
    return batch


def batch_linear(spec, n, budget_bytes, precision):  # extrapolates batches 1 and 2
    one, two = step_bytes(spec, n, 1, precision), step_bytes(spec, n, 2, precision)
    return (budget_bytes - (2 * one - two)) // (two - one)


def batch_from_two(spec, n, budget_bytes, precision):  # assumes batch 2 fits
    low, high = 2, 4
    while step_bytes(spec, n, high, precision) <= budget_bytes:
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        fits = step_bytes(spec, n, mid, precision) <= budget_bytes
        low, high = (mid, high) if fits else (low, mid)
    return low


def padding_to_longest(lengths, boundaries):  # no bucketing
    return 1 - sum(lengths) / (len(lengths) * max(lengths))


def padding_boundary_above(lengths, boundaries):  # b > n, not b >= n
    padded = sum(next((b for b in boundaries if b > n), max(lengths)) for n in lengths)
    return (padded - sum(lengths)) / padded


def padding_long_ones_unpadded(lengths, boundaries):  # above the last boundary: no padding
    padded = sum(next((b for b in boundaries if b >= n), n) for n in lengths)
    return (padded - sum(lengths)) / padded


def padding_over_real_tokens(lengths, boundaries):
    padded = sum(next((b for b in boundaries if b >= n), max(lengths)) for n in lengths)
    return (padded - sum(lengths)) / sum(lengths)


def padding_mean_per_sequence(lengths, boundaries):
    ends = [next((b for b in boundaries if b >= n), max(lengths)) for n in lengths]
    return sum((end - n) / end for end, n in zip(ends, lengths)) / len(lengths)


def classifier_no_readout_bias(arch, d_model, tokens, classes):
    return right_classifier_params(arch, d_model, tokens, classes) - classes


def classifier_torch_lstm(arch, d_model, tokens, classes):  # nn.LSTM's two biases a gate
    extra = 4 * d_model if arch == "lstm" else 0
    return right_classifier_params(arch, d_model, tokens, classes) + extra


def classifier_ffn_4d(arch, d_model, tokens, classes):  # the primer's d_ff = 4d
    d = d_model
    body = lstm_body(d) if arch == "lstm" else transformer_body(d, 4 * d, 2)
    return tokens * d + body + d * classes + classes


def classifier_one_block(arch, d_model, tokens, classes):
    d = d_model
    body = lstm_body(d) if arch == "lstm" else transformer_body(d, 2 * d, 1)
    return tokens * d + body + d * classes + classes


def classifier_no_layernorms(arch, d_model, tokens, classes):
    extra = 2 * 4 * d_model if arch == "transformer" else 0  # two LayerNorms of 2d, two blocks
    return right_classifier_params(arch, d_model, tokens, classes) - extra


def hops_cnn_at_zero(arch, distance):  # no layer at distance 0
    return math.ceil(distance / 2) if arch == "cnn" else right_hops(arch, distance)


def hops_counts_input(arch, distance):  # x(t) -> h(t) counted as a hop
    return distance + 1 if arch in ("rnn", "lstm") else right_hops(arch, distance)


def hops_recurrence_at_least_one(arch, distance):
    return max(1, distance) if arch in ("rnn", "lstm") else right_hops(arch, distance)


def hops_cnn_kernel(arch, distance):  # k, not k - 1, positions a layer
    return max(1, math.ceil(distance / 3)) if arch == "cnn" else right_hops(arch, distance)


def params_one_gate(arch, d_model):
    return 2 * d_model**2 + d_model if arch == "lstm" else right_layer_params(arch, d_model)


def params_no_biases(arch, d_model):
    d = d_model
    return {"rnn": 2 * d * d, "lstm": 8 * d * d, "cnn": 3 * d * d}.get(arch, 12 * d * d)


def params_recurrent_bias(arch, d_model):
    gates = {"rnn": 1, "lstm": 4}.get(arch, 0)
    return right_layer_params(arch, d_model) + gates * d_model


def params_layernorm_d(arch, d_model):  # a LayerNorm's weight without its bias
    return right_layer_params(arch, d_model) - (2 * d_model if arch == "transformer" else 0)


def params_bias_per_tap(arch, d_model):
    return right_layer_params(arch, d_model) + (2 * d_model if arch == "cnn" else 0)


def scan_two_log(n):  # 2 ceil(log2 n): the levels, not the chain
    return 2 * math.ceil(math.log2(n))


def scan_levels(n):  # up and down levels, 2m - 1, counted as the chain
    m = (n - 1).bit_length()
    return max(0, 2 * m - 1)


def scan_floor_log(n):  # floor instead of ceil: wrong off powers of two
    m = int(math.log2(n))
    return m if m < 2 else 2 * m - 2


def scan_loop(n):  # the loop's n transfers
    return n


def state_full_matrix(d_model, heads, layers, batch, bytes_per_element):  # d x d, no heads
    return layers * batch * d_model * (d_model + 1) * bytes_per_element


def state_no_normaliser(d_model, heads, layers, batch, bytes_per_element):  # S without z
    return layers * batch * heads * (d_model // heads) ** 2 * bytes_per_element


def state_kv_pair(d_model, heads, layers, batch, bytes_per_element):  # a cache of one row
    return 2 * layers * batch * d_model * bytes_per_element


TF = pc.Transformer(256, 8, 1024, 4)
WRONG = [  # (checker, wrong answer, a piece of the case that catches it)
    ("check_scan_steps", scan_two_log, "n=2"),
    ("check_scan_steps", scan_levels, "n=3"),
    ("check_scan_steps", scan_floor_log, "n=3"),
    ("check_scan_steps", scan_loop, "n=1"),
    ("check_linear_state_bytes", state_full_matrix, "heads=2"),
    ("check_linear_state_bytes", state_no_normaliser, "d_model=8"),
    ("check_linear_state_bytes", state_kv_pair, "d_model=8"),
    ("check_sequential_steps", steps_as_launched, "arch='rnn', n=1024, layers=3"),
    ("check_sequential_steps", steps_plus_layers, "arch='rnn', n=1, layers=1"),
    ("check_sequential_steps", steps_one_stack, "arch='cnn', n=1024, layers=3"),
    ("check_receptive_field", field_ignores_dilations, "dilations=(1, 2, 4, 8)"),
    ("check_receptive_field", field_kernel_times_sum, "kernel=2, dilations=(1, 1, 1)"),
    ("check_receptive_field", field_forgets_one, "kernel=2, dilations=(1,)"),
    ("check_receptive_field", field_assumes_doubling, "dilations=(1, 1, 1)"),
    ("check_decay_steps", decay_ceil_log, "threshold=2.0"),
    ("check_decay_steps", decay_floor_log, "threshold=2.0"),
    ("check_decay_steps", decay_floor_log_clamped, "rho=0.625, threshold=0.244140625"),
    ("check_decay_steps", decay_at_or_below, "rho=0.5, threshold=0.5"),
    ("check_decay_steps", decay_from_one, "rho=0.5, threshold=2.0"),
    ("check_decay_steps", decay_running_product, f"rho=0.95, threshold={0.95**20!r}"),
    ("check_can_reach", reach_field_at_least_span, "causal=True), span=9"),
    ("check_can_reach", reach_field_above_span, "causal=False), span=5"),
    ("check_can_reach", reach_one_window, "layers=2, window=4, causal=True, positional=False, "
                                          "kv_heads=None), span=5"),
    ("check_can_reach", reach_ignores_window, "kv_heads=None), span=9"),
    ("check_can_reach", reach_window_strict, "kv_heads=None), span=8"),
    ("check_transformer_flops", flops_forgets_av, "n=1, d_model=8"),
    ("check_transformer_flops", flops_times_heads, "n=1, d_model=8"),
    ("check_transformer_flops", flops_causal_half, "n=128, d_model=64"),
    ("check_transformer_flops", flops_assumes_4d, "n=1, d_model=8, heads=2, d_ff=16"),
    ("check_transformer_flops", flops_counts_macs, "n=1, d_model=8"),
    ("check_max_seq_len", max_n_float_sqrt, f"budget_bytes={2 * (9 * 10**7) ** 2 - 2}"),
    ("check_max_seq_len", max_n_float_division, f"budget_bytes={512 * (6 * 10**6) ** 2 - 1}"),
    ("check_max_seq_len", max_n_fixed_downwards, f"budget_bytes={6 * (10**8 + 1) ** 2}"),
    ("check_max_seq_len", max_n_ceil_division, "budget_bytes=191999999"),
    ("check_max_seq_len", max_n_rounded, "overhead=8"),
    ("check_max_seq_len", max_n_ignores_overhead, "overhead=4"),
    ("check_max_seq_len", max_n_strict, f"budget_bytes={8 * 2**30}, heads=8, batch=2"),
    ("check_max_seq_len", max_n_overhead_after_sqrt, "overhead=6"),
    ("check_fit_exponent", slope_of_endpoints, "ns=[2, 3, 5, 7, 11]"),
    ("check_fit_exponent", slope_without_logs, "ns=[256, 512"),
    ("check_fit_exponent", slope_takes_intercept, "ns=[256, 512"),
    ("check_fit_exponent", slope_mean_of_neighbours, "ns=[2, 3, 5, 7, 11]"),
    ("check_window_layers", window_floor, "distance=0"),
    ("check_window_layers", window_ceil_no_minimum, "distance=0"),
    ("check_window_layers", window_floor_plus_one, "distance=4, window=4"),
    ("check_window_layers", window_as_width, "distance=4, window=4"),
    ("check_kv_cache_bytes", kv_ignores_window, "n=100, batch=2"),
    ("check_kv_cache_bytes", kv_window_rows, "n=16, batch=2"),
    ("check_kv_cache_bytes", kv_forgets_v, "n=1, batch=1"),
    ("check_kv_cache_bytes", kv_query_heads, "kv_heads=2"),
    ("check_kv_cache_bytes", kv_counts_next_token, "n=0"),
    ("check_bytes_per_parameter", bytes_fp32_moments,
     "precision='pure-bf16', optimizer='momentum'"),
    ("check_bytes_per_parameter", bytes_count_adam_step, "optimizer='adam'"),
    ("check_bytes_per_parameter", bytes_mixed_as_half, "precision='mixed-bf16'"),
    ("check_bytes_per_parameter", bytes_forget_gradients, "precision='fp32', optimizer='sgd'"),
    ("check_causal_tile_pairs", tiles_ideal, "n=7, q_tile=32, kv_tile=512"),
    ("check_causal_tile_pairs", tiles_full, "n=7, q_tile=1, kv_tile=1"),
    ("check_causal_tile_pairs", tiles_unclipped, "n=1, q_tile=32, kv_tile=512"),
    ("check_causal_tile_pairs", tiles_whole_last_query_tile, "n=1, q_tile=32, kv_tile=512"),
    ("check_causal_tile_pairs", tiles_swapped, "n=7, q_tile=5, kv_tile=3"),
    ("check_causal_tile_pairs", tiles_below_first_query, "n=7, q_tile=5, kv_tile=3"),
    ("check_max_batch", batch_first_too_big, "n=512"),
    ("check_max_batch", batch_strictly_below,
     f"n=1024, budget_bytes={step_bytes(TF, 1024, 37, 'mixed-bf16')}"),
    ("check_max_batch", batch_doubling_only, "n=512"),
    ("check_max_batch", batch_linear, "n=16"),
    ("check_max_batch", batch_from_two,
     f"n=1024, budget_bytes={step_bytes(TF, 1024, 1, 'pure-bf16')}"),
    ("check_padding_waste", padding_to_longest, "boundaries=[8]"),
    ("check_padding_waste", padding_boundary_above, "lengths=[1, 2, 3, 4], boundaries=[2]"),
    ("check_padding_waste", padding_long_ones_unpadded, "lengths=[1, 2, 3, 4], boundaries=[2]"),
    ("check_padding_waste", padding_over_real_tokens, "lengths=[5]"),
    ("check_padding_waste", padding_mean_per_sequence, "boundaries=[2]"),
    ("check_classifier_params", classifier_no_readout_bias, "arch='lstm', d_model=2"),
    ("check_classifier_params", classifier_torch_lstm, "arch='lstm', d_model=2"),
    ("check_classifier_params", classifier_ffn_4d, "arch='transformer', d_model=2"),
    ("check_classifier_params", classifier_one_block, "arch='transformer', d_model=2"),
    ("check_classifier_params", classifier_no_layernorms, "arch='transformer', d_model=2"),
    ("check_hops", hops_cnn_at_zero, "arch='cnn', distance=0"),
    ("check_hops", hops_counts_input, "arch='rnn', distance=1"),
    ("check_hops", hops_recurrence_at_least_one, "arch='rnn', distance=0"),
    ("check_hops", hops_cnn_kernel, "arch='cnn', distance=3"),
    ("check_layer_params", params_one_gate, "arch='lstm', d_model=2"),
    ("check_layer_params", params_no_biases, "arch='rnn', d_model=2"),
    ("check_layer_params", params_recurrent_bias, "arch='rnn', d_model=2"),
    ("check_layer_params", params_layernorm_d, "arch='transformer', d_model=2"),
    ("check_layer_params", params_bias_per_tap, "arch='cnn', d_model=2"),
]  # fmt: skip


def _parse_miss(report: str):
    """Split 'name(args) returned X; expected Y' into the case, what it got and Y."""
    call, _, expected = report.rpartition("; expected ")
    head, verb, got = call.rpartition(") returned ")
    assert verb, f"no '<call> returned <value>' in {report!r}"
    name, _, arguments = head.partition("(")
    specs = {cls.__name__: cls for cls in (pc.RNN, pc.LSTM, pc.CNN, pc.Transformer)}
    case = eval(f"dict({arguments})", {"__builtins__": {}, "dict": dict, **specs})
    return name, arguments, case, ast.literal_eval(got), ast.literal_eval(expected)


def _same(a, b, tol: float) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol) if tol else a == b


@pytest.mark.parametrize("name", RIGHT)
def test_checker_passes_a_right_answer_written_independently(name, capsys):
    checker = getattr(pc.exercises, name)
    assert checker(RIGHT[name]) is True
    assert "cases correct" in capsys.readouterr().out


def test_every_checker_has_a_right_and_a_wrong_answer():
    checkers = {name for name in dir(pc.exercises) if name.startswith("check_")}
    assert checkers == set(RIGHT) == {name for name, _, _ in WRONG}


@pytest.mark.parametrize("name, wrong, miss", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_rejects_a_common_mistake_and_names_the_case(name, wrong, miss, capsys):
    assert getattr(pc.exercises, name)(wrong) is False
    report = capsys.readouterr().out.strip()
    called, arguments, case, got, expected = _parse_miss(report)
    tol = TOLERANCE.get(name, 0.0)
    assert called == wrong.__name__ and miss in arguments, report
    assert got == wrong(**case)  # it names an input the wrong answer really returned that for
    assert _same(expected, RIGHT[name](**case), tol), report  # and the right value expected
    assert not _same(got, expected, tol)


def test_the_float_square_root_of_issue_14_misses_one_below_a_perfect_square(capsys):
    k = 9 * 10**7
    assert pc.exercises.check_max_seq_len(max_n_float_sqrt) is False
    assert (
        f"max_n_float_sqrt(budget_bytes={2 * (k * k - 1)}, heads=1, batch=1, bytes_per_element=2,"
        f" overhead=1) returned {k}; expected {k - 1}"
    ) in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    def broken(kernel, dilations):
        raise KeyError("oops")

    assert pc.exercises.check_receptive_field(broken) is False
    assert "raised KeyError" in capsys.readouterr().out


def test_the_checker_needs_a_function():
    with pytest.raises(ValueError, match="fn"):
        pc.exercises.check_receptive_field(31)
