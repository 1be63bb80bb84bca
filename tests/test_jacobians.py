"""Axis 1, measured: the formulas of paths.py against the Jacobians of the real modules."""

import math

import pytest
import torch

import pathcost as pc
from pathcost.measure import jacobians
from pathcost.models import build

RECURRENT = [
    pc.RNN(d_model=4),
    pc.RNN(d_model=4, layers=2),
    pc.LSTM(d_model=4),
    pc.LSTM(d_model=4, layers=2),
]
CNNS = [
    pc.CNN(d_model=4, kernel=2, layers=3),
    pc.CNN(d_model=4, kernel=3, layers=3),
    pc.CNN(d_model=4, kernel=5, layers=2),
    pc.CNN(d_model=4, kernel=3, layers=3, causal=False),
    pc.CNN(d_model=4, kernel=5, layers=2, causal=False),
    pc.CNN(d_model=4, kernel=2, layers=3, dilations=(1, 2, 4)),
    pc.CNN(d_model=4, kernel=3, layers=3, dilations=(1, 2, 4), causal=False),
    pc.CNN(d_model=4, kernel=3, layers=2, dilations=(4, 1)),  # gridded: offset 3 never reached
]
# Centred and gridded: offset 3 = 4 - 1 overshoots, so next to an edge its route would pass
# through a position outside 0..n-1, which a finite padded sequence does not have.
OVERSHOOTING = [
    pc.CNN(d_model=4, kernel=3, layers=2, dilations=(4, 1), causal=False),  # holes at +-2
    pc.CNN(d_model=4, kernel=3, layers=3, dilations=(1, 4, 1), causal=False),
]
WINDOWED = [
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=3, window=1),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=3, window=2),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, window=3),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=3, window=1, causal=False),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, window=2, causal=False),
    pc.Transformer(d_model=4, heads=1, d_ff=8, layers=2, window=3, causal=False),
]
FULL = [
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2),
    pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, causal=False),
]
# A strided convolution, then a body: n = 13 leaves a short last token for every stride
HYBRIDS = [
    pc.Hybrid(4, pc.LSTM(d_model=4, layers=2)),
    pc.Hybrid(3, pc.RNN(d_model=4)),
    pc.Hybrid(1, pc.RNN(d_model=4)),
    pc.Hybrid(2, pc.CNN(d_model=4, kernel=3, layers=2)),
    pc.Hybrid(3, pc.CNN(d_model=4, kernel=3, layers=2, dilations=(1, 2), causal=False)),
    pc.Hybrid(3, pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2)),
    pc.Hybrid(2, pc.Transformer(d_model=4, heads=2, d_ff=8, layers=2, window=1)),
    pc.Hybrid(4, pc.Transformer(d_model=4, heads=1, d_ff=8, layers=1, causal=False)),
]
BOUNDED = [spec for spec in HYBRIDS if pc.receptive_field(spec) != math.inf]
# "Beyond the four": prefix-sum attention (L = 1 back to the start) and the diagonal
# recurrence (L = Δ). Its path length is measured by stepping the layer's transfers (as an
# RNN's), its receptive field and dependency matrix through the module: loop or scan
LINEAR = [
    pc.LinearAttention(d_model=4, heads=2, d_ff=8, layers=1),
    pc.LinearAttention(d_model=4, heads=1, d_ff=8, layers=2),
    pc.LinearAttention(d_model=4, heads=2, d_ff=8, layers=2, positional=True),
    *(
        pc.LinearRecurrence(d_model=4, layers=layers, scan=scan)
        for layers in (1, 2)
        for scan in (False, True)
    ),
]
KERNELS = ["explicit", "sdpa"]


def formula(spec, i, j):
    """paths.path_length_between for input i, output j: inf when a causal model looks back."""
    return pc.paths.path_length_between(spec, i, j)


def kernels(spec):
    """The attention kernels to measure spec with: both where it attends, else explicit."""
    attends = isinstance(getattr(spec, "then", spec), pc.Transformer)
    return KERNELS if attends else KERNELS[:1]


def table(function, n):
    """function(i, j) for every pair of n positions, row by row."""
    return [[function(i, j) for j in range(n)] for i in range(n)]


def measured(spec, n, attention="explicit"):
    """jacobians.path_length for every pair of n positions, row by row."""
    return table(lambda i, j: jacobians.path_length(spec, n, i, j, attention), n)


