"""Axis 1, measured: path length and receptive field read off the Jacobians of the real modules.

The twins of ``paths``: the same quantities, under the same conventions, but taken from
autograd of the modules ``models.build(spec)`` makes, never from a formula.

- Every module is built under a fixed seed inside ``torch.random.fork_rng`` (the caller's
  random state is left as it was), on the CPU, cast to float64, and used as built. The input
  is ``randn(1, n, d_model)`` from its own seeded generator.
- Output j "depends" on input i when the Jacobian block ∂y_j / ∂x_i has a nonzero entry. It
  is read with one backward pass of the dot product of y_j with a random vector, and the
  test is an exact ``!= 0``: a masked attention weight is exactly 0 after the softmax of
  -inf and a convolution never touches what its taps miss, so a zero here is a structural
  zero.
- Stack (CNN, Transformer): the path length from i to j is the fewest bottom layers l >= 1
  after which output j of the truncated stack depends on input i.
- Recurrence (RNN, LSTM, LinearRecurrence): the path length counts state transfers. The
  first layer's steps are run by hand with the state detached on every transfer into a
  position after i plus a horizon, so a gradient from x_i may cross at most that many
  transfers; the path length is the smallest horizon at which h_j still depends on x_i,
  found by binary search. Upper layers add no transfer to the shortest path (their input
  edge moves nothing), so only the first layer of the module is run.
- Hybrid (a strided convolution, then a body): cut like a stack whose bottom layer is the
  convolution. Depth 1 is the convolution alone, its tokens repeated back to n positions
  as the full module repeats its body's outputs; depth 1 + l adds the body's first l
  layers. A recurrent body counts the convolution as 1 and its state transfers between
  tokens as above, with the state detached on every transfer into a token after the input
  token plus the horizon.
- The receptive field is the span of the inputs that one output of the full module reads.

The sequence is finite and padded with constants (zeros for a convolution), so a route
through a position outside 0..n-1 does not exist here: a centred stack whose shortest route
overshoots and comes back (dilations (4, 1): offset 3 = 4 - 1) is longer or unreachable
next to an edge, as in ``paths.shortest_path`` on n positions, though not in the closed form.

``math.inf`` means unreachable (a causal model looking back from j < i, a stack too shallow),
or, for the receptive field, not bounded within the n measured.
"""

import functools
import math

import torch

from ..checks import require_choice, require_non_negative, require_positive
from ..models import SEED, seeded, seeded_input
from ..registry import ATTENTION_KERNELS, require_spec
from ..runtime import threads
from ..specs import CNN, LSTM, RNN, Hybrid, LinearRecurrence, body


def path_length(spec, n: int, i: int, j: int, attention: str = "explicit") -> int | float:
    """Measured path length L from input i to output j of n positions, as in "Routing graphs".

    Stack: the fewest bottom layers l >= 1 with ∂y_j / ∂x_i != 0. RNN, LSTM: the fewest state
    transfers a gradient from h_j must cross to reach x_i. Hybrid: its convolution, then
    either (module docstring). ``math.inf`` if none reaches.
    The twin of ``paths.path_length_between(spec, i, j)``.
    """
    _require_workload(spec, n, attention)
    require_non_negative(i=i, j=j)
    for name, position in (("i", i), ("j", j)):
        if position >= n:
            raise ValueError(f"{name} must be a position 0..{n - 1}, got {position}")
    if isinstance(body(spec), (RNN, LSTM, LinearRecurrence)):
        return _recurrent_path_length(spec, n, i, j)
    return _stack_depths(spec, n, j, attention)[i]


def receptive_field(
    spec, n: int | None = None, attention: str = "explicit", max_n: int = 4096
) -> int | float:
    """Measured receptive field R = max - min + 1 over i with ∂y_j / ∂x_i != 0 ("Receptive fields").

    j = n - 1 for a causal model, n // 2 otherwise. ``math.inf`` when those inputs touch
    the edge of the sequence (i = 0, or i = n - 1 on the far side), since the field is then
    not bounded within n. So pick n >= R + 1 (causal) or n >= R + 2 (both sides) to see a
    bounded R; n below 2 (causal) or 3 (both sides) always touches and is refused.
    n=None finds such an n itself, without the formula: n = 16, 32, 64, ... up to max_n,
    until the field is bounded (``math.inf`` if it never is, as for a recurrence).
    """
    if n is None:
        require_positive(max_n=max_n)
        return _bounded_field(spec, attention, max_n)
    _require_workload(spec, n, attention)
    smallest = 2 if spec.causal else 3
    if n < smallest:
        kind = "causal" if spec.causal else "non-causal"
        raise ValueError(f"n must be >= {smallest} to bound the field of a {kind} model, got {n}")
    j = n - 1 if spec.causal else n // 2
    with torch.enable_grad():
        x = _input(spec, n).requires_grad_(True)
        reads = _reads(_module(spec, attention)(x)[0, j], x)
    first, last = min(reads), max(reads)
    if first == 0 or (not spec.causal and last == n - 1):
        return math.inf
    return last - first + 1


