"""Laws only the architectures of "Beyond the four" have (``linear.py``), each against an
independent computation: the scan against the loop, the scan's combines and longest chain
against ``formulas.scan``, prefix-sum attention against its O(n^2) weights."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import pathcost as pc
from pathcost import linear, models
from pathcost.formulas.scan import scan_combines, scan_depth, scan_levels
from pathcost.measure.steps import longest_chain

EPS = torch.finfo(torch.float64).eps  # 2^-52: a rounding moves a result by <= EPS / 2 of it
LENGTHS = [*range(1, 18), 23, 31, 32, 33, 40, 63, 64, 65, 100, 129]


def gamma(k: int) -> float:
    """Higham's γ_k = k u / (1 - k u), u = EPS / 2: the relative error of k roundings."""
    u = EPS / 2
    return k * u / (1 - k * u)


def loop(a, u):
    """h_t = a ⊙ h_(t-1) + u_t, h_(-1) = 0, written out here (not ``linear``'s loop)."""
    h, states = torch.zeros_like(u[:, 0]), []
    for t in range(u.shape[1]):
        h = a * h + u[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the scan computes the loop's function ------------------------------------------------


@pytest.mark.parametrize("n", range(1, 41))
def test_the_scan_equals_the_loop_exactly_on_dyadic_data(n):
    # a = 1/2 (sigmoid(0)) and integer u in [-8, 8]: every partial sum the scan or the loop
    # forms at positions < n is a sum of u_s 2^-e with e <= n - 1 <= 39, below 16 in size, so
    # it fits in 4 + 39 < 53 bits: no rounding anywhere (the scan's powers 2^-(2^k) are exact,
    # and no position < n reads a padded one). Any wrong index is then an exact mismatch.
    u = torch.randint(-8, 9, (2, n, 3), generator=generator(n)).double()
    recurrence = linear.DiagonalRecurrence(3, parallel=True).double()
    with torch.no_grad():
        recurrence.decay.zero_()
    assert torch.equal(recurrence.decays(), torch.full((3,), 0.5, dtype=torch.float64))
    by_scan = recurrence(u)
    recurrence.parallel = False
    assert torch.equal(by_scan, recurrence(u))
    assert torch.equal(by_scan, loop(recurrence.decays(), u))


@pytest.mark.parametrize("n", LENGTHS)
def test_the_scan_equals_the_loop_to_float_rounding(n):
    a = torch.empty(4, dtype=torch.float64).uniform_(0.5, 0.99, generator=generator(n))
    u = torch.randn(2, n, 4, dtype=torch.float64, generator=generator(1000 + n))
    by_scan, by_loop = linear.scan(a, u), loop(a, u)
    # Both sum h_t = Σ_(s<=t) a^(t-s) u_s. The loop is Horner's rule: within γ_2n of
    # Σ a^(t-s) |u_s| (Higham, Thm 5.1). The scan carries u_s to h_t through at most 2m - 1
    # combines (a product and a sum each) by powers a^(2^k) made by k squarings, whose
    # exponents add up to t - s: within γ_(n + 4m). Their difference: within γ_(3n + 4m).
    m = (n - 1).bit_length()
    bound = gamma(3 * n + 4 * m) * loop(a, u.abs())
    assert ((by_scan - by_loop).abs() <= bound).all()


def test_the_scan_equals_the_loop_inside_a_real_stack():
    # the seeded stacks share their weights (the flag builds no parameter); each layer's scan
    # gets the loop stack's own input at that layer, so the bound above applies layer by layer
    n = 37
    loop_stack = models.seeded(pc.LinearRecurrence(4, layers=3))
    scan_stack = models.seeded(pc.LinearRecurrence(4, layers=3, scan=True))
    state = loop_stack.state_dict()
    assert all(torch.equal(state[key], value) for key, value in scan_stack.state_dict().items())
    x = models.seeded_input(n, 4)
    for layer in loop_stack.layers:
        u = layer.input(x)
        a = layer.recurrent.decays()
        by_loop = layer.recurrent(u)
        bound = gamma(3 * n + 4 * (n - 1).bit_length()) * loop(a, u.abs())
        assert ((linear.scan(a, u) - by_loop).abs() <= bound).all()
        x = layer.output(by_loop)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_the_scan_passes_a_to_the_delta_back_and_nothing_forward(n):
    # ∂h_j / ∂u_i = a^(j - i) for i <= j (Δ = j - i transfers: L = Δ, for the scan too) and an
    # exact 0 for i > j (causal), through autograd of the scan itself
    a = torch.tensor([0.6, 0.95], dtype=torch.float64)
    u = torch.randn(1, n, 2, dtype=torch.float64, generator=generator(n))
    jacobian = torch.autograd.functional.jacobian(lambda v: linear.scan(a, v), u)[0, :, :, 0]
    m = (n - 1).bit_length()
    for c in range(2):
        block = jacobian[:, c, :, c]  # (j, i)
        for j in range(n):
            for i in range(n):
                expected = a[c].item() ** (j - i) if i <= j else 0.0
                assert abs(block[j, i].item() - expected) <= gamma(n + 4 * m) * expected
        assert (jacobian[:, 0, :, 1] == 0).all() and (jacobian[:, 1, :, 0] == 0).all()


# --- what the scan runs -------------------------------------------------------------------


class Combines(TorchDispatchMode):
    """Counts the state transfers run: ``addcmul`` calls and the elements they produce."""

    def __init__(self):
        super().__init__()
        self.calls = self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.addcmul.default:
            self.calls, self.elements = self.calls + 1, self.elements + out.numel()
        return out


class Scan(torch.nn.Module):
    """``linear.scan`` with fixed decays, as a module for the chain tracer."""

    def __init__(self, d: int):
        super().__init__()
        self.a = torch.nn.Parameter(torch.full((d,), 0.9, dtype=torch.float64))

    def forward(self, u):
        return linear.scan(self.a, u)


@pytest.mark.parametrize("n", LENGTHS)
def test_the_scan_runs_its_combines_on_its_levels_and_chains_its_depth(n):
    batch, d = 2, 3
    u = torch.randn(batch, n, d, dtype=torch.float64, generator=generator(n))
    with Combines() as counted, torch.no_grad():
        linear.scan(torch.full((d,), 0.9, dtype=torch.float64), u)
    assert counted.elements == batch * d * scan_combines(n)  # 2N - m - 2 per channel
    assert counted.calls == scan_levels(n)  # one addcmul a level: 2m - 1
    depth = longest_chain(Scan(d), u, counting="transfers")
    assert depth == scan_depth(n) == (n - 1 if n < 3 else 2 * math.ceil(math.log2(n)) - 2)
    recurrence = linear.DiagonalRecurrence(d, parallel=False).double()
    with Combines() as counted, torch.no_grad():
        recurrence(u)
    assert counted.calls == n and counted.elements == batch * d * n  # the loop: n, in a chain


# --- linear attention -----------------------------------------------------------------------


def test_the_feature_map_is_positive():
    x = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    phi = linear.feature_map(x)
    assert (phi > 0).all()
    assert torch.equal(phi[x >= 0], x[x >= 0] + 1)  # elu(x) = x for x >= 0
    negative = x < 0  # elu(x) + 1 = exp(x) there, rounded after the subtraction of 1
    assert ((phi[negative] - x[negative].exp()).abs() <= EPS).all()
    single = torch.linspace(-15, 15, 2001)
    assert (linear.feature_map(single) > 0).all()


@pytest.mark.parametrize(("heads", "n"), [(1, 1), (2, 7), (4, 23), (2, 40)])
def test_linear_attention_equals_its_quadratic_weights(heads, n):
    d = 8
    spec = pc.LinearAttention(d_model=d, heads=heads, d_ff=8, layers=1)
    attention = models.seeded(spec).layers[0].attn
    with torch.no_grad():  # the output projection made exactly the identity
        attention.out.weight.copy_(torch.eye(d, dtype=torch.float64))
        attention.out.bias.zero_()
    x = torch.randn(2, n, d, dtype=torch.float64, generator=generator(n))
    # the O(n^2) route: weights w_ts = φ(q_t) . φ(k_s) for s <= t, normalised over s
    qkv = F.linear(x, attention.qkv.weight, attention.qkv.bias)
    q, k, v = (part.unflatten(-1, (heads, d // heads)).transpose(1, 2) for part in qkv.chunk(3, -1))
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1  # (B, h, n, d_k)
    weights = (phi_q @ phi_k.transpose(-2, -1)).tril()  # (B, h, t, s)
    assert (weights.diagonal(dim1=-2, dim2=-1) > 0).all()
    direct = (weights / weights.sum(-1, keepdim=True)) @ v  # (B, h, n, d_k)
    direct = direct.transpose(1, 2).flatten(-2)
    # Both routes average v with positive weights. Numerator and normaliser are sums of at
    # most n d_k positive products (times v): each within γ_(n + d_k) of the sum of their
    # magnitudes, the quotient one rounding more, so each route is within
    # (2 (n + d_k) + 1) u max|v| of the exact average; the two within twice that.
    bound = 2 * (2 * gamma(n + d // heads) + EPS / 2) * v.abs().max()
    assert (attention(x) - direct).abs().max() <= bound


# --- specs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: pc.LinearAttention(0), "d_model"),
        (lambda: pc.LinearAttention(8.0), "d_model"),
        (lambda: pc.LinearAttention(True), "d_model"),
        (lambda: pc.LinearAttention(8, heads=0), "heads"),
        (lambda: pc.LinearAttention(8, heads=3), "d_model must be divisible by heads"),
        (lambda: pc.LinearAttention(8, heads=2, d_ff=0), "d_ff"),
        (lambda: pc.LinearAttention(8, heads=2, layers=0), "layers"),
        (lambda: pc.LinearAttention(8, heads=2, layers=-1), "layers"),
        (lambda: pc.LinearAttention(8, heads=2, positional=1), "positional"),
        (lambda: pc.LinearAttention(3, heads=1, positional=True), "d_model"),
        (lambda: pc.LinearRecurrence(0), "d_model"),
        (lambda: pc.LinearRecurrence(4.0), "d_model"),
        (lambda: pc.LinearRecurrence(4, layers=0), "layers"),
        (lambda: pc.LinearRecurrence(4, layers=2.0), "layers"),
        (lambda: pc.LinearRecurrence(4, scan=1), "scan"),
        (lambda: pc.LinearRecurrence(4, scan="yes"), "scan"),
        (lambda: pc.LinearRecurrence(4, scan=None), "scan"),
    ],
)
def test_bad_specs_are_refused_by_name(make, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        make()


def test_the_specs_are_causal_and_their_sizes_are_kept():
    attend = pc.LinearAttention(12, heads=3, d_ff=16, layers=2)
    assert attend.causal and attend.d_head == 4 and not attend.positional
    recur = pc.LinearRecurrence(6, layers=2)
    assert recur.causal and recur.scan is False
