"""Gradient decay: recurrences with a chosen spectral radius and the products of their Jacobians.

The chapter "Gradient decay" rests on one identity: for a recurrence whose cell computes
h(t) from h(t-1) and x(t), ∂h(t) / ∂h(t-Δ) = J(t) J(t-1) ... J(t-Δ+1), the product of Δ
step Jacobians J(t) = ∂h(t) / ∂h(t-1). Here are the recurrences that make the identity
concrete and the instruments that measure the product with autograd, never with the formula:

- ``recurrent_matrix(d, rho)``: W = ρ O, O a seeded random orthogonal matrix, so that
  ||W^Δ||_2 = ρ^Δ exactly for every Δ, not only for large Δ.
- ``nonnormal_matrix(d, rho, shear)``: the same spectral radius ρ, but ||W^Δ||_2 can first
  grow; ρ^Δ is then only the asymptotic rate (Gelfand: ||W^Δ||^(1/Δ) -> ρ).
- ``LinearRNNLayer(W)``: h(t) = W h(t-1) + W_x x(t) as a torch module, W_x = Id unless given.
- ``state_jacobian_norms(layer, x)``: ||∂h(n-1) / ∂h(n-1-Δ)|| for every Δ, by autograd.
- ``Truncated(layer, truncation)``: the same layer with the state detached every τ steps, as
  truncated backpropagation through time does; ``truncated_reach(position, truncation)`` how
  far back output t's gradient then reaches.
- ``lstm(d, forget_bias)``: an LSTM whose biases are 0 except the forget gate's.

Everything runs in float64 by default: a gradient that shrinks by 0.5 per step falls below
float32's smallest normal number (2^-126, 1.2e-38) after 127 steps, and float64's after 1023.
"""

import contextlib
import math

import torch
from torch import nn
from tqdm.auto import tqdm

from ..checks import require_non_negative, require_positive, require_real
from ..measure.jacobians import gradient_norms as measured_gradient_norms
from ..models import SEED, RecurrentLayer, seeded
from ..specs import LSTM


