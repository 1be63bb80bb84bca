"""Gradient decay: the measured Jacobian products of real modules against independent routes."""

import math

import pytest
import torch

import pathcost as pc
from pathcost import decay
from pathcost.models import seeded, seeded_input

RHOS = [0.5, 0.9, 0.95, 0.99, 1.0, 1.05]


def powers_norm(W, n, ord=2):
    """||W^k||_ord for k = 0 .. n-1 by torch.linalg.matrix_power: no recurrence, no autograd."""
    return torch.stack(
        [torch.linalg.matrix_norm(torch.linalg.matrix_power(W, k), ord=ord) for k in range(n)]
    )


def geometric(rho, n):
    """rho^k for k = 0 .. n-1 in float64, by Python's own power."""
    return torch.tensor([rho**k for k in range(n)], dtype=torch.float64)


def test_orthogonal_is_orthogonal_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    Q = decay.orthogonal(16, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(Q.T @ Q, torch.eye(16, dtype=torch.float64), rtol=0, atol=1e-13)
    assert torch.equal(Q, decay.orthogonal(16, seed=3))
    assert not torch.equal(Q, decay.orthogonal(16, seed=4))


@pytest.mark.parametrize("rho", RHOS)
def test_recurrent_matrix_has_spectral_radius_rho_and_power_norms_rho_to_the_k(rho):
    W = decay.recurrent_matrix(12, rho)
    assert decay.spectral_radius(W) == pytest.approx(rho, rel=1e-12)
    torch.testing.assert_close(powers_norm(W, 40), geometric(rho, 40), rtol=1e-12, atol=0)


@pytest.mark.parametrize("rho", [0.9, 0.95, 0.99])
def test_measured_state_jacobian_of_a_linear_rnn_is_rho_to_the_k(rho):
    # autograd through the module's own steps, against matrix powers and against rho^k
    d, n = 8, 64
    W = decay.recurrent_matrix(d, rho)
    measured = decay.state_jacobian_norms(decay.LinearRNNLayer(W), seeded_input(n, d))
    torch.testing.assert_close(measured, powers_norm(W, n), rtol=1e-10, atol=0)
    torch.testing.assert_close(measured, geometric(rho, n), rtol=1e-10, atol=0)


@pytest.mark.parametrize("a", [0.5, 0.9, -0.8, 1.1])
def test_a_one_number_linear_rnn_is_the_scalar_recurrence_a_to_the_k(a):
    # d = 1: the chapter's first example, h_t = a h_(t-1) + x_t, whose derivative k steps
    # back is a^k; the 1 x 1 matrix norm is its size, |a|^k, against Python's own power
    n = 40
    measured = decay.state_jacobian_norms(
        decay.LinearRNNLayer(torch.tensor([[a]], dtype=torch.float64)), seeded_input(n, 1)
    )
    torch.testing.assert_close(measured, geometric(abs(a), n), rtol=1e-12, atol=0)


def test_input_gradient_of_a_linear_rnn_is_the_frobenius_norm_of_w_to_the_k():
    # U = I, so d h_T / d x_(T-k) = W^k: jacobians.gradient_norms sees ||W^k||_F = rho^k sqrt(d)
    d, n, rho = 8, 50, 0.95
    W = decay.recurrent_matrix(d, rho)
    measured = pc.measure.gradient_norms(decay.LinearRNNLayer(W), seeded_input(n, d))
    torch.testing.assert_close(measured, powers_norm(W, n, "fro"), rtol=1e-10, atol=0)
    torch.testing.assert_close(measured, geometric(rho, n) * math.sqrt(d), rtol=1e-10, atol=0)


def test_input_matrix_u_enters_once():
    # d h_T / d x_(T-k) = W^k U for a general U
    d, n = 6, 20
    W, U = decay.nonnormal_matrix(d, 0.8, 0.5), decay.orthogonal(d, seed=7) * 2.0
    measured = pc.measure.gradient_norms(decay.LinearRNNLayer(W, U), seeded_input(n, d))
    expected = torch.stack(
        [torch.linalg.matrix_norm(torch.linalg.matrix_power(W, k) @ U) for k in range(n)]
    )
    torch.testing.assert_close(measured, expected, rtol=1e-10, atol=0)


def test_tanh_rnn_state_jacobian_is_the_product_of_its_step_jacobians():
    # J_t = diag(1 - h_t^2) W_h, multiplied by hand from the forward states
    d, n = 6, 30
    layer = seeded(pc.RNN(d)).layers[0]
    x = seeded_input(n, d)
    hs = layer(x)[0]  # (n, d)
    W_h = layer.recurrent.weight
    product, expected = torch.eye(d, dtype=torch.float64), [1.0]
    for t in range(n - 1, 0, -1):  # d h_(n-1) / d h_(t-1) = (d h_(n-1) / d h_t) J_t
        product = product @ torch.diag(1 - hs[t] ** 2) @ W_h
        expected.append(torch.linalg.matrix_norm(product, ord=2).item())
    measured = decay.state_jacobian_norms(layer, x)
    torch.testing.assert_close(measured, torch.tensor(expected, dtype=torch.float64))


def jordan_power_norm(rho, shear, k):
    """||[[rho^k, k shear rho^(k-1)], [0, rho^k]]||_2: the closed form of a 2 x 2 Jordan power."""
    off = k * shear * rho ** (k - 1) if k else 0.0
    block = torch.tensor([[rho**k, off], [0.0, rho**k]], dtype=torch.float64)
    return torch.linalg.matrix_norm(block, ord=2).item()


@pytest.mark.parametrize("d", [2, 7, 8])
def test_nonnormal_matrix_grows_first_as_its_jordan_form_says(d):
    rho, shear, n = 0.9, 1.0, 60
    W = decay.nonnormal_matrix(d, rho, shear)
    assert decay.spectral_radius(W) == pytest.approx(rho, abs=1e-6)  # defective: ~sqrt(eps)
    measured = decay.state_jacobian_norms(decay.LinearRNNLayer(W), seeded_input(n, d))
    expected = torch.tensor(
        [jordan_power_norm(rho, shear, k) for k in range(n)], dtype=torch.float64
    )
    torch.testing.assert_close(measured, expected, rtol=1e-9, atol=0)
    assert measured.max() > 3  # transient growth although rho < 1


@pytest.mark.parametrize("spec", [pc.RNN(4), pc.LSTM(4)], ids=repr)
@pytest.mark.parametrize("truncation", [1, 4, 8])
def test_truncated_gradient_equals_the_full_one_inside_the_window_and_is_zero_beyond(
    spec, truncation
):
    n = 16  # a multiple of every truncation: the last chunk is positions n-K .. n-1
    layer = seeded(spec).layers[0]
    x = seeded_input(n, 4)
    full = pc.measure.gradient_norms(layer, x)
    cut = pc.measure.gradient_norms(decay.Truncated(layer, truncation), x)
    torch.testing.assert_close(cut[:truncation], full[:truncation], rtol=1e-12, atol=0)
    assert torch.all(cut[truncation:] == 0)
    assert torch.all(full > 0)
    torch.testing.assert_close(decay.Truncated(layer, truncation)(x), layer(x), rtol=0, atol=0)


@pytest.mark.parametrize("truncation", [1, 4, 5, 13])
def test_every_outputs_measured_reach_under_truncation_is_t_mod_k(truncation):
    n, d = 13, 3
    layer = seeded(pc.LSTM(d)).layers[0]
    x = seeded_input(n, d).requires_grad_(True)
    y = decay.Truncated(layer, truncation)(x)[0]
    r = torch.randn(d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for t in range(n):
        (grad,) = torch.autograd.grad(y[t] @ r, x, retain_graph=True)
        first = int(grad[0].ne(0).any(dim=1).nonzero().min())  # earliest input reached
        assert grad[0, t + 1 :].eq(0).all()
        assert t - first == decay.truncated_reach(t, truncation)


def test_truncation_longer_than_the_sequence_changes_nothing():
    layer = seeded(pc.RNN(4)).layers[0]
    x = seeded_input(10, 4)
    cut = pc.measure.gradient_norms(decay.Truncated(layer, 10), x)
    torch.testing.assert_close(cut, pc.measure.gradient_norms(layer, x), rtol=0, atol=0)


@pytest.mark.parametrize("bias", [0.0, 1.0, 3.0])
def test_lstm_forget_bias_is_the_forget_gate(bias):
    # With the input weights tiny and no recurrence, each step multiplies the cell's memory
    # of x_(T-k) by f = sigmoid(b_f): the measured decay rate must be sigmoid(b_f), which
    # fails if the bias landed in the i, o or g block.
    d, n = 4, 40
    module = decay.lstm(d, bias)
    layer = module.layers[0]
    bias_vector = layer.input.bias
    assert torch.all(bias_vector[d : 2 * d] == bias)
    assert torch.all(bias_vector[:d] == 0) and torch.all(bias_vector[2 * d :] == 0)
    with torch.no_grad():
        layer.input.weight.mul_(1e-4)
        layer.recurrent.weight.zero_()
    rate = decay.decay_rate(pc.measure.gradient_norms(module, seeded_input(n, d)))
    assert rate == pytest.approx(1 / (1 + math.exp(-bias)), abs=1e-3)


def test_gradient_norms_of_several_modules_match_one_at_a_time():
    # the dict version flushes subnormals while it measures; normal values are untouched
    x = seeded_input(12, 4)
    modules = {"rnn": seeded(pc.RNN(4)), "lstm": decay.lstm(4, 1.0)}
    together = decay.gradient_norms(modules, x, progress=False)
    for name, module in modules.items():
        torch.testing.assert_close(together[name], pc.measure.gradient_norms(module, x))
    assert torch.tensor(1e-310, dtype=torch.float64).item() != 0  # the flag was restored


def test_decay_rate_recovers_a_geometric_sequence_and_skips_zeros():
    g = geometric(0.93, 50) * 7.0
    assert decay.decay_rate(g, start=0) == pytest.approx(0.93, rel=1e-12)
    g[30:] = 0.0  # a truncated tail
    assert decay.decay_rate(g, start=0) == pytest.approx(0.93, rel=1e-12)


def loop_steps(rho, threshold):
    k = 0
    while rho**k >= threshold:
        k += 1
    return k


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.95, 0.99, 0.999, 0.1])
@pytest.mark.parametrize("threshold", [2.0, 1.0, 0.5, 0.1, 1e-3, 1e-6, 0.9**7, 0.5**10])
def test_decay_steps_equals_the_loop_at_every_boundary(rho, threshold):
    assert decay.decay_steps(rho, threshold) == loop_steps(rho, threshold)


