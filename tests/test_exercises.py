"""The exercise checkers accept a right answer and name the first case a wrong one misses."""

import math

import pytest

import pathcost as pc


def right_steps(arch, n, layers):
    return n + layers - 1 if arch in ("rnn", "lstm") else layers


def right_field(kernel, dilations):
    return 1 + (kernel - 1) * sum(dilations)


def right_decay(rho, threshold):
    return next(k for k in range(10**6) if rho**k < threshold)


def right_reach(spec, span):
    return pc.path_length(spec, span) != math.inf


def right_flops(n, d_model, heads, d_ff, layers):
    return layers * (8 * n * d_model**2 + 4 * n * d_model * d_ff + 4 * n * n * d_model)


def right_max_n(budget_bytes, heads, batch, bytes_per_element, overhead):
    return math.isqrt(int(budget_bytes / (heads * batch * bytes_per_element * overhead)))


def right_kv(n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element):
    rows = n if window is None else min(n, window)
    return 2 * layers * batch * rows * kv_heads * (d_model // heads) * bytes_per_element


def right_slope(ns, ys):
    x, y = [math.log(n) for n in ns], [math.log(v) for v in ys]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)


@pytest.mark.parametrize(
    "checker, right, wrong, miss",
    [
        (
            pc.exercises.check_sequential_steps,
            right_steps,
            lambda arch, n, layers: n,
            "n=1024, layers=3",
        ),
        (
            pc.exercises.check_receptive_field,
            right_field,
            lambda kernel, dilations: 1 + (kernel - 1) * len(dilations),
            "dilations=(1, 2, 4, 8)",
        ),
        (
            pc.exercises.check_decay_steps,
            right_decay,
            lambda rho, threshold: math.ceil(math.log(threshold) / math.log(rho)),
            "rho=0.5, threshold=0.5",
        ),
        (
            pc.exercises.check_transformer_flops,
            right_flops,
            lambda n, d_model, heads, d_ff, layers: (
                right_flops(n, d_model, heads, d_ff, layers) - 2 * layers * n * n * d_model
            ),  # forgot that AV costs as much as QK^T
            "n=1, d_model=8",
        ),
        (
            pc.exercises.check_max_seq_len,
            right_max_n,
            lambda budget_bytes, heads, batch, bytes_per_element, overhead: math.isqrt(
                budget_bytes // (heads * batch * bytes_per_element)
            ),  # ignores the overhead
            "overhead=4",
        ),
        (
            pc.exercises.check_fit_exponent,
            right_slope,
            lambda ns, ys: (
                (math.log(ys[-1]) - math.log(ys[0])) / (math.log(ns[-1]) - math.log(ns[0]))
            ),
            "ns=[2, 3, 5, 7, 11]",
        ),
        (
            pc.exercises.check_window_layers,
            lambda distance, window: max(1, -(-distance // window)),
            lambda distance, window: distance // window,
            "distance=0",
        ),
        (
            pc.exercises.check_kv_cache_bytes,
            right_kv,
            lambda n, batch, d_model, heads, kv_heads, layers, window, bytes_per_element: (
                2 * layers * batch * n * kv_heads * (d_model // heads) * bytes_per_element
            ),  # ignores the window
            "window=32",
        ),
        (
            pc.exercises.check_bytes_per_parameter,
            lambda precision, optimizer: (2 + {"sgd": 0, "momentum": 1}.get(optimizer, 2))
            * (2 if precision.startswith("pure") else 4),  # torch.optim keeps the weights' dtype
            lambda precision, optimizer: 2 * (2 if precision.startswith("pure") else 4)
            + 4 * {"sgd": 0, "momentum": 1}.get(optimizer, 2),  # moments always in fp32
            "precision='pure-bf16', optimizer='momentum'",
        ),
        (
            pc.exercises.check_causal_tile_pairs,
            lambda n, q_tile, kv_tile: sum(
                min(q_tile, n - m) * min(n, -(-(m + min(q_tile, n - m)) // kv_tile) * kv_tile)
                for m in range(0, n, q_tile)
            ),
            lambda n, q_tile, kv_tile: n * (n + 1) // 2,  # the ideal kernel, not the tiled one
            "q_tile=32, kv_tile=512",
        ),
        (
            pc.exercises.check_max_batch,
            lambda spec, n, budget_bytes, precision: pc.max_batch(spec, n, budget_bytes, precision),
            lambda spec, n, budget_bytes, precision: next(  # the first batch that does NOT fit
                b for b in range(1, 10**6)
                if pc.training_memory(spec, n, b, precision).total > budget_bytes
            ),
            "n=512",
        ),
        (
            pc.exercises.check_padding_waste,
            lambda lengths, boundaries: 1 - sum(lengths) / sum(
                next((b for b in boundaries if b >= n), max(lengths)) for n in lengths
            ),
            lambda lengths, boundaries: 1 - sum(lengths) / (len(lengths) * max(lengths)),
            "boundaries=[8]",  # no bucketing: every sequence padded to the longest
        ),
        (
            pc.exercises.check_classifier_params,
            lambda arch, d_model, tokens, classes: (
                8 * d_model**2 + 4 * d_model if arch == "lstm"
                else 2 * (4 * d_model**2 + 2 * d_model * 2 * d_model + 9 * d_model + 2 * d_model)
            ) + tokens * d_model + d_model * classes + classes,
            lambda arch, d_model, tokens, classes: (  # forgets the readout's bias
                8 * d_model**2 + 4 * d_model if arch == "lstm"
                else 2 * (4 * d_model**2 + 2 * d_model * 2 * d_model + 9 * d_model + 2 * d_model)
            ) + tokens * d_model + d_model * classes,
            "arch='lstm', d_model=2",
        ),  # fmt: skip
        (
            pc.exercises.check_can_reach,
            right_reach,
            lambda spec, span: pc.receptive_field(spec) >= span,
            "span=",
        ),
        (
            pc.exercises.check_hops,
            lambda arch, distance: {"rnn": distance, "lstm": distance,
                                    "cnn": max(1, math.ceil(distance / 2))}.get(arch, 1),
            lambda arch, distance: {"rnn": distance, "lstm": distance,  # no layer at d = 0
                                    "cnn": math.ceil(distance / 2)}.get(arch, 1),
            "arch='cnn', distance=0",
        ),  # fmt: skip
        (
            pc.exercises.check_layer_params,
            lambda arch, d_model: {"rnn": 2 * d_model**2 + d_model,
                                   "lstm": 4 * (2 * d_model**2 + d_model),
                                   "cnn": 3 * d_model**2 + d_model}.get(
                                       arch, 12 * d_model**2 + 13 * d_model),
            lambda arch, d_model: {"rnn": 2 * d_model**2 + d_model,  # one gate, not four
                                   "lstm": 2 * d_model**2 + d_model,
                                   "cnn": 3 * d_model**2 + d_model}.get(
                                       arch, 12 * d_model**2 + 13 * d_model),
            "arch='lstm', d_model=2",
        ),  # fmt: skip
    ],
)
def test_checker_passes_the_right_answer_and_names_the_first_miss(
    checker, right, wrong, miss, capsys
):
    assert checker(right) is True
    assert "cases correct" in capsys.readouterr().out
    assert checker(wrong) is False
    report = capsys.readouterr().out
    assert "expected" in report and miss in report


def test_a_crashing_answer_is_reported_not_raised(capsys):
    def broken(kernel, dilations):
        raise KeyError("oops")

    assert pc.exercises.check_receptive_field(broken) is False
    assert "raised KeyError" in capsys.readouterr().out


def test_the_checker_needs_a_function():
    with pytest.raises(ValueError, match="fn"):
        pc.exercises.check_receptive_field(31)