@pytest.mark.parametrize("spec", RECURRENT + CNNS + LINEAR, ids=repr)
def test_measured_path_length_equals_the_formula(spec):
    n = 13
    assert measured(spec, n) == table(lambda i, j: formula(spec, i, j), n)


@pytest.mark.parametrize("spec", OVERSHOOTING, ids=repr)
def test_formula_holds_away_from_the_sequence_ends(spec):
    # paths.path_length assumes an unbounded sequence (its stated convention); near an end an
    # overshooting route would need positions outside 0..n-1, measured in the test below.
    n, radius = 24, (pc.receptive_field(spec) - 1) // 2
    inner = range(radius, n - radius)
    assert [[jacobians.path_length(spec, n, i, j) for j in inner] for i in inner] == [
        [formula(spec, i, j) for j in inner] for i in inner
    ]


@pytest.mark.parametrize("spec", HYBRIDS, ids=repr)
@pytest.mark.parametrize("attention", KERNELS)
def test_measured_hybrid_path_length_equals_the_formula(spec, attention):
    n = 13
    if attention in kernels(spec):
        assert measured(spec, n, attention) == table(lambda i, j: formula(spec, i, j), n)


@pytest.mark.parametrize(
    "spec", RECURRENT + CNNS + OVERSHOOTING + WINDOWED + FULL + HYBRIDS + LINEAR, ids=repr
)
def test_measured_path_length_equals_the_search_of_the_routing_graph(spec):
    n = 13
    for attention in kernels(spec):
        assert measured(spec, n, attention) == table(
            lambda i, j: pc.shortest_path(spec, n, i, j)[0], n
        )


@pytest.mark.parametrize("attention", KERNELS)
@pytest.mark.parametrize("spec", WINDOWED + FULL, ids=repr)
def test_measured_transformer_path_length_equals_the_formula(spec, attention):
    n = 13  # not a multiple of any window: the blocked attention pads its last block
    assert measured(spec, n, attention) == table(lambda i, j: formula(spec, i, j), n)


def test_the_gridded_hole_and_the_window_switch_are_measured():
    gridded = pc.CNN(d_model=4, kernel=3, layers=2, dilations=(4, 1))
    assert jacobians.path_length(gridded, 16, 2, 5) == math.inf  # offset 3: a hole
    assert jacobians.path_length(gridded, 16, 2, 6) == 1  # offset 4: one layer
    assert jacobians.path_length(gridded, 16, 2, 12) == 2  # offset 10: the far edge
    centred = pc.CNN(d_model=4, kernel=3, layers=2, dilations=(4, 1), causal=False)
    assert jacobians.path_length(centred, 13, 9, 6) == 2  # 6 reads 5, which reads 9
    assert jacobians.path_length(centred, 13, 3, 0) == math.inf  # 0 would read -1: padding
    windowed = pc.Transformer(d_model=4, heads=2, d_ff=8, layers=1, window=3)
    assert jacobians.path_length(windowed, 3, 0, 2) == 1  # window >= n: full attention
    assert jacobians.path_length(windowed, 8, 0, 4) == math.inf


@pytest.mark.parametrize("spec", CNNS + OVERSHOOTING + WINDOWED, ids=repr)
def test_measured_receptive_field_equals_the_formula(spec):
    for attention in kernels(spec):
        assert jacobians.receptive_field(spec, 20, attention) == pc.receptive_field(spec)


@pytest.mark.parametrize("spec", BOUNDED, ids=repr)
def test_measured_hybrid_receptive_field_is_whole_groups_of_s(spec):
    for attention in kernels(spec):
        assert jacobians.receptive_field(spec, 40, attention) == pc.receptive_field(spec)
    assert jacobians.receptive_field(spec) == pc.receptive_field(spec)  # n found by doubling


@pytest.mark.parametrize(
    "spec", RECURRENT + FULL + [s for s in HYBRIDS if s not in BOUNDED] + LINEAR, ids=repr
)
def test_recurrences_and_full_attention_read_the_whole_sequence(spec):
    assert pc.receptive_field(spec) == math.inf
    for attention in KERNELS:
        assert jacobians.receptive_field(spec, 12, attention) == math.inf


