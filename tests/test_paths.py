"""Axis 1: the closed forms of paths.py against a search of the explicit routing graph."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pathcost as pc
from pathcost.formulas.scan import scan_combines, scan_depth, scan_levels

SPECS = [
    pc.RNN(d_model=4),
    pc.RNN(d_model=4, layers=3),
    pc.LSTM(d_model=4, layers=2),
    pc.CNN(d_model=4, kernel=3, layers=4),
    pc.CNN(d_model=4, kernel=3, layers=4, causal=False),
    pc.CNN(d_model=4, kernel=5, layers=2, causal=False),
    pc.CNN(d_model=4, kernel=2, layers=4, dilations=(1, 2, 4, 8)),
    pc.CNN(d_model=4, kernel=3, layers=3, dilations=(1, 2, 4), causal=False),
    pc.CNN(d_model=4, kernel=3, layers=2, dilations=(4, 1)),  # gridded: holes in its span
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=1),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, causal=False),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=3, window=2),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, window=3, causal=False),
    pc.Hybrid(4, pc.LSTM(d_model=4, layers=2)),
    pc.Hybrid(3, pc.RNN(d_model=4)),
    pc.Hybrid(1, pc.RNN(d_model=4, layers=2)),  # stride 1: the body's own paths, plus one
    pc.Hybrid(2, pc.CNN(d_model=4, kernel=3, layers=2)),
    pc.Hybrid(3, pc.CNN(d_model=4, kernel=3, layers=2, causal=False)),
    pc.Hybrid(3, pc.Transformer(d_model=4, heads=2, d_ff=8, layers=1)),
    pc.Hybrid(2, pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, window=1)),
    pc.Hybrid(4, pc.Transformer(d_model=4, heads=2, d_ff=8, layers=1, causal=False)),
    *(pc.LinearAttention(d_model=4, heads=2, d_ff=8, layers=layers) for layers in (1, 2, 3)),
    *(
        pc.LinearRecurrence(d_model=4, layers=layers, scan=scan)
        for layers in (1, 2, 3)
        for scan in (False, True)
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_path_length_equals_search_of_the_routing_graph(spec):
    n = 14
    for i in range(n):
        for j in range(n):
            found, path = pc.shortest_path(spec, n, i, j)
            if j < i and spec.causal:
                assert found == math.inf and path == []
                continue
            assert found == pc.paths.path_length_between(spec, i, j), (i, j)
            if path:
                assert path[0] == (0, i) and path[-1][1] == j
            if not isinstance(spec, pc.Hybrid):  # L depends on the distance alone
                assert found == pc.path_length(spec, abs(j - i)), (i, j)


def test_a_hybrid_pays_one_hop_into_its_token_and_then_its_body_between_tokens():
    lstm = pc.Hybrid(4, pc.LSTM(d_model=4))  # tokens floor(i / 4)
    assert pc.path_length(lstm, 3) == 1 and pc.path_length(lstm, 4) == 2  # from i = 0
    assert pc.paths.path_length_between(lstm, 3, 4) == 2  # neighbours, two tokens
    assert pc.paths.path_length_between(lstm, 3, 0) == 1  # the same token: it looks ahead
    assert pc.paths.path_length_between(lstm, 4, 3) == math.inf  # an earlier token
    assert pc.path_length(lstm, 1023) == 1 + 255  # 256 tokens: 255 state transfers
    attend = pc.Hybrid(4, pc.Transformer(d_model=8, heads=2, d_ff=8, layers=1))
    assert pc.path_length(attend, 1023) == 2
    assert pc.sequential_steps(lstm, 1024) == 1 + 256 and pc.sequential_steps(attend, 1024) == 2
    conv = pc.Hybrid(4, pc.CNN(d_model=4, kernel=3, layers=2))
    assert pc.receptive_field(conv) == 4 * 5 and pc.paths.look_ahead(conv) == 3
    assert pc.paths.look_ahead(pc.Hybrid(4, pc.CNN(4, 3, 2, causal=False))) == 4 * 3 - 1
    assert pc.paths.look_ahead(pc.CNN(4, 3, 2, causal=False)) == 2
    assert pc.paths.look_ahead(pc.Transformer(8, 2, 8, 2, window=3, causal=False)) == 6
    assert pc.paths.look_ahead(pc.Transformer(8, 2, 8, 2, causal=False)) == math.inf
    assert pc.paths.look_ahead(pc.Hybrid(1, pc.LSTM(4))) == 0


def test_beyond_the_four_on_axis_1():
    attend = pc.LinearAttention(d_model=8, heads=2, d_ff=8, layers=3)
    assert [pc.path_length(attend, d) for d in (0, 1, 1023)] == [1, 1, 1]
    assert pc.paths.path_length_between(attend, 5, 4) == math.inf  # causal
    assert [pc.sequential_steps(attend, n) for n in (1, 1024)] == [3, 3]
    for scan in (False, True):
        recur = pc.LinearRecurrence(d_model=8, layers=2, scan=scan)
        assert [pc.path_length(recur, d) for d in (0, 1, 1023)] == [0, 1, 1023]
        assert pc.paths.path_length_between(recur, 5, 4) == math.inf
    for spec in (attend, recur):
        assert pc.receptive_field(spec) == math.inf and pc.paths.look_ahead(spec) == 0
    assert pc.sequential_steps(pc.LinearRecurrence(8, 3), 1024) == 1026  # the loop's wavefront
    # the routing graphs are those of a causal full-attention stack and of an RNN
    full = pc.Transformer(d_model=8, heads=2, d_ff=8, layers=3)
    assert pc.routing_graph(attend, 9) == pc.routing_graph(full, 9)
    assert pc.routing_graph(recur, 9) == pc.routing_graph(pc.RNN(d_model=8, layers=2), 9)


def test_one_scan_layer_has_the_closed_form_and_a_stack_is_bounded_by_it():
    one = [pc.sequential_steps(pc.LinearRecurrence(4, scan=True), n) for n in range(1, 300)]
    assert one[:2] == [0, 1]
    assert one[2:] == [2 * math.ceil(math.log2(n)) - 2 for n in range(3, 300)]
    edges = sorted({2**k + e for k in range(9, 17) for e in (-1, 0, 1)})  # around N = 2^m
    assert [scan_depth(n) for n in edges] == [2 * math.ceil(math.log2(n)) - 2 for n in edges]
    assert scan_depth(2**20) == 38 and scan_depth(2**20 + 1) == 40  # O(N) on integers
    for layers in (2, 3, 4):
        for n in range(2, 200):
            stack = pc.sequential_steps(pc.LinearRecurrence(4, layers, scan=True), n)
            # each layer adds at most one layer's chain, and at least one combine
            assert one[n - 1] + layers - 1 <= stack <= layers * one[n - 1], (layers, n)


def test_the_scan_runs_more_combines_on_fewer_levels_than_the_loop():
    assert [scan_combines(n) for n in (1, 2, 3, 4, 5, 8, 9)] == [0, 1, 4, 4, 11, 11, 26]
    assert [scan_levels(n) for n in (1, 2, 3, 4, 5, 8, 9)] == [0, 1, 3, 3, 5, 5, 7]
    for n in range(3, 300):  # the longest chain skips one level: the total at N - 1
        assert scan_depth(n) == scan_levels(n) - 1
        assert n <= scan_combines(n) < 4 * n


def test_the_article_traces():
    # n = 4, 6, 8: x1 to the last position, as in the source article's traces
    assert [pc.path_length(pc.RNN(d_model=8), n - 1) for n in (4, 6, 8)] == [3, 5, 7]
    assert [pc.sequential_steps(pc.LSTM(d_model=8), n) for n in (4, 6, 8)] == [4, 6, 8]
    two_causal = pc.CNN(d_model=8, kernel=3, layers=2)
    two_centred = pc.CNN(d_model=8, kernel=3, layers=2, causal=False)
    assert pc.path_length(two_causal, 3) == 2  # causal k=3, 2 layers: x1 reaches x4
    assert pc.path_length(two_centred, 2) == 2 and pc.path_length(two_centred, 3) == math.inf
    assert [pc.layers_to_cover(n - 1, kernel=3) for n in (4, 6, 8)] == [2, 3, 4]
    assert [pc.layers_to_cover(n - 1, kernel=3, causal=False) for n in (4, 6, 8)] == [3, 5, 7]
    assert pc.path_length(pc.Transformer(d_model=8, heads=2, d_ff=8, layers=1), 7) == 1


def test_k3_distance_511_needs_256_causal_and_511_centred_layers():
    assert pc.layers_to_cover(511, kernel=3, causal=True) == 256
    assert pc.layers_to_cover(511, kernel=3, causal=False) == 511
    assert pc.path_length(pc.CNN(d_model=1, kernel=3, layers=256), 511) == 256
    assert pc.path_length(pc.CNN(d_model=1, kernel=3, layers=255), 511) == math.inf


def test_gridded_dilations_leave_holes_inside_the_receptive_field():
    spec = pc.CNN(d_model=1, kernel=3, layers=2, dilations=(4, 1))
    assert pc.receptive_field(spec) == 11  # spans offsets 0..10
    assert pc.path_length(spec, 3) == math.inf  # but offset 3 is never reached
    assert pc.path_length(spec, 10) == 2


def test_receptive_field_and_sequential_steps():
    assert pc.receptive_field(pc.CNN(d_model=1, kernel=3, layers=8)) == 17
    assert pc.receptive_field(pc.CNN(d_model=1, kernel=3, layers=4, dilations=[1, 2, 4, 8])) == 31
    assert pc.receptive_field(pc.Transformer(d_model=4, heads=1, d_ff=4, layers=3, window=2)) == 7
    assert pc.receptive_field(pc.RNN(d_model=4)) == math.inf
    assert pc.sequential_steps(pc.RNN(d_model=4, layers=3), 1024) == 1026
    assert pc.sequential_steps(pc.Transformer(d_model=8, layers=6), 1024) == 6
    assert pc.sequential_steps(pc.CNN(d_model=8, layers=20), 1024) == 20


@given(
    distance=st.integers(0, 400),
    kernel=st.sampled_from([2, 3, 4, 5, 7]),
    base=st.sampled_from([1, 2, 3]),
)
def test_layers_to_cover_is_the_first_depth_whose_span_reaches(distance, kernel, base):
    layers = pc.layers_to_cover(distance, kernel, causal=True, dilation_base=base)
    span = [
        (kernel - 1) * sum(base**layer for layer in range(depth)) for depth in (layers - 1, layers)
    ]
    assert span[1] >= distance
    assert layers == 0 or span[0] < distance


@given(distance=st.integers(1, 200), kernel=st.sampled_from([3, 5, 7]))
def test_undilated_path_length_matches_layers_to_cover(distance, kernel):
    for causal in (True, False):
        needed = pc.layers_to_cover(distance, kernel, causal=causal)
        deep = pc.CNN(d_model=1, kernel=kernel, layers=needed + 2, causal=causal)
        assert pc.path_length(deep, distance) == needed


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.path_length(pc.RNN(d_model=4), -1), "distance"),
        (lambda: pc.sequential_steps(pc.RNN(d_model=4), 0), "n"),
        (lambda: pc.layers_to_cover(5, kernel=4, causal=False), "kernel"),
        (lambda: pc.layers_to_cover(5, kernel=1), "kernel"),
        (lambda: pc.layers_to_cover(5, kernel=3, dilation_base=0), "dilation_base"),
        (lambda: pc.layers_to_cover(5.0, kernel=3), "distance"),
        (lambda: pc.path_length("lstm", 3), "spec"),
        (lambda: pc.shortest_path(pc.RNN(d_model=4), 4, 0, 4), "j"),
        (lambda: pc.paths.path_length_between(pc.RNN(d_model=4), -1, 3), "i"),
        (lambda: pc.paths.look_ahead("cnn"), "spec"),
        (lambda: pc.sequential_steps(pc.LinearRecurrence(4, scan=True), 0), "n"),
        (lambda: scan_depth(4, layers=0), "layers"),
        (lambda: scan_depth(2.0), "n"),
        (lambda: scan_combines(0), "n"),
        (lambda: scan_levels(True), "n"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("distance", [1, 2, 7, 8, 100, 511])
@pytest.mark.parametrize("kernel, base, causal", [(2, 2, True), (3, 1, True), (3, 3, False)])
def test_covering_cnn_is_the_shallowest_stack_whose_search_reaches(distance, kernel, base, causal):
    spec = pc.covering_cnn(distance, d_model=4, kernel=kernel, dilation_base=base, causal=causal)
    assert spec.dilation_schedule == pc.dilations(spec.layers, base)
    assert pc.path_length(spec, distance) == spec.layers  # reached by the whole stack ...
    if spec.layers > 1:  # ... and not by one layer less (the bitset search, not the closed form)
        shorter = pc.CNN(4, kernel, spec.layers - 1, dilations=pc.dilations(spec.layers - 1, base),
                         causal=causal)  # fmt: skip
        assert pc.path_length(shorter, distance) == math.inf


def test_dilations_are_the_powers_of_the_base():
    assert pc.dilations(5) == (1, 2, 4, 8, 16)
    assert pc.dilations(3, base=3) == (1, 3, 9) and pc.dilations(2, base=1) == (1, 1)
    with pytest.raises(ValueError, match="layers"):
        pc.dilations(0)