@contextlib.contextmanager
def _flush_subnormals():
    """Flush float results below the smallest normal number to 0 on the CPU, then restore.

    NB: a decaying gradient passes through subnormal numbers (below 2.2e-308 in float64), and
    CPU arithmetic on them can be 10-100x slower; flushing them changes no norm this chapter
    fits (``decay_rate`` leaves out everything below the smallest normal number anyway).
    PyTorch has no getter for the flag, so it is restored to its default, off.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def orthogonal(d: int, seed: int = SEED, dtype=torch.float64) -> torch.Tensor:
    """A random orthogonal d x d matrix O (Oᵀ O = Id), uniform (Haar) over all of them, from `seed`.

    Used in "Gradient decay". The QR decomposition of a standard Gaussian matrix, with the
    signs of the triangular factor's diagonal moved into the orthogonal one (Mezzadri 2007);
    the caller's random state is left untouched.
    """
    require_positive(d=d)
    generator = torch.Generator().manual_seed(seed)
    gaussian = torch.randn((d, d), generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    return (q * torch.sign(torch.diagonal(r))).to(dtype)


def recurrent_matrix(d: int, rho: float, seed: int = SEED, dtype=torch.float64) -> torch.Tensor:
    """W = ρ O with O = ``orthogonal(d, seed)``: spectral radius ρ = `rho`, ||W^Δ||_2 = ρ^Δ exactly.

    Derived in "Gradient decay". Every eigenvalue of O has modulus 1 and W is normal, so the
    norm of its powers equals the power of its spectral radius at every Δ, not only for
    large Δ.
    """
    require_positive(d=d)
    require_real("rho", rho, low=0)
    return rho * orthogonal(d, seed, dtype)


def nonnormal_matrix(
    d: int, rho: float, shear: float, seed: int = SEED, dtype=torch.float64
) -> torch.Tensor:
    """W = O (ρ Id + η E) Oᵀ, E = 1 at (2i, 2i+1): spectral radius ρ, W non-normal.

    Derived in "Gradient decay", with ρ = `rho`, η = `shear` and O = ``orthogonal(d, seed)``;
    E pairs the coordinates 2i and 2i + 1. The middle factor is d/2 Jordan blocks
    [[ρ, η], [0, ρ]] (and a lone ρ when d is odd), so every eigenvalue is ρ, yet for d >= 2
    ||W^Δ||_2 = ||[[ρ^Δ, Δ η ρ^(Δ-1)], [0, ρ^Δ]]||_2, about Δ η ρ^(Δ-1) for large Δ: a
    factor Δ η / ρ above ρ^Δ. The spectral radius sets only the asymptotic rate.
    """
    require_positive(d=d)
    require_real("rho", rho, low=0)
    require_real("shear", shear)
    q = orthogonal(d, seed, torch.float64)
    pairs = (torch.arange(d - 1) % 2 == 0).double()  # 1 at (0, 1), (2, 3), ...: 2 x 2 blocks
    core = rho * torch.eye(d, dtype=torch.float64) + shear * torch.diag(pairs, 1)
    return (q @ core @ q.T).to(dtype)


def spectral_radius(W: torch.Tensor) -> float:
    """ρ(W) = max abs(λ) over the eigenvalues λ of the square matrix W ("Gradient decay")."""
    if not isinstance(W, torch.Tensor) or W.dim() != 2 or W.shape[0] != W.shape[1]:
        shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
        raise ValueError(f"W must be a square matrix, got {shape}")
    return torch.linalg.eigvals(W.detach().double()).abs().max().item()


class LinearRNNLayer(RecurrentLayer):
    """Linear recurrence h(t) = W h(t-1) + W_x x(t) from a zero state: its J(t) = W at every t.

    Used in "Gradient decay". The input weights W_x = `U` default to the identity Id, so that
    ∂h(t) / ∂x(t-Δ) = W^Δ W_x = W^Δ: the input-to-output Jacobian is the state Jacobian
    itself. The weights are fixed (``requires_grad=False``); gradients are taken with respect
    to inputs and states.
    """

    def __init__(self, W: torch.Tensor, U: torch.Tensor | None = None):
        nn.Module.__init__(self)  # not RecurrentLayer.__init__: no random initialisation here
        if not isinstance(W, torch.Tensor) or W.dim() != 2 or W.shape[0] != W.shape[1]:
            shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
            raise ValueError(f"W must be a square matrix, got {shape}")
        d = W.shape[0]
        U = torch.eye(d, dtype=W.dtype) if U is None else U
        if not isinstance(U, torch.Tensor) or tuple(U.shape) != (d, d):
            shape = tuple(U.shape) if isinstance(U, torch.Tensor) else type(U).__name__
            raise ValueError(f"U must be a {d} x {d} matrix like W, got {shape}")
        self.input = nn.Linear(d, d, bias=False, device="meta")
        self.recurrent = nn.Linear(d, d, bias=False, device="meta")
        self.input.weight = nn.Parameter(U.detach().clone().to(W.dtype), requires_grad=False)
        self.recurrent.weight = nn.Parameter(W.detach().clone(), requires_grad=False)

    def initial_state(self, x) -> tuple:
        return (x.new_zeros(x.shape[0], x.shape[2]),)  # h_0: (B, d)

    def step(self, u_t, state: tuple) -> tuple:
        """One state transfer: (W_x x(t), (h(t-1),)) -> (W h(t-1) + W_x x(t),)."""
        (h,) = state
        return (u_t + self.recurrent(h),)


def _require_layer(layer) -> None:
    if not isinstance(layer, RecurrentLayer):
        raise ValueError(
            "layer must be one recurrent layer (models.RecurrentLayer, e.g. "
            f"pc.build(pc.RNN(d)).layers[0] or decay.LinearRNNLayer), got {type(layer).__name__}"
        )


def _require_input(x, d: int | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[0] != 1 or x.shape[1] < 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (1, n, d) with n >= 1, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")
    if d is not None and x.shape[2] != d:
        raise ValueError(f"x must have d = {d} features to match the layer, got {x.shape[2]}")


def state_jacobian_norms(layer, x: torch.Tensor, ord=2) -> torch.Tensor:
    """Measured ||∂h(n-1) / ∂h(n-1-Δ)||_ord for Δ = 0 .. n-1, indexed by Δ, x of shape (1, n, d).

    The product of Δ step Jacobians of "Gradient decay", read off by autograd: the layer's
    steps are run by hand, one backward pass per channel of h(n-1) gives the full d x d
    Jacobian with respect to every earlier state. ord=2 is the spectral norm, "fro" Frobenius.
    Only layers whose state is h(t) alone (linear or tanh RNN); an LSTM also carries c(t).
    """
    _require_layer(layer)
    if ord not in (2, "fro"):
        raise ValueError(f"ord must be 2 (spectral) or 'fro' (Frobenius), got {ord!r}")
    with torch.enable_grad(), _flush_subnormals():
        _require_input(x, layer.recurrent.weight.shape[1])
        u = layer.input(x.detach())  # (1, n, d)
        state = tuple(s.requires_grad_(True) for s in layer.initial_state(x))
        if len(state) != 1:
            raise ValueError(f"layer must carry its state in h alone, got {len(state)} parts")
        states = []
        for t in range(x.shape[1]):
            state = layer.step(u[:, t], state)
            states.append(state[0])  # h_t: (1, d)
        last = states[-1][0]
        rows = [torch.autograd.grad(last[c], states, retain_graph=True) for c in range(len(last))]
    jacobians = torch.stack([torch.cat(row) for row in rows], dim=1)  # (n, d, d): d h_(n-1) / d h_t
    return torch.linalg.matrix_norm(jacobians, ord=ord).flip(0)


class Truncated(nn.Module):
    """A recurrent layer trained with truncated backpropagation through time, window τ.

    Derived in "Gradient decay", with τ = `truncation`. The forward pass is the layer's own;
    the state is detached on every transfer into a position t = τ, 2τ, ..., as a training
    loop does between chunks, so ∂h(t) / ∂x(t-Δ) = 0 exactly whenever a multiple of τ lies
    in (t - Δ, t].
    """

    def __init__(self, layer, truncation: int):
        super().__init__()
        _require_layer(layer)
        require_positive(truncation=truncation)
        self.layer, self.truncation = layer, truncation

    def forward(self, x):  # x: (B, n, d)
        u = self.layer.input(x)
        state, outputs = self.layer.initial_state(x), []
        for t in range(x.shape[1]):
            if t and t % self.truncation == 0:  # a new chunk: no gradient flows back past here
                state = tuple(part.detach() for part in state)
            state = self.layer.step(u[:, t], state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1)  # (B, n, d)


def lstm(d_model: int, forget_bias: float, seed: int = SEED) -> nn.Module:
    """A one-layer LSTM from ``models.seeded`` with every gate bias 0 except the forget gate's, b_f.

    Derived in "Gradient decay". ``LSTMLayer`` lays its gates out as i(t), f(t), o(t), g(t)
    in blocks of d_model along the output of ``.input`` (the only Linear with a bias), so b_f
    is ``input.bias[d:2d]``. PyTorch draws biases uniformly from -1/sqrt(d) to 1/sqrt(d);
    zeroing them first makes γ = σ(b_f) the forget gate of a step whose other inputs are 0.
    """
    require_positive(d_model=d_model)
    require_real("forget_bias", forget_bias)
    module = seeded(LSTM(d_model), seed=seed)
    layer = module.layers[0]  # an LSTMLayer: the block layout below is its own
    with torch.no_grad():
        layer.input.bias.zero_()
        layer.input.bias[d_model : 2 * d_model] = forget_bias
    return module


def gradient_norms(modules: dict, x: torch.Tensor, progress: bool = True) -> dict:
    """``jacobians.gradient_norms`` for each named module on the same x: {name: G(Δ), Δ = 0..n-1}.

    G(Δ) = ||∂y(n-1) / ∂x(n-1-Δ)||_F, as measured in "Gradient decay". Subnormal
    intermediate values are flushed to 0 while measuring (see ``_flush_subnormals``).
    """
    if not isinstance(modules, dict) or not modules:
        raise ValueError("modules must be a non-empty dict of name -> torch module")
    with _flush_subnormals():
        return {
            name: measured_gradient_norms(module, x)
            for name, module in tqdm(modules.items(), desc="gradient norms", disable=not progress)
        }


def decay_rate(norms, start: int = 1, stop: int | None = None) -> float:
    """Per-step factor r of the least-squares fit log G(Δ) = c + Δ log r over start <= Δ < stop.

    Used in "Gradient decay". Entries that are 0 or below the smallest normal float
    (underflow, or a truncated gradient) are left out; at least two must remain.
    """
    norms = torch.as_tensor(norms, dtype=torch.float64).flatten()
    require_non_negative(start=start)
    stop = len(norms) if stop is None else stop
    require_positive(stop=stop)
    k = torch.arange(len(norms), dtype=torch.float64)[start:stop]
    g = norms[start:stop]
    kept = torch.isfinite(g) & (g >= torch.finfo(torch.float64).tiny)
    if int(kept.sum()) < 2:
        raise ValueError(f"norms must hold at least two positive entries in [{start}, {stop})")
    k, logs = k[kept], g[kept].log()
    slope = ((k - k.mean()) * (logs - logs.mean())).sum() / (k - k.mean()).square().sum()
    return math.exp(slope.item())


def decay_steps(rho: float, threshold: float) -> int:
    """Smallest Δ_ε >= 0 with ρ^(Δ_ε) < ε: floor(ln ε / ln ρ) + 1 ("Gradient decay").

    Here ρ = `rho` and ε = `threshold`. The logarithm gives the answer up to rounding; it is
    then corrected by comparing ρ^Δ itself, so the result agrees with a loop over Δ at the
    boundaries (ρ = 0.5, ε = 0.5 gives 2, since 0.5^1 is not below 0.5).
    """
    require_real("rho", rho, low=0, high=1, low_open=True, high_open=True)
    require_real("threshold", threshold, low=0, low_open=True)
    if threshold > 1:
        return 0
    k = max(0, math.floor(math.log(threshold) / math.log(rho)))
    while rho**k >= threshold:
        k += 1
    while k > 0 and rho ** (k - 1) < threshold:
        k -= 1
    return k


def truncated_reach(position: int, truncation: int) -> int:
    """Steps back that output t's gradient reaches under chunked truncation τ: t mod τ.

    Derived in "Gradient decay" (``Truncated``), with t = `position` and τ = `truncation`:
    output t depends, through gradients, on the inputs of its own chunk only, which starts
    at τ floor(t / τ).
    """
    require_non_negative(position=position)
    require_positive(truncation=truncation)
    return position % truncation