def test_a_field_that_reaches_the_edge_of_n_is_not_bounded_by_n():
    spec = pc.CNN(d_model=4, kernel=3, layers=2)  # R = 5
    assert [jacobians.receptive_field(spec, n) for n in (2, 5, 6, 9)] == [math.inf] * 2 + [5] * 2
    centred = pc.CNN(d_model=4, kernel=3, layers=2, causal=False)  # R = 5, two each side
    assert [jacobians.receptive_field(centred, n) for n in (5, 6, 7)] == [math.inf, math.inf, 5]


def test_gradient_norms_of_a_linear_recurrence_are_rho_to_the_k():
    # x = 0, b = 0, W_x = I, W_h = rho I: tanh'(0) = 1, so d h_T / d x_(T-k) = rho^k I exactly
    module = build(pc.RNN(d_model=4)).double()
    layer, eye = module.layers[0], torch.eye(4, dtype=torch.float64)
    with torch.no_grad():
        layer.input.weight.copy_(eye)
        layer.input.bias.zero_()
        layer.recurrent.weight.copy_(0.5 * eye)
    norms = jacobians.gradient_norms(module, torch.zeros(1, 9, 4, dtype=torch.float64))
    assert torch.equal(norms, 2.0 * 0.5 ** torch.arange(9, dtype=torch.float64))  # sqrt(4) = 2


