"""Both axes of one of the advisor's candidates at a workload ("Choosing a model").

Every number comes from a package function: path length at the span and sequential steps
(``formulas.paths``), the whole training step (``formulas.budget``), the decode state
(``formulas.decode``), the executed FLOPs (``formulas.kernels``) and the ideal bytes
(``formulas.traffic``), turned into seconds by the device's roofline (``devices``). The two
candidates of "Beyond the four" are estimated the same way: linear attention's decode state
is its prefix sums S and z, the same after every token; a linear recurrence's serial chain
is its state transfers, S(n) of them (n for the loop, about 2 log2 n per layer for the scan).
"""

from .. import devices
from ..checks import require_bool, require_choice, require_positive
from ..formulas import budget as training_budget
from ..formulas import costs, decode, kernels, paths, traffic
from ..registry import DTYPES
from ..specs import LSTM, RNN, LinearRecurrence, body

CHOICES = ("lstm", "cnn", "transformer", "transformer-fused", "windowed-transformer", "hybrid",
           "linear-attention", "linear-recurrence")  # fmt: skip
PRECISIONS = {"bf16": "mixed-bf16", "fp16": "mixed-fp16", "fp32": "fp32"}  # dtype -> training


def _bound(flops: float, moved: float, profile, dtype: str) -> float:
    """The roofline bound; where the table states no peak for dtype, the memory term alone
    (M_moved / β, still a lower bound)."""
    if dtype in profile.peak_flops:
        return devices.roofline_time(flops, moved, profile, dtype)
    return moved / profile.bandwidth_bytes_per_s


def chain_bound(spec, steps: int, batch: int, dtype: str, profile) -> float:
    """Lower bound in seconds on the serial chain of one forward over `batch` sequences.

    Derived in "Time and parallelism" (RNN, LSTM) and "Beyond the four" (linear recurrence):
    steps = S(n) (``paths.sequential_steps``), each waiting for the last, times one step's
    roofline. A step of an RNN or LSTM (or of a Hybrid's body) is one cell, its decode step
    (``decode.decode_step_flops``, ideal decode bytes); a step of a linear recurrence is one
    state transfer (``kernels.state_transfer_flops`` and ``state_transfer_bytes``): the unit
    its S counts, which reads no weight matrix. 0.0 for a spec without a recurrence.
    """
    recurrence, torch_dtype = body(spec), DTYPES[dtype]
    if isinstance(recurrence, (RNN, LSTM)):
        one = _bound(decode.decode_step_flops(recurrence, 0, batch),
                     traffic.bytes_moved(recurrence, 0, batch, torch_dtype, "decode", "ideal"),
                     profile, dtype)  # fmt: skip
    elif isinstance(recurrence, LinearRecurrence):
        one = _bound(kernels.state_transfer_flops(recurrence, batch),
                     kernels.state_transfer_bytes(recurrence, batch, torch_dtype),
                     profile, dtype)  # fmt: skip
    else:
        return 0.0
    return steps * one


def estimate(choice: str, spec, span: int, n: int, batch: int, dtype: str, profile,
             budget: int, training: bool) -> dict:  # fmt: skip
    """Both axes of one candidate at the workload, every number from a package function.

    memory_bytes: the whole training step (``training_memory(...).total``, AdamW, the
    dtype's mixed precision, the device's autocast lists) or, for inference, the weights
    and the decode state after n tokens (a Hybrid: one forward's output).
    step_time_bound_s: the roofline of a training step, 3 x the forward's executed FLOPs
    and ideal bytes, and for a recurrence at least 3 x ``chain_bound`` at the batch (the
    chain runs forward, and backward at twice the work). latency_bound_s: one sequence's
    forward, the larger of its roofline and ``chain_bound`` for one sequence.
    token_latency_bound_s: the roofline of decoding the token after n for the batch
    (``decode.decode_step_flops``, ideal decode bytes; None for a Hybrid, which no Decoder
    runs). Where the device table states no peak for dtype the bounds keep the memory term
    only (compute_term False).
    """
    require_choice("choice", choice, CHOICES)
    require_choice("dtype", dtype, PRECISIONS)
    require_positive(span=span, n=n, batch=batch, budget=budget)
    require_bool(training=training)
    attention = "sdpa" if choice == "transformer-fused" else "explicit"
    torch_dtype = DTYPES[dtype]
    decodes = decode.decodes(spec)  # no Decoder runs a Hybrid
    state = decode.decode_state_bytes(spec, n, batch, torch_dtype) if decodes else None
    if training:
        memory = training_budget.training_memory(
            spec, n, batch, PRECISIONS[dtype], "adamw", False, attention,
            training_budget.device_lists(profile),
        ).total  # fmt: skip
    else:  # the weights, and the state a decoder keeps (a Hybrid: its forward's output)
        size = costs.itemsize(torch_dtype)
        memory = costs.params(spec) * size
        memory += state if decodes else batch * n * spec.d_model * size
    flops = kernels.executed_forward_flops(spec, n, batch, attention)
    moved = traffic.bytes_moved(spec, n, batch, torch_dtype, "forward", "ideal")
    token = None
    if decodes:
        token = _bound(decode.decode_step_flops(spec, n, batch),
                       traffic.bytes_moved(spec, n, batch, torch_dtype, "decode", "ideal"),
                       profile, dtype)  # fmt: skip
    path = paths.path_length(spec, span)
    steps = paths.sequential_steps(spec, n)  # once: the scan's count is an O(D n) loop
    return {
        "path_length_at_span": path,
        "sequential_steps": steps,
        "memory_bytes": memory,
        "budget_bytes": budget,
        "decode_state_bytes": state,
        "step_time_bound_s": max(_bound(3 * flops, 3 * moved, profile, dtype),
                                 3 * chain_bound(spec, steps, batch, dtype, profile)),
        "compute_term": dtype in profile.peak_flops,  # False: no sourced peak, memory term only
        "latency_bound_s": max(_bound(flops / batch, moved / batch, profile, dtype),
                               chain_bound(spec, steps, 1, dtype, profile)),
        "token_latency_bound_s": token,
    }  # fmt: skip