def test_the_chapters_checker_accepts_decay_steps():
    assert pc.exercises.check_decay_steps(decay.decay_steps)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: decay.orthogonal(0), "d"),
        (lambda: decay.recurrent_matrix(4, -0.1), "rho"),
        (lambda: decay.recurrent_matrix(4, math.inf), "rho"),
        (lambda: decay.recurrent_matrix(4, True), "rho"),
        (lambda: decay.nonnormal_matrix(4, 0.9, math.nan), "shear"),
        (lambda: decay.spectral_radius(torch.ones(2, 3)), "W"),
        (lambda: decay.LinearRNNLayer(torch.ones(3)), "W"),
        (lambda: decay.LinearRNNLayer(torch.eye(3), torch.eye(2)), "U"),
        (lambda: decay.state_jacobian_norms(pc.build(pc.RNN(2)), seeded_input(3, 2)), "layer"),
        (
            lambda: decay.state_jacobian_norms(decay.lstm(2, 0.0).layers[0], seeded_input(3, 2)),
            "layer",
        ),
        (
            lambda: decay.state_jacobian_norms(seeded(pc.RNN(2)).layers[0], seeded_input(3, 4)),
            "x",
        ),
        (
            lambda: decay.state_jacobian_norms(seeded(pc.RNN(2)).layers[0], torch.ones(3, 2)),
            "x",
        ),
        (
            lambda: decay.state_jacobian_norms(
                seeded(pc.RNN(2)).layers[0], seeded_input(3, 2), ord=1
            ),
            "ord",
        ),
        (lambda: decay.Truncated(seeded(pc.RNN(2)).layers[0], 0), "truncation"),
        (lambda: decay.Truncated(pc.build(pc.RNN(2)), 4), "layer"),
        (lambda: seeded("RNN"), "spec"),
        (lambda: decay.lstm(0, 1.0), "d_model"),
        (lambda: decay.lstm(4, math.inf), "forget_bias"),
        (lambda: seeded_input(0, 4), "n"),
        (lambda: decay.gradient_norms({}, seeded_input(3, 2)), "modules"),
        (lambda: decay.decay_rate([1.0, 0.0, 0.0]), "norms"),
        (lambda: decay.decay_rate([1.0, 0.5, 0.25], start=-1), "start"),
        (lambda: decay.decay_steps(1.0, 0.5), "rho"),
        (lambda: decay.decay_steps(0.9, 0.0), "threshold"),
        (lambda: decay.decay_steps(0.9, "0.1"), "threshold"),
        (lambda: decay.truncated_reach(-1, 4), "position"),
        (lambda: decay.truncated_reach(3, 0), "truncation"),
    ],
)
def test_bad_parameters_are_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()