@functools.lru_cache(maxsize=256)
def _bounded_field(spec, attention: str, max_n: int) -> int | float:
    """R measured on the shortest of n = 16, 32, ... <= max_n whose field does not touch an end."""
    n = 16
    while n <= max_n:
        field = receptive_field(spec, n, attention)
        if field != math.inf:
            return field
        n *= 2
    return math.inf


def gradient_norms(module, x: torch.Tensor) -> torch.Tensor:
    """Measured G(Δ) = ||∂y(n-1) / ∂x(n-1-Δ)||_F for x of shape (1, n, d) ("Gradient decay").

    One backward pass per output channel of the last position; returns a 1-D tensor of n
    norms, indexed by Δ: G(0) for the last input itself, G(n - 1) for the first.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[0] != 1 or x.shape[1] < 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (1, n, d) with n >= 1, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        y = module(x)
        if y.dim() != 3 or tuple(y.shape[:2]) != tuple(x.shape[:2]):
            raise ValueError(f"module must map (1, n, d) to (1, n, d_out), got {tuple(y.shape)}")
        last = y[0, -1]
        rows = [torch.autograd.grad(last[c], x, retain_graph=True)[0][0] for c in range(len(last))]
    jacobian = torch.stack(rows)  # (d_out, n, d): d y_(n-1)[c] / d x_t[e]
    return _frobenius(jacobian, (0, 2)).flip(0)  # scaled: tiny entries do not square to 0


def _require_workload(spec, n: int, attention: str) -> None:
    """Raise ValueError naming the bad one of spec, n, attention."""
    require_spec(spec)
    require_positive(n=n)
    require_choice("attention", attention, ATTENTION_KERNELS)


@functools.lru_cache(maxsize=32)
def _module(spec, attention: str) -> torch.nn.Module:
    """``models.seeded(spec, attention)``, built once per spec and kernel."""
    return seeded(spec, attention)


def _input(spec, n: int) -> torch.Tensor:
    """``models.seeded_input(n, d_model)``: the same input on every call."""
    return seeded_input(n, spec.d_model)


def _reads(y_j: torch.Tensor, x: torch.Tensor) -> set[int]:
    """Positions i of x (1, n, d) with ∂y_j / ∂x_i != 0: one backward pass of y_j · random."""
    generator = torch.Generator().manual_seed(SEED + 1)
    r = torch.randn(y_j.shape, generator=generator, dtype=y_j.dtype)
    (grad,) = torch.autograd.grad((y_j * r).sum(), x, retain_graph=True)
    return set(grad[0].ne(0).any(dim=1).nonzero().flatten().tolist())


def _prefix_outputs(spec, stack, x: torch.Tensor) -> list[torch.Tensor]:
    """Output (1, n, d) of the first l layers of a ConvStack or TransformerStack, l = 1, 2, ...

    A Hybrid's: its tokens, then the body's prefixes on them, each repeated back to n.
    """
    if isinstance(spec, Hybrid):
        tokens = stack.tokens(x)
        inner = [tokens, *_prefix_outputs(spec.then, stack.body, tokens)]
        return [stack.upsample(h, x.shape[1]) for h in inner]
    convolution = isinstance(spec, CNN)
    h = x.transpose(1, 2) if convolution else x  # ConvLayer works on (B, d, n)
    outputs = []
    for layer in stack.layers:
        h = layer(h)
        outputs.append(h.transpose(1, 2) if convolution else h)
    return outputs


@functools.lru_cache(maxsize=1024)
def _stack_depths(spec, n: int, j: int, attention: str) -> tuple:
    """For output j of a stack: the fewest bottom layers after which input i reaches it, per i."""
    depths = [math.inf] * n
    with torch.enable_grad():
        x = _input(spec, n).requires_grad_(True)
        for depth, y in enumerate(_prefix_outputs(spec, _module(spec, attention), x), start=1):
            for i in _reads(y[0, j], x):
                depths[i] = min(depths[i], depth)
    return tuple(depths)


def _recurrent_path_length(spec, n: int, i: int, j: int) -> int | float:
    """Smallest horizon, the most state transfers a gradient may cross, with ∂h_j / ∂x_i != 0.

    A Hybrid's recurrent body runs on its tokens: the horizon counts transfers between the
    tokens of i and j, and the convolution before them adds one hop.
    """
    module, x = _module(spec, "explicit"), _input(spec, n)
    if isinstance(spec, Hybrid):
        front, layer, hop = module.tokens, module.body.layers[0], 1
        a, b = i // module.stride, j // module.stride  # the tokens of i and of j
    else:
        front, layer, hop, a, b = (lambda inputs: inputs), module.layers[0], 0, i, j
    low, high = 0, max(b - a, 0)  # s = b - a detaches nothing on the way from a to b
    if not _crosses(front, layer, x, i, a, b, high):
        return math.inf
    while low < high:  # crossing is monotone in s: more allowed transfers, more paths
        middle = (low + high) // 2
        if _crosses(front, layer, x, i, a, b, middle):
            high = middle
        else:
            low = middle + 1
    return hop + low


def _crosses(front, layer, x: torch.Tensor, i: int, a: int, b: int, horizon: int) -> bool:
    """Whether the state at token `b` depends on x_i, the recurrence run over front(x) with
    the state detached on every transfer into t > `a` + `horizon` (`a` = i, `b` = j without
    a front)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        inputs = front(x)  # x itself, or a Hybrid's tokens (its convolution: one hop)
        u = layer.input(inputs)  # moves nothing between positions
        state = layer.initial_state(inputs)
        for t in range(b + 1):
            if t > a + horizon:
                state = tuple(part.detach() for part in state)
            state = layer.step(u[:, t], state)
        return i in _reads(state[0][0], x)


