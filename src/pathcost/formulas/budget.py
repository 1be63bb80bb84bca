"""The whole training budget: weights, gradients, optimizer state, activations and the peak.

Derived in "The whole training budget". One training step (``training_step``) holds:

- params: the N weights as stored, N b (b = the bytes per element of the precision's
  weights dtype);
- grads: one gradient per weight, in the weights' dtype: N b;
- optimizer: M_opt, buffers the size of the weights (``registry.OPTIMIZERS``: SGD 0,
  momentum 1, Adam/AdamW 2), N b each, kept by ``torch.optim`` in the weights' dtype, plus
  Adam's float32 step count, 4 bytes per parameter tensor;
- master: a second, fp32 copy of the weights. None of the precisions here keeps one: under
  ``torch.autocast`` the fp32 weights are the master copy, and autocast makes half copies of
  them instead (counted in activations where backward keeps them);
- activations: what the forward leaves alive for backward: the bytes autograd saves
  (``costs.activation_bytes``, or ``mixed_activation_bytes`` under autocast), a
  checkpointed layer's input instead (``checkpointed_activation_bytes``), and 8 bytes per
  Transformer block;
- transient: the largest temporaries beyond them, at the phase that sets the peak.

The peak is modelled phase by phase over D layers of M_a = activations / D saved bytes and
M_g = grads / D gradient bytes each: the end of the forward (D M_a + M_1), the start of the
backward (D M_a + M_g + M_2), its end (M_a + D M_g + M_3) and the optimizer step
(D M_g + M_4), with M_1 to M_4 the largest temporaries of each moment. With checkpointing
the layer being differentiated is recomputed: its M_a returns.

A Hybrid is modelled through its own params and activations, with D = its body's layers
and the body's transients at ceil(n / s) tokens beside its own full-length output
(``_transients``); checkpointing it is refused (``training_step`` wraps a stack's
``layers``, which a Hybrid keeps inside its body). NB: the peak of a Hybrid is this model's
composition, not fitted to a measured step as the four architectures' are.

LinearAttention and LinearRecurrence ("Beyond the four") get their counts from
``formulas.linear_budget``; linear attention is a stack of pre-norm blocks, so the peak
treats it as a Transformer (its first block freed by the backward's end, the batch
kept by its first LayerNorm), and the linear recurrence as an RNN.
"""

import dataclasses
import math
from dataclasses import dataclass

import torch

from ..checks import is_int, require_choice, require_positive
from ..registry import ATTENTION_KERNELS, OPTIMIZERS, PRECISIONS, require_spec
from ..specs import CNN, LSTM, RNN, Hybrid, LinearAttention, Transformer
from ..specs import body as sequence_body
from . import linear_budget
from .costs import (
    activation_bytes,
    downsampled_length,
    forward_flops,
    itemsize,
    params,
    window_blocks,
)
from .linear import SPECS as LINEAR_SPECS
from .linear_budget import (  # FLOAT32 (bytes of a float32) is defined there: no cycle
    FLOAT32,
    block_float32_extra,
    block_largest_parameter,
    block_weight_casts,
)

