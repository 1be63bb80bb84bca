"""The Hybrid (a strided convolution, then a body): its own laws, each against the real module.

Its formulas also sit in every grid the other architectures are held to (test_costs,
test_paths, test_jacobians, test_measure_steps, test_budget, test_traffic); here are the
laws only a Hybrid has: the shape it keeps, the tokens it repeats, the look-ahead it pays
for its stride, and costs that are its convolution's plus its body's at ceil(n / s).
"""

import math

import pytest
import torch

import pathcost as pc
from pathcost.measure import jacobians

BODIES = [
    pc.LSTM(8, 2),
    pc.RNN(8),
    pc.CNN(8, kernel=3, layers=2),
    pc.CNN(8, kernel=3, layers=2, causal=False),
    pc.Transformer(8, heads=2, d_ff=16, layers=2),
    pc.Transformer(8, heads=2, d_ff=16, layers=1, window=2, causal=False),
]
SPECS = [pc.Hybrid(stride, then) for then in BODIES for stride in (1, 3, 4)]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_the_module_maps_batch_n_d_to_batch_n_d_and_repeats_each_token_s_times(spec):
    torch.manual_seed(0)
    module, s = pc.build(spec), spec.stride
    for n in (1, 2, 7, 12, 13):
        x = torch.randn(2, n, spec.d_model)
        y = module(x)
        assert y.shape == (2, n, spec.d_model)
        tokens = module.body(module.tokens(x))  # (2, ceil(n / s), d)
        assert tokens.shape[1] == pc.costs.downsampled_length(n, s)
        assert torch.equal(y, tokens[:, [j // s for j in range(n)]])  # output j: token j // s


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_look_ahead_is_what_the_jacobian_reads_after_each_output(spec):
    """Law: output j reads up to A - (j mod s) positions after it (A = paths.look_ahead), cut
    by the end of the sequence: s - 1 - (j mod s) for a causal body."""
    n = 14
    reads = jacobians.dependency_matrix(spec, n) != 0  # reads[j, i]
    ahead = pc.paths.look_ahead(spec)
    for j in range(n):
        last = max(i for i in range(n) if reads[j, i])
        assert last - j == min(ahead - j % spec.stride, n - 1 - j), j
    if spec.then.causal:
        assert ahead == spec.stride - 1
        assert (ahead == 0) == spec.causal  # causal only at stride 1


@pytest.mark.parametrize(
    "spec",
    [
        pc.CNN(4, kernel=5, layers=2, causal=False),
        pc.CNN(4, kernel=3, layers=2, dilations=(1, 2), causal=False),
        pc.Transformer(4, heads=2, d_ff=8, layers=2, window=2, causal=False),
        pc.Transformer(4, heads=2, d_ff=8, layers=1, causal=False),
        pc.Transformer(4, heads=2, d_ff=8, layers=2),
        pc.LSTM(4),
    ],
    ids=repr,
)
def test_look_ahead_of_the_four_is_what_the_jacobian_reads_after_each_output(spec):
    n = 14
    reads = jacobians.dependency_matrix(spec, n) != 0
    for j in range(n):
        last = max(i for i in range(n) if reads[j, i])
        assert last - j == min(pc.paths.look_ahead(spec), n - 1 - j), j


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_flops_are_the_counters_and_the_downsampled_modules(spec):
    """Law: the repeat back to n costs no FLOPs, so a Hybrid costs what downsampled(then) does."""
    for n, batch in [(1, 1), (7, 2), (40, 3)]:
        with torch.device("meta"):
            module, x = pc.build(spec), torch.empty(batch, n, spec.d_model)
        components = pc.forward_flops_by_component(spec, n, batch)
        assert pc.measure.flops_by_component(module, x) == components
        assert sum(components.values()) == pc.forward_flops(spec, n, batch) == (
            pc.costs.downsampled_forward_flops(spec.then, n, spec.stride, batch)
        )  # fmt: skip


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_params_are_the_modules_its_convolution_and_its_body(spec):
    module, d = pc.build(spec), spec.d_model
    assert sum(p.numel() for p in module.parameters()) == pc.params(spec)
    assert sum(p.numel() for p in module.conv.parameters()) == spec.stride * d * d + d
    assert sum(p.numel() for p in module.body.parameters()) == pc.params(spec.then)


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_saved_bytes_are_the_padded_input_and_the_body_at_ceil_n_over_s(spec):
    torch.manual_seed(0)
    module = pc.build(spec)
    for n, batch in [(1, 1), (9, 2), (12, 3)]:
        x = torch.randn(batch, n, spec.d_model)
        measured = pc.measure.saved_bytes(module, x)
        assert measured == pc.activation_bytes(spec, n, batch)
        m = pc.costs.downsampled_length(n, spec.stride)
        tokens = module.tokens(x).detach()  # what the body reads, measured on the body alone
        assert measured - pc.measure.saved_bytes(module.body, tokens) == batch * spec.d_model * (
            m * spec.stride
        ) * 4  # fmt: skip


def test_a_stride_of_one_is_the_body_after_a_pointwise_projection():
    spec = pc.Hybrid(1, pc.LSTM(8, 2))
    assert spec.causal and pc.receptive_field(spec) == math.inf
    assert pc.sequential_steps(spec, 10) == 1 + pc.sequential_steps(spec.then, 10)
    assert [pc.path_length(spec, d) for d in (0, 1, 5)] == [1, 2, 6]
    assert pc.forward_flops(spec, 10) == 2 * 10 * 8 * 8 + pc.forward_flops(spec.then, 10)


def test_the_registry_entry_builds_the_default_body():
    entry = pc.registry.ARCHITECTURES["hybrid"]
    assert entry.composite and "hybrid" not in pc.registry.single_architectures()
    default = pc.Hybrid(d_model=8, layers=3)
    assert entry.example(8, 2, 16, 3) == default == pc.Hybrid(4, pc.LSTM(8, 3))
    assert pc.registry.label(pc.Hybrid(2, pc.CNN(8, 3, 2, causal=False))) == (
        "Hybrid s=2, then CNN k=3 centred"
    )  # fmt: skip


def test_a_routing_graph_stands_each_token_s_times():
    spec, n = pc.Hybrid(3, pc.RNN(4)), 7  # tokens {0, 1, 2}, {3, 4, 5}, {6}
    edges = pc.routing_graph(spec, n)
    groups = {(i, j) for i in range(n) for j in range(n) if i // 3 == j // 3}
    conv = [(i, j, hops) for (layer, i), (_, j), hops in edges if layer == 0]
    assert sorted(conv) == sorted((i, j, 1) for i, j in groups)  # one hop into the token
    inputs = [(i, j, hops) for (layer, i), (above, j), hops in edges if (layer, above) == (1, 2)]
    assert sorted(inputs) == sorted((i, j, 0) for i, j in groups)  # the body's input edge
    state = [(i, j, hops) for (layer, i), (above, j), hops in edges if layer == above == 2]
    expected = {(i, j, 1) for i in range(n) for j in range(n) if j // 3 == i // 3 + 1}
    assert sorted(state) == sorted(expected)  # the state transfer between tokens, each replica


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.training_memory(SPECS[0], 8, checkpointing=True), "checkpointing"),
        (lambda: pc.decode_state_bytes(SPECS[0], 8), "spec must not be a Hybrid"),
        (lambda: pc.bytes_moved(SPECS[0], 8, phase="decode"), "spec must not be a Hybrid"),
        (lambda: pc.paths.path_length_between(SPECS[0], 0, -1), "j"),
        (lambda: pc.build(SPECS[0], attention="flash"), "attention"),
    ],
)
def test_what_a_hybrid_does_not_do_is_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()