def test_gradient_norms_vanish_exactly_beyond_a_causal_convolution():
    spec = pc.CNN(d_model=4, kernel=3, layers=2)  # reads 0..4 positions back
    x = torch.randn(1, 8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    norms = jacobians.gradient_norms(build(spec).double(), x)
    assert norms.shape == (8,)
    assert (norms != 0).tolist() == [True] * 5 + [False] * 3


def test_the_callers_random_state_is_left_alone():
    before = torch.random.get_rng_state()
    jacobians.path_length(pc.LSTM(d_model=3, layers=3), 5, 0, 4)
    jacobians.receptive_field(pc.Transformer(d_model=3, heads=1, d_ff=4, layers=1), 5)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: jacobians.path_length("RNN", 4, 0, 1), "spec"),
        (lambda: jacobians.path_length(pc.RNN(d_model=2), 0, 0, 0), "n"),
        (lambda: jacobians.path_length(pc.RNN(d_model=2), 4, -1, 1), "i"),
        (lambda: jacobians.path_length(pc.RNN(d_model=2), 4, 4, 1), "i"),
        (lambda: jacobians.path_length(pc.RNN(d_model=2), 4, 0, 4), "j"),
        (lambda: jacobians.path_length(pc.CNN(d_model=2), 4, 0, 1, "flash"), "attention"),
        (lambda: jacobians.receptive_field(pc.CNN(d_model=2), 1), "n"),
        (lambda: jacobians.receptive_field(pc.CNN(d_model=2, causal=False), 2), "n"),
        (lambda: jacobians.receptive_field(pc.CNN(d_model=2), 8, "flash"), "attention"),
        (lambda: jacobians.gradient_norms(torch.nn.Identity(), torch.zeros(4, 2)), "x"),
        (lambda: jacobians.gradient_norms(torch.nn.Identity(), torch.zeros(2, 4, 2)), "x"),
        (lambda: jacobians.gradient_norms(torch.nn.Identity(), torch.zeros(1, 4, 2).int()), "x"),
    ],
)
def test_bad_input_is_refused_by_name(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


# --- the dependency matrix of "Receptive fields" ------------------------------------------


@pytest.mark.parametrize("spec", RECURRENT + CNNS + WINDOWED + FULL + HYBRIDS + LINEAR, ids=repr)
def test_dependency_matrix_is_nonzero_exactly_at_the_offsets_the_formula_reaches(spec):
    n = 13
    nonzero = (jacobians.dependency_matrix(spec, n) != 0).tolist()  # nonzero[j][i]
    assert nonzero == [[formula(spec, i, j) != math.inf for i in range(n)] for j in range(n)]


@pytest.mark.parametrize("spec", OVERSHOOTING, ids=repr)
def test_dependency_matrix_is_nonzero_where_the_routing_graph_connects(spec):
    n = 13  # next to the ends an overshooting route is cut by the padding, in both routes
    nonzero = (jacobians.dependency_matrix(spec, n) != 0).tolist()
    assert nonzero == [
        [pc.shortest_path(spec, n, i, j)[0] != math.inf for i in range(n)] for j in range(n)
    ]


@pytest.mark.parametrize("spec", [CNNS[1], CNNS[6], RECURRENT[2], WINDOWED[3]], ids=repr)
def test_dependency_matrix_last_row_equals_the_gradient_norms(spec):
    # two autograd routes: one vectorised Jacobian against one backward pass per channel
    n = 10
    module, x = pc.models.seeded(spec), pc.models.seeded_input(n, spec.d_model)
    last_row = jacobians.dependency_matrix(spec, n)[n - 1]
    torch.testing.assert_close(last_row.flip(0), jacobians.gradient_norms(module, x))


def test_dependency_matrix_shows_the_holes_of_a_gridded_schedule():
    spec = pc.CNN(d_model=4, kernel=3, layers=2, dilations=(4, 1))  # R = 11, offsets 3, 7 missed
    row = jacobians.dependency_matrix(spec, 16)[15]
    offsets = sorted(15 - i for i in range(16) if row[i] != 0)
    assert offsets == [0, 1, 2, 4, 5, 6, 8, 9, 10]
    assert offsets[-1] - offsets[0] + 1 == pc.receptive_field(spec)


def test_dependency_image_paints_exactly_the_zeros_grey():
    matrix = jacobians.dependency_matrix(pc.CNN(d_model=4, kernel=3, layers=2), 9)
    ax = pc.plots.dependency_image(matrix)
    painted = ax.images[0].get_array()
    assert painted.mask.tolist() == (matrix == 0).tolist()
    with pytest.raises(ValueError, match=r"^matrix "):
        pc.plots.dependency_image(matrix[:4])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: jacobians.dependency_matrix("CNN", 4), "spec"),
        (lambda: jacobians.dependency_matrix(pc.CNN(d_model=2), 0), "n"),
        (lambda: jacobians.dependency_matrix(pc.CNN(d_model=2), 4, "flash"), "attention"),
        (lambda: jacobians.dependency_row(pc.CNN(d_model=2), 4, 4), "j"),
        (lambda: jacobians.dependency_row(pc.CNN(d_model=2), 4, -1), "j"),
        (lambda: jacobians.dependency_row(pc.CNN(d_model=2), 0, 0), "n"),
    ],
)
def test_dependency_matrix_and_row_refuse_bad_input_by_name(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


@pytest.mark.parametrize(
    "spec", [CNNS[3], CNNS[7], OVERSHOOTING[0], RECURRENT[3], FULL[0]], ids=repr
)
def test_dependency_row_equals_the_row_of_the_vectorised_matrix(spec):
    # two autograd routes: one backward pass per channel of y_j against torch's vmapped Jacobian
    n = 11
    matrix = jacobians.dependency_matrix(spec, n)
    rows = torch.stack([jacobians.dependency_row(spec, n, j) for j in range(n)])
    torch.testing.assert_close(rows, matrix)
    assert torch.equal(rows != 0, matrix != 0)


def test_a_deep_stack_keeps_its_tiny_entries_nonzero():
    # entries near 1e-214 square to 0 in float64; the norm must not turn them into holes
    spec = pc.CNN(d_model=4, kernel=3, layers=256)  # R = 513: offsets 0..512
    row = jacobians.dependency_row(spec, 520, 519)
    assert 0 < row[519].item() < 1e-160
    assert sorted(519 - i for i in range(520) if row[i] != 0) == list(range(513))


def test_the_dependency_matrix_leaves_the_callers_thread_count_alone():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        jacobians.dependency_matrix(pc.CNN(d_model=2, kernel=3, layers=1), 5)
        jacobians.dependency_row(pc.CNN(d_model=2, kernel=3, layers=1), 5, 4)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_gradient_norms_keep_entries_too_small_to_square():
    class Tiny(torch.nn.Module):
        def forward(self, x):  # y_t = 1e-170 * x_t: squaring 1e-170 underflows float64
            return x * 1e-170

    norms = jacobians.gradient_norms(Tiny(), torch.ones(1, 3, 4, dtype=torch.float64))
    assert norms[0] == pytest.approx(2e-170) and norms[1:].eq(0).all()


@pytest.mark.parametrize("spec", CNNS[:4] + WINDOWED[:2], ids=repr)
def test_the_field_found_without_n_equals_the_formula(spec):
    assert jacobians.receptive_field(spec) == pc.receptive_field(spec)


def test_an_unbounded_field_is_infinite_up_to_max_n():
    assert jacobians.receptive_field(pc.RNN(2), max_n=32) == math.inf
