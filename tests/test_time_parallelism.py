"""Time and parallelism: the recurrence's backward pass is linear in n, and the utilisation
figure draws achieved FLOP/s over the peak it is given."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import pathcost as pc
from pathcost.bench import Record


class _ElementsWritten(TorchDispatchMode):
    """Sum of the elements of every tensor an aten op returns while the mode is on."""

    def __init__(self):
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(tensor, torch.Tensor):
                self.elements += tensor.numel()
        return out


def _backward_elements(spec, n: int) -> int:
    torch.manual_seed(0)
    loss = pc.build(spec)(torch.randn(2, n, spec.d_model)).sum()
    with _ElementsWritten() as counter:
        loss.backward()
    return counter.elements


@pytest.mark.parametrize("spec", [pc.RNN(8), pc.LSTM(8, layers=2)], ids=["RNN", "LSTM"])
def test_recurrent_backward_writes_linear_in_n(spec):
    """Doubling n doubles the backward's work: no per-step (B, n, d) gradient buffers.

    Indexing u[:, t] in the loop made every step's backward write a zero tensor the size
    of all of u, n * n * d elements in all, so this ratio was near 4 at large n.
    """
    small, large = _backward_elements(spec, 64), _backward_elements(spec, 128)
    assert large / small == pytest.approx(2, rel=0.02)


@pytest.mark.parametrize("spec", [pc.RNN(6), pc.LSTM(6, layers=2)], ids=["RNN", "LSTM"])
def test_recurrent_gradients_match_a_loop_over_indexed_steps(spec):
    """The module's gradients equal those of the same cells run on u[:, t], one t at a time."""
    torch.manual_seed(0)
    module, x = pc.build(spec), torch.randn(3, 11, spec.d_model, requires_grad=True)
    module(x).square().sum().backward()
    got = [x.grad.clone()] + [p.grad.clone() for p in module.parameters()]
    module.zero_grad(set_to_none=True)
    x.grad = None
    h = x
    for layer in module.layers:  # the reference: index each step, no unbind
        u, state, outputs = layer.input(h), layer.initial_state(h), []
        for t in range(h.shape[1]):
            state = layer.step(u[:, t], state)
            outputs.append(state[0])
        h = torch.stack(outputs, dim=1)
    h.square().sum().backward()
    expected = [x.grad] + [p.grad for p in module.parameters()]
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def _record(label, n, mode, flop_per_s, status="ok", batch=1):
    ok = status == "ok"
    return Record(label=label, n=n, batch=batch, mode=mode, status=status,
                  median_s=1.0 if ok else None, iqr_s=0.0 if ok else None,
                  peak_bytes=1 if ok else None, flops=int(flop_per_s or 0),
                  flop_per_s=flop_per_s if ok else None, estimate_bytes=1,
                  device="cpu")  # fmt: skip


RECORDS = [
    _record("RNN", 128, "forward", 2e9),
    _record("RNN", 512, "forward", 3e9),  # the largest n of its group: drawn
    _record("RNN", 512, "forward+backward", 2.5e9),
    _record("Transformer", 512, "forward", 40e9),
    _record("Transformer", 1024, "forward", None, status="oom"),  # did not run: left out
    _record("Transformer", 512, "forward+backward", 60e9),
]


def test_utilization_bars_are_achieved_over_peak_in_percent():
    peak = 80e9
    ax = pc.plots.utilization(RECORDS, peak)
    heights = [round(bar.get_height(), 9) for bar in ax.patches]
    expected = [100 * f / peak for f in (3e9, 2.5e9, 40e9, 60e9)]
    assert heights == [round(e, 9) for e in expected]
    ticks = [tick.get_text() for tick in ax.get_xticklabels()]
    assert ticks == ["RNN\nn = 512", "Transformer\nn = 512"]


@pytest.mark.parametrize("peak", [0, -1.0, float("nan"), float("inf"), "80e9", True])
def test_utilization_refuses_a_peak_that_is_not_a_positive_number(peak):
    with pytest.raises(ValueError, match="peak_flop_per_s"):
        pc.plots.utilization(RECORDS, peak)


def test_utilization_refuses_records_where_nothing_ran():
    with pytest.raises(ValueError, match="records"):
        pc.plots.utilization([_record("RNN", 64, "forward", None, status="skipped")], 1e9)