def dependency_matrix(spec, n: int, attention: str = "explicit") -> torch.Tensor:
    """Measured entries [j, i] = ||∂y_j / ∂x_i||_F of the full module on n positions.

    Drawn in "Receptive fields". Built and seeded as every function here (float64, CPU,
    SEED). An exact 0 is a structural zero: output j cannot read input i. Returns an (n, n)
    float64 tensor, outputs on rows. The twin of the reachable offsets of
    ``paths.path_length``: row j of a CNN is nonzero exactly at the inputs i whose offset
    j - i some route of taps reaches.
    """
    _require_workload(spec, n, attention)
    module, x = _module(spec, attention), _input(spec, n)
    with torch.enable_grad(), threads(1):
        jacobian = torch.autograd.functional.jacobian(
            lambda inputs: module(inputs)[0], x, vectorize=True
        )  # (n, d_out, 1, n, d_in): d y_j[c] / d x_i[e]
    return _frobenius(jacobian[:, :, 0], dims=(1, 3))


def dependency_row(spec, n: int, j: int, attention: str = "explicit") -> torch.Tensor:
    """Measured row j of ``dependency_matrix``: ||∂y_j / ∂x_i||_F for every input i.

    Drawn in "Receptive fields". One backward pass per output channel of position j, so it
    costs d_model passes where the full matrix costs n * d_model: the route for deep stacks
    and long sequences. Returns a float64 tensor of n norms.
    """
    _require_workload(spec, n, attention)
    require_non_negative(j=j)
    if j >= n:
        raise ValueError(f"j must be a position 0..{n - 1}, got {j}")
    module, x = _module(spec, attention), _input(spec, n)
    with torch.enable_grad(), threads(1):
        x = x.requires_grad_(True)
        y_j = module(x)[0, j]
        rows = [torch.autograd.grad(y_j[c], x, retain_graph=True)[0][0] for c in range(len(y_j))]
    return _frobenius(torch.stack(rows), dims=(0, 2))  # (d_out, n, d_in) -> (n,)


def _frobenius(blocks: torch.Tensor, dims: tuple) -> torch.Tensor:
    """sqrt(sum of squares) over `dims`, scaled by the largest entry first.

    Squaring a deep stack's Jacobian entries (1e-283 and less) underflows to 0; scaling
    keeps every block with a nonzero entry nonzero, so a zero stays a structural zero.
    """
    scale = blocks.abs().amax(dim=dims, keepdim=True)
    scaled = blocks / scale.masked_fill(scale == 0, 1)
    return scaled.square().sum(dim=dims).sqrt() * scale.squeeze(dims)
