"""Specs refuse bad sizes on construction with a ValueError that names the parameter."""

import pytest

import pathcost as pc


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: pc.RNN(d_model=0), "d_model"),
        (lambda: pc.LSTM(d_model=8, layers=-1), "layers"),
        (lambda: pc.RNN(d_model=True), "d_model"),
        (lambda: pc.CNN(d_model=8, kernel=0), "kernel"),
        (lambda: pc.CNN(d_model=8, kernel=4, causal=False), "kernel must be odd"),
        (lambda: pc.CNN(d_model=8, layers=3, dilations=(1, 2)), "dilations"),
        (lambda: pc.CNN(d_model=8, layers=2, dilations=(1, 0)), "dilations"),
        (lambda: pc.CNN(d_model=8, causal="yes"), "causal"),
        (lambda: pc.Transformer(d_model=10, heads=4), "divisible by heads"),
        (lambda: pc.Transformer(d_model=8, heads=2, window=0), "window"),
        (lambda: pc.Transformer(d_model=8, heads=2, d_ff=0), "d_ff"),
        (lambda: pc.Transformer(d_model=9, heads=3, positional=True), "even"),
        (lambda: pc.Transformer(d_model=8, heads=2, positional=1), "positional"),
        (lambda: pc.Transformer(d_model=8, heads=4, kv_heads=3), "kv_heads must divide"),
        (lambda: pc.Transformer(d_model=8, heads=4, kv_heads=8), "kv_heads must divide"),
        (lambda: pc.Transformer(d_model=8, heads=4, kv_heads=0), "kv_heads"),
        (lambda: pc.Transformer(d_model=8, heads=4, kv_heads=2.0), "kv_heads"),
        (lambda: pc.Transformer(d_model=8, heads=4, kv_heads=True), "kv_heads"),
        (lambda: pc.Hybrid(0, pc.LSTM(8)), "stride"),
        (lambda: pc.Hybrid(2.0, pc.LSTM(8)), "stride"),
        (lambda: pc.Hybrid(True, pc.LSTM(8)), "stride"),
        (lambda: pc.Hybrid(2, "lstm"), "then must be a spec of RNN, LSTM, CNN, Transformer"),
        (lambda: pc.Hybrid(2, pc.Hybrid(2, pc.LSTM(8))), "then must be .*not a Hybrid"),
        (lambda: pc.Hybrid(2, pc.LSTM(8), d_model=16), "d_model must be then's d_model"),
        (lambda: pc.Hybrid(2, pc.LSTM(8), layers=2), "layers must be then's layers"),
        (lambda: pc.Hybrid(2), "d_model"),
        (lambda: pc.Hybrid(d_model=8, layers=0), "layers"),
    ],
)
def test_bad_spec_is_refused(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_specs_are_hashable_values():
    a = pc.CNN(d_model=8, layers=2, dilations=[1, 2])
    assert a == pc.CNN(d_model=8, layers=2, dilations=(1, 2)) and hash(a)
    assert a.dilation_schedule == (1, 2)
    assert pc.CNN(d_model=8, layers=3).dilation_schedule == (1, 1, 1)
    assert pc.Transformer(d_model=512, heads=8).d_head == 64


def test_kv_heads_none_means_one_per_query_head():
    assert pc.Transformer(d_model=64, heads=8).key_value_heads == 8
    assert pc.Transformer(d_model=64, heads=8).group_size == 1
    grouped = pc.Transformer(d_model=64, heads=8, kv_heads=2)
    assert (grouped.key_value_heads, grouped.group_size, grouped.d_head) == (2, 4, 8)
    assert pc.Transformer(d_model=64, heads=8, kv_heads=1).group_size == 8  # multi-query


def test_a_hybrid_takes_its_width_and_depth_from_its_body_or_builds_an_lstm():
    spec = pc.Hybrid(3, pc.Transformer(d_model=16, heads=2, layers=4))
    assert (spec.d_model, spec.layers, spec.causal) == (16, 4, False)
    assert pc.Hybrid(d_model=8, layers=2) == pc.Hybrid(4, pc.LSTM(8, 2))  # the defaults
    assert pc.Hybrid(d_model=8).then == pc.LSTM(8, 1)
    assert pc.Hybrid(2, pc.RNN(8), d_model=8, layers=1) == pc.Hybrid(2, pc.RNN(8)) and hash(spec)
    assert repr(pc.Hybrid(2, pc.RNN(8))) == "Hybrid(stride=2, then=RNN(d_model=8, layers=1))"
    assert pc.Hybrid(1, pc.RNN(8)).causal and not pc.Hybrid(1, pc.CNN(8, causal=False)).causal
