"""The shared input checks: each refuses what it must, names the parameter, and passes the rest."""

import math

import pytest

import pathcost as pc
from pathcost import checks


@pytest.mark.parametrize("value", [True, False, "1", None, math.nan, math.inf, -math.inf, 1j])
def test_require_real_refuses_booleans_text_and_non_finite_numbers(value):
    with pytest.raises(ValueError, match="rate must be a finite number"):
        checks.require_real("rate", value)


@pytest.mark.parametrize(
    "value, bounds, ok",
    [
        (0.0, dict(low=0), True),
        (0.0, dict(low=0, low_open=True), False),
        (1, dict(low=0, high=1), True),
        (1, dict(low=0, high=1, high_open=True), False),
        (0.5, dict(low=0, high=1, low_open=True, high_open=True), True),
        (-1e-300, dict(low=0), False),
        (7, {}, True),
    ],
)
def test_require_real_bounds_are_closed_unless_asked_open(value, bounds, ok):
    if ok:
        checks.require_real("x", value, **bounds)
    else:
        with pytest.raises(ValueError, match=r"x must lie in [\[(]"):
            checks.require_real("x", value, **bounds)


def test_require_choice_lists_the_choices():
    checks.require_choice("mode", "b", ("a", "b"))
    checks.require_choice("dtype", "fp16", {"fp16": 1})  # the keys of a dict
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b'; got 'c'"):
        checks.require_choice("mode", "c", ("a", "b"))


def test_require_bool_and_callable_name_the_parameter():
    checks.require_bool(causal=False)
    with pytest.raises(ValueError, match="causal must be True or False, got 1"):
        checks.require_bool(causal=1)
    checks.require_callable(fn=len)
    with pytest.raises(ValueError, match="fn must be callable, got int"):
        checks.require_callable(fn=3)


@pytest.mark.parametrize("lr", [True, 0, -1e-3, math.nan, "0.01"])
def test_a_training_budget_refuses_a_learning_rate_that_is_not_a_positive_number(lr):
    with pytest.raises(ValueError, match="lr must"):
        pc.training.Budget(steps=10, batch=4, lr=lr, held_out=16)


def test_every_attention_kernel_check_names_the_parameter_and_the_kernels():
    spec = pc.Transformer(8, 2, 16, 1)
    calls = [
        lambda: pc.build(spec, "flash"),
        lambda: pc.activation_bytes(spec, 4, attention="flash"),
        lambda: pc.downsampling.downsampled(spec, 2, "flash"),
        lambda: pc.measure.path_length(spec, 4, 0, 3, attention="flash"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="attention must be one of 'explicit', 'sdpa'"):
            call()
