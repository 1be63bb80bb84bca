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
            pc.exercises.check_can_reach,
            right_reach,
            lambda spec, span: pc.receptive_field(spec) >= span,
            "span=",
        ),
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