PHASES = ("forward", "backward start", "backward end", "optimizer step")
BLOCKS = (Transformer, LinearAttention)  # stacks of pre-norm blocks (residual stream, FFN)


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes one training step holds, by kind; total is the modelled peak (module docstring)."""

    params: int
    grads: int
    optimizer: int
    master: int
    activations: int
    transient: int
    total: int
    phase: str  # which phase of PHASES sets the peak


def parameter_tensors(spec) -> int:
    """Parameter tensors of ``models.build(spec)``: one Adam step count each.

    RNN 3 per layer (W_x, b_x, W_h), LSTM 3, CNN 2 (weight, bias), Transformer 12 (qkv, out,
    two FFN linears: weight and bias each; two LayerNorms: weight and bias each).
    Hybrid: 2 (its convolution's weight and bias) + parameter_tensors(then).
    LinearAttention 12, LinearRecurrence 5 (``linear_budget.parameter_tensors``).
    """
    require_spec(spec)
    if isinstance(spec, LINEAR_SPECS):
        return linear_budget.parameter_tensors(spec)
    if isinstance(spec, Hybrid):
        return 2 + parameter_tensors(spec.then)
    per_layer = 3 if isinstance(spec, (RNN, LSTM)) else 2 if isinstance(spec, CNN) else 12
    return spec.layers * per_layer


def optimizer_bytes(spec, optimizer: str = "adam", precision: str = "fp32") -> int:
    """Bytes of the optimizer's state: M_opt = c N b + (4 per parameter tensor with a step count).

    Derived in "The whole training budget": N weights of b bytes each, and c buffers per
    weight and the step count from ``registry.OPTIMIZERS``.
    """
    require_choice("optimizer", optimizer, OPTIMIZERS)
    require_choice("precision", precision, PRECISIONS)
    chosen, weights = OPTIMIZERS[optimizer], itemsize(PRECISIONS[precision].weights)
    steps = FLOAT32 * parameter_tensors(spec) if chosen.step else 0
    return chosen.buffers * params(spec) * weights + steps


def weight_casts(spec) -> int:
    """Elements of the half copies autocast makes of weights that backward keeps.

    Derived in "The whole training budget", measured with ``measure.memory.saved_bytes``: a
    matrix product keeps its (cast) weight only when its input needs a gradient. Over D layers:
    RNN (2D - 1) d^2 (W_x of layer 1 not kept), LSTM (2D - 1) 4d^2, CNN D k d^2, Transformer D
    (d (d + 2 h_kv d_k) + d^2 + 2 d f). Biases are cast too but not kept. Hybrid: s d^2 (a
    convolution keeps its weight even when its input needs no gradient) + weight_casts(then) + a
    recurrent body's first W_x, d^2 (RNN) or 4d^2 (LSTM): the tokens need a gradient.
    LinearAttention D (4d^2 + 2 d f), LinearRecurrence (2D - 1) d^2 (``linear_budget``).
    """
    if isinstance(spec, LINEAR_SPECS):
        return linear_budget.weight_casts(spec)
    d, L = spec.d_model, spec.layers
    if isinstance(spec, Hybrid):
        first = {RNN: d * d, LSTM: 4 * d * d}.get(type(spec.then), 0)
        return spec.stride * d * d + weight_casts(spec.then) + first
    if isinstance(spec, RNN):
        return (2 * L - 1) * d * d
    if isinstance(spec, LSTM):
        return (2 * L - 1) * 4 * d * d
    if isinstance(spec, CNN):
        return L * spec.kernel * d * d
    return L * block_weight_casts(d, spec.key_value_heads * spec.d_head, spec.d_ff)


AUTOCAST_LISTS = ("cpu", "cuda")  # whose autocast op lists a count follows


def mixed_activation_bytes(spec, n: int, batch: int = 1, dtype=torch.bfloat16,
                           attention: str = "explicit", lists: str = "cpu") -> int:
    """Bytes saved for backward under ``torch.autocast(dtype)`` with fp32 weights.

    Derived in "The whole training budget", with b = bytes(dtype) per element of the half
    type and D layers: activation_bytes(spec, n, B, dtype) + b (kept weight casts,
    ``weight_casts``) + what stays float32: a Transformer's residual stream into its two
    LayerNorms and their statistics, D (2 B n d + 4 B n)(4 - b); an LSTM's cell state c(t)
    and tanh(c(t)), D (2 B n d (4 - b) + B d b) with c(0) in float32. lists="cpu"
    (measured, PyTorch 2.13) runs softmax, GELU and layer_norm in their input's dtype.
    lists="cuda" follows CUDA's op list, where softmax runs in float32: explicit attention
    then also saves its weights in float32, + 4 bytes per score entry of each of the D
    layers (the half copy the next product takes stays as counted). NB: "cuda" is a
    prediction from PyTorch's documented list, not measured here. Hybrid: its body runs on
    the half tokens its convolution makes, so only LayerNorm statistics stay float32 (a
    Transformer body's D 4 B (n_pad / s)(4 - b), n_pad / s = ceil(n / s) tokens), with the
    "cuda" softmax term at that length. LinearAttention, LinearRecurrence: + what
    ``linear_budget.float32_extra_bytes`` counts, under either list (NB: for "cuda" a
    prediction too: its float32 cumsum writes S and z wide, but the read keeps a half copy).
    """
    require_choice("lists", lists, AUTOCAST_LISTS)
    h, B, d, L = itemsize(dtype), batch, spec.d_model, spec.layers
    total = activation_bytes(spec, n, batch, dtype, attention) + weight_casts(spec) * h
    if isinstance(spec, LINEAR_SPECS):
        return total + linear_budget.float32_extra_bytes(spec, n, batch, h)
    if isinstance(spec, Hybrid):
        then, m = spec.then, downsampled_length(n, spec.stride)
        if isinstance(then, Transformer):
            total += L * 4 * B * m * (FLOAT32 - h)  # the LayerNorms' means and deviations
            if lists == "cuda" and attention == "explicit":
                total += L * _score_entries(then, m, B) * FLOAT32
        return total
    if isinstance(spec, Transformer):
        total += L * block_float32_extra(B * n, d, h)
        if lists == "cuda" and attention == "explicit":
            total += L * _score_entries(spec, n, B) * FLOAT32
    elif isinstance(spec, LSTM):
        total += L * (2 * B * n * d * (FLOAT32 - h) + B * d * h)
    return total


def _score_entries(spec: Transformer, n: int, B: int) -> int:
    """Score entries of one explicit attention layer: B h n^2, or B h ceil(n/w) w (2w or 3w)."""
    local = spec.window is not None and spec.window < n
    blocks, keys = window_blocks(n, spec.window, spec.causal) if local else (1, n)
    return B * spec.heads * blocks * (spec.window if local else n) * keys


def checkpointed_layers(spec, checkpointing) -> int:
    """How many layers are checkpointed: True all D, False none, an int the first that many.

    A Hybrid takes False (or 0) only: ``training_step`` checkpoints a stack's ``layers``,
    and a Hybrid's are inside its body.
    """
    require_spec(spec)
    if isinstance(spec, Hybrid) and checkpointing not in (False, 0):
        raise ValueError(
            f"checkpointing must be False for a Hybrid (its layers are inside its body), "
            f"got {checkpointing!r}"
        )
    if isinstance(checkpointing, bool):
        return spec.layers if checkpointing else 0
    if not is_int(checkpointing) or not 0 <= checkpointing <= spec.layers:
        raise ValueError(
            f"checkpointing must be True, False or a number of layers 0..{spec.layers}, "
            f"got {checkpointing!r}"
        )
    return checkpointing


def _first_layers(spec, m: int):
    """The spec of the first `m` layers of spec (a CNN keeps its first `m` dilations)."""
    changes = {"layers": m}
    if isinstance(spec, CNN) and spec.dilations is not None:
        changes["dilations"] = tuple(spec.dilations)[:m]
    return dataclasses.replace(spec, **changes)


def require_step(spec, n: int, batch: int, precision: str, optimizer: str, checkpointing,
                 attention: str) -> int:
    """Validate a training step's settings (ValueError naming the bad one); return the
    number of checkpointed layers (``checkpointed_layers``)."""
    require_spec(spec)
    require_positive(n=n, batch=batch)
    require_choice("precision", precision, PRECISIONS)
    require_choice("optimizer", optimizer, OPTIMIZERS)
    m = checkpointed_layers(spec, checkpointing)
    require_choice("attention", attention, ATTENTION_KERNELS)
    return m


def checkpointed_activation_bytes(spec, n: int, batch: int = 1, precision: str = "fp32",
                                  layers: int | None = None) -> int:
    """Bytes checkpointed layers keep for backward: each one's input, B n d b per layer.

    Derived in "The whole training budget"; `layers` checkpointed, default all D. b is the
    bytes per element of the layers' inputs: the weights' dtype, except under autocast where
    an RNN or CNN layer after the first takes the half-precision output of the one before (a
    Transformer's residual stream and an LSTM's h(t) = o(t) ⊙ tanh(c(t)), with c(t) in
    float32, stay float32). LinearAttention as a Transformer, a LinearRecurrence as an RNN.
    """
    require_choice("precision", precision, PRECISIONS)
    m = checkpointed_layers(spec, True if layers is None else layers)
    chosen, B, d = PRECISIONS[precision], batch, spec.d_model
    first = B * n * d * itemsize(chosen.weights)
    if m == 0:
        return 0
    if chosen.compute is None or isinstance(spec, (*BLOCKS, LSTM)):
        return m * first
    return first + (m - 1) * B * n * d * itemsize(chosen.compute)


def recompute_flops(spec, n: int, batch: int = 1, layers: int | None = None) -> int:
    """FLOPs checkpointing adds: each checkpointed layer's forward runs again in backward.

    Derived in "The whole training budget": ``costs.forward_flops`` of the first `layers`
    layers (default all D) less, for a Transformer, each checkpointed block's last matrix
    product, 2 B n f d. NB: PyTorch's non-reentrant checkpoint stops recomputing once every tensor
    backward needs is back (``torch.utils.checkpoint.set_checkpoint_early_stop``, on by
    default); the FFN's second product only makes the block's output, which backward does
    not need. Training goes from about 3 F to about 4 F. LinearAttention as a Transformer
    (its block ends in the same FFN); a LinearRecurrence recomputes all of its layers,
    diagonal transfers included (its GELU's backward needs out's output).
    """
    m = checkpointed_layers(spec, True if layers is None else layers)
    if m == 0:
        return 0
    total = forward_flops(_first_layers(spec, m), n, batch)
    if isinstance(spec, BLOCKS):
        total -= m * 2 * batch * n * spec.d_ff * spec.d_model
    return total


def _activation_dtype(precision: str):
    chosen = PRECISIONS[precision]
    return chosen.compute or chosen.weights


def _transients(spec, n: int, B: int, s: int, attention: str,
                mixed: bool = False) -> tuple[int, int, int, int]:
    """The largest temporaries M_1, M_2 and M_3 of the forward's end, of the backward's start
    and of its end, and the saved bytes a layer makes after its own peak: four numbers.

    NB: the coefficients are read off the allocator's events on CPU (PyTorch 2.13,
    "The whole training budget" shows them), in activations of B n d b bytes (b = `s`, the
    bytes per element): the end of the forward holds the output and the loss's gradient,
    two activations (a CNN's padded copy, three); backward starts with the gradient of the
    output, one (a CNN's convolution backward, four; a Transformer's FFN backward,
    B n f b bytes); its end holds two. Explicit attention peaks at its softmax instead:
    forward, the scaled scores and scores + mask, twice the scores' bytes (+ the n^2 causal
    mask); backward, the gradients of the weights and of the scores, twice the scores'
    bytes, which are B h n c b for c keys per query (n, or 3w with a window); its block's
    later saved bytes, (3 B n d + 2 B n + 2 B n f) b (out projection's input, second
    LayerNorm, FFN), are not yet, or no longer, there. mixed: the step runs under autocast
    (``linear_budget.transients``: a linear recurrence's scan then holds float32 states).
    """
    u = B * n * spec.d_model * s
    if isinstance(spec, LINEAR_SPECS):
        return linear_budget.transients(spec, n, B, s, mixed)
    if isinstance(spec, Hybrid):  # NB: composed, not read off a measured step
        m = downsampled_length(n, spec.stride)
        t_f, t_b, t_e, a_post = _transients(spec.then, m, B, s, attention)
        u = B * m * spec.stride * spec.d_model * s  # the padded output and its gradient
        return max(t_f, 2 * u), max(t_b, u), max(t_e, u), a_post
    if isinstance(spec, CNN):
        return 3 * u, 4 * u, 2 * u, 0
    if isinstance(spec, LSTM):
        return 2 * u, 3 * u, 2 * u, 0
    if isinstance(spec, RNN):
        return 2 * u, u, 2 * u, 0
    if attention != "explicit":
        return 2 * u, B * n * spec.d_ff * s, 2 * u, 0
    keys = n if spec.window is None or spec.window >= n else 3 * spec.window
    scores = B * spec.heads * n * keys * s
    mask = n * n * s if spec.causal and keys == n else 0
    a_post = (3 * u + 2 * B * n * s + 2 * B * n * spec.d_ff * s)
    return 2 * scores + mask, 2 * scores, 2 * u, a_post


def _optimizer_transient(spec, optimizer: str, precision: str) -> int:
    """Temporaries of ``optimizer.step()``: Adam's for-loop makes 2 the size of the largest
    parameter tensor (its sqrt and denominator); SGD and momentum update in place."""
    if OPTIMIZERS[optimizer].buffers < 2:
        return 0
    d = spec.d_model
    if isinstance(spec, Hybrid):  # its convolution's s d^2 weight, or the body's largest
        body = _optimizer_transient(spec.then, optimizer, precision)
        return max(2 * spec.stride * d * d * itemsize(PRECISIONS[precision].weights), body)
    if isinstance(spec, LINEAR_SPECS):
        largest = linear_budget.largest_parameter(spec)
    elif isinstance(spec, Transformer):
        largest = block_largest_parameter(d, spec.key_value_heads * spec.d_head, spec.d_ff)
    else:
        rows = 4 if isinstance(spec, LSTM) else spec.kernel if isinstance(spec, CNN) else 1
        largest = rows * d * d
    return 2 * largest * itemsize(PRECISIONS[precision].weights)


def training_memory(spec, n: int, batch: int = 1, precision: str = "fp32",
                    optimizer: str = "adam", checkpointing: bool | int = False,
                    attention: str = "explicit", lists: str = "cpu") -> TrainingMemory:
    """The bytes of one training step by kind, and its modelled peak (module docstring).

    Derived in "The whole training budget". total = params + master + optimizer +
    max(D M_a + M_1, D M_a + M_g + M_2, M_a + D M_g + M_3, D M_g + M_4), with M_a and M_g
    the saved and gradient bytes per layer and M_1 to M_4 the largest temporaries of the
    forward's end, the backward's start, its end and the optimizer step (Adam's sqrt and
    denominator of the largest parameter tensor). A Transformer's first block has freed its
    M_a by the backward's end; where backward keeps a copy of the batch, the batch adds its
    own bytes until then. With checkpointing (True: every layer; an int: the first that
    many) a checkpointed layer keeps only its input, and the last one, when checkpointed,
    adds its own M_a back while recomputed.
    lists: the autocast op lists (``mixed_activation_bytes``), for mixed precisions.
    """
    m = require_step(spec, n, batch, precision, optimizer, checkpointing, attention)
    weights, dtype = PRECISIONS[precision].weights, _activation_dtype(precision)
    P, L = params(spec) * itemsize(weights), spec.layers
    mixed = PRECISIONS[precision].compute is not None

    def saved(s) -> int:
        if mixed:
            return mixed_activation_bytes(s, n, batch, dtype, attention, lists)
        return activation_bytes(s, n, batch, dtype, attention)

    full = saved(spec)
    a, g = full / L, P / L
    t_f, t_b, t_e, a_post = _transients(spec, n, batch, itemsize(dtype), attention, mixed)
    t_o = _optimizer_transient(spec, optimizer, precision)
    inputs = checkpointed_activation_bytes(spec, n, batch, precision, m)
    kept = inputs + full - (saved(_first_layers(spec, m)) if m else 0)  # later layers: all
    body = sequence_body(spec)
    blocks = isinstance(body, BLOCKS)
    if isinstance(body, Transformer):  # NB: measured, one float64 scalar per block that the
        kept += 8 * L  # graph keeps and saved-tensor hooks do not see
    whole = m == L  # the last layer checkpointed: backward recomputes it first
    last = a - a_post if whole else -a_post  # the last layer's saved bytes, or their gap
    # the batch itself, alive through the step, where backward keeps a copy of it instead
    # (a Hybrid's convolution keeps its padded copy, never the batch)
    held = isinstance(spec, (CNN, Hybrid)) or (weights != dtype and not isinstance(spec, BLOCKS))
    x = batch * n * spec.d_model * itemsize(weights) if held else 0
    # the first layer's input: kept by the checkpoint (a linear recurrence's first Linear
    # saves that same tensor, or its cast beside the batch: neither comes twice)
    again = m and not isinstance(spec, LINEAR_SPECS)
    first = 0 if blocks else a + (inputs / m if again else 0)
    live = dict(zip(PHASES, (  # (bytes live at the moment, of which temporaries)
        (kept + t_f + x + (0 if whole else -a_post), t_f + x),
        (kept + last + g + t_b + x, t_b + x + max(last, 0)),
        # a Transformer's first block has freed its activations by then; a recurrence has not
        (first + P + t_e + x, t_e + x),
        (P + t_o, t_o),
    )))
    phase = max(live, key=lambda name: live[name][0])
    state = optimizer_bytes(spec, optimizer, precision)
    peak = P + state + math.ceil(live[phase][0])
    return TrainingMemory(P, P, state, 0, kept, math.ceil(live[phase][1]), peak, phase)


def budget_bytes(budget) -> int:
    """A memory budget in bytes: an int of bytes, a ``devices.DeviceProfile``, or a name of
    ``devices.DEVICES`` (its memory as the table gives it, "this" the device measured)."""
    return _budget(budget)[0]


def device_lists(budget) -> str:
    """The autocast op lists a budget's device follows: "cuda" for a named GPU (or "this"
    on CUDA), "cpu" for "this" elsewhere and for a byte count."""
    return _budget(budget)[1]


def _budget(budget) -> tuple[int, str]:
    """(bytes, ``device_lists``) of a budget."""
    if isinstance(budget, str):
        from ..devices import device_profile  # devices measures through bench: import late

        budget = device_profile(budget)
    if hasattr(budget, "memory_bytes"):
        if budget.name != "this":
            return budget.memory_bytes, "cuda"
        from ..runtime import device  # "this": the lists of the device it measured

        return budget.memory_bytes, "cuda" if device().type == "cuda" else "cpu"
    require_positive(budget=budget)
    return budget, "cpu"


def _largest(budget, lists, total_at, what: str) -> int:
    """The largest count >= 1 with total_at(count, lists) <= the budget's bytes, for a total
    that grows with the count: doubling, then bisection. lists None: the device's lists."""
    limit, default = _budget(budget)
    lists = default if lists is None else lists
    total_at(1, lists)  # validate the settings before searching

    def fits(m: int) -> bool:
        return total_at(m, lists) <= limit

    if not fits(1):
        raise ValueError(f"the budget does not fit {what} = 1")
    low, high = 1, 2
    while fits(high):
        low, high = high, 2 * high
    while high - low > 1:  # fits(low), not fits(high)
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def max_seq_len(spec, budget, batch: int = 1, precision: str = "fp32", optimizer: str = "adam",
                checkpointing: bool | int = False, attention: str = "explicit",
                lists: str | None = None) -> int:
    """Largest n whose training step fits: training_memory(spec, n, ...).total <= budget.

    Derived in "The whole training budget"; found by doubling, then bisection, and exact
    against the model: n fits and n + 1 does not. budget: bytes, or a device
    (``budget_bytes``). lists: the autocast op lists of ``mixed_activation_bytes``; by
    default "cuda" for a named GPU and "cpu" for a byte count.
    """
    settings = (precision, optimizer, checkpointing, attention)

    def total_at(n: int, lists: str) -> int:
        return training_memory(spec, n, batch, *settings, lists).total

    return _largest(budget, lists, total_at, "n")


def max_batch(spec, n: int, budget, precision: str = "fp32", optimizer: str = "adam",
              checkpointing: bool | int = False, attention: str = "explicit",
              lists: str | None = None) -> int:
    """Largest batch whose training step at length n fits the budget, exactly (see max_seq_len)."""
    settings = (precision, optimizer, checkpointing, attention)

    def total_at(batch: int, lists: str) -> int:
        return training_memory(spec, n, batch, *settings, lists).total

    return _largest(budget, lists, total_at, "batch")
