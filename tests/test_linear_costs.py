"""Axis 2 of "Beyond the four" (formulas.linear) against the real modules of pathcost.linear.

The laws only these two have: the Brent-Kung scan's combines (counted on the real scan),
its padding to N = 2^m in the FLOPs and in the bytes autograd saves, the loop's n
transfers, and the attention kernel not mattering to either.
"""

import itertools

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import pathcost as pc
from pathcost import linear as modules
from pathcost.formulas import linear, scan
from pathcost.measure.flops import COMPONENTS

LENGTHS = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33)  # powers of two and one past them: the padding


class _Combines(TorchDispatchMode):
    """Counts the combines a scan runs: one per (B, d) row an addcmul writes."""

    def __init__(self):
        super().__init__()
        self.rows = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.addcmul.default:
            self.rows += out.numel() // (out.shape[0] * out.shape[-1])
        return out


_SCAN = pc.LinearRecurrence(1, scan=True)


@pytest.mark.parametrize("batch, d", [(1, 1), (3, 2)])
def test_scan_combines_are_the_addcmul_rows_the_real_scan_writes(batch, d):
    for n in range(1, 70):
        with _Combines() as mode:
            modules.scan(torch.rand(d), torch.randn(batch, n, d))
        assert mode.rows == scan.scan_combines(n) == linear.transfers(_SCAN, n), n


def _recurrences():
    for parallel, d, layers, batch in itertools.product([False, True], [3, 8], [1, 2], [1, 2]):
        yield pc.LinearRecurrence(d, layers, scan=parallel), batch


def _attentions():
    for (d, h), f, layers, positional in [
        ((8, 1), 12, 1, False), ((8, 2), 8, 2, True), ((12, 12), 16, 1, False),
        ((16, 4), 24, 2, False), ((6, 3), 5, 1, True),
    ]:  # fmt: skip
        yield pc.LinearAttention(d, h, f, layers, positional=positional), 2


CASES = [*_recurrences(), *_attentions()]


@pytest.mark.parametrize("spec, batch", CASES, ids=repr)
def test_flops_by_component_equal_the_counter_at_every_length(spec, batch):
    module = pc.build(spec)
    names = {path.rsplit(".", 1)[-1] for path, _ in module.named_modules()} & set(COMPONENTS)
    for n in LENGTHS:
        measured = pc.measure.flops_by_component(module, torch.randn(batch, n, spec.d_model))
        formula = pc.forward_flops_by_component(spec, n, batch)
        assert set(formula) == names  # the components are the submodules' names
        assert measured == {name: flops for name, flops in formula.items() if flops}, n
        assert sum(formula.values()) == pc.forward_flops(spec, n, batch)


def test_the_recurrent_component_is_n_transfers_or_the_scans_combines():
    for n in LENGTHS:
        loop = pc.forward_flops_by_component(pc.LinearRecurrence(8, 2), n, 3)["recurrent"]
        tree = pc.forward_flops_by_component(pc.LinearRecurrence(8, 2, scan=True), n, 3)
        assert loop == 2 * 2 * 3 * 8 * n
        size = 1  # the scan's levels, counted one by one: the up-sweep's N / 2^(v+1)
        while size < n:  # combines at level v, the down-sweep's one fewer (N >= 4)
            size *= 2
        ups = [size >> (v + 1) for v in range(size.bit_length() - 1)]
        combines = sum(ups) + sum(up - 1 for up in ups[:-1])
        assert tree["recurrent"] == 2 * 2 * 3 * 8 * combines


DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


@pytest.mark.parametrize("spec, batch", CASES, ids=repr)
def test_activation_bytes_equal_the_bytes_autograd_saves(spec, batch):
    for index, n in enumerate(LENGTHS):
        dtype, rows = DTYPES[index % len(DTYPES)], batch + index % 2  # B = 1 and B > 1 both
        module = pc.build(spec).to(dtype)
        x = torch.randn(rows, n, spec.d_model, dtype=dtype)
        expected = pc.activation_bytes(spec, n, rows, dtype)
        assert pc.measure.saved_bytes(module, x) == expected, (n, rows, dtype)


def test_the_scan_keeps_no_padded_state_alive_at_any_batch():
    spec = pc.LinearRecurrence(4, scan=True)  # out's input: the n real states, copied out
    for n in LENGTHS:
        m = (n - 1).bit_length()
        one = pc.measure.saved_bytes(pc.build(spec), torch.randn(1, n, 4))
        two = pc.measure.saved_bytes(pc.build(spec), torch.randn(2, n, 4))
        powers = max(m, 1) * 4 * 4  # the decay powers, not per row
        assert two - powers == 2 * (one - powers), n  # every other tensor is per row
        assert one == pc.activation_bytes(spec, n, 1) and two == pc.activation_bytes(spec, n, 2)


@pytest.mark.parametrize("spec", [pc.LinearAttention(8, 2, 12, 2), pc.LinearRecurrence(4, 2, True)])
def test_the_attention_kernel_does_not_matter(spec):
    x = torch.randn(2, 5, spec.d_model)
    kernels = pc.registry.ATTENTION_KERNELS
    saved = {kernel: pc.measure.saved_bytes(pc.build(spec, kernel), x) for kernel in kernels}
    assert saved["explicit"] == saved["sdpa"]
    for kernel in kernels:
        assert pc.activation_bytes(spec, 5, 2, attention=kernel) == saved[kernel]


@pytest.mark.parametrize("spec", [spec for spec, _ in CASES], ids=repr)
def test_params_equal_the_modules_parameters(spec):
    assert pc.params(spec) == sum(p.numel() for p in pc.build(spec).parameters())


def test_linear_attention_has_a_transformers_parameters_and_flops_linear_in_n():
    for d, h, f, layers in [(8, 2, 12, 1), (64, 8, 256, 3)]:
        spec = pc.LinearAttention(d, h, f, layers)
        assert pc.params(spec) == pc.params(pc.Transformer(d, h, f, layers))
        flops = [pc.forward_flops(spec, n) for n in (1, 2, 4, 4096)]
        assert flops[1] == 2 * flops[0] and flops[3] == 4096 * flops[0]


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: linear.transfers(pc.LinearRecurrence(4), 0), "n"),
        (lambda: linear.transfers(pc.RNN(4), 3), "spec"),
        (lambda: linear.transfers(pc.LinearAttention(8, 2), 3), "spec"),
        (lambda: linear.forward_flops_by_component(pc.Transformer(8, 2), 3), "spec"),
        (lambda: linear.forward_flops_by_component(pc.LinearRecurrence(4), 3, 0), "batch"),
        (lambda: linear.params(pc.LSTM(4)), "spec"),
        (lambda: linear.saved_elements(pc.LinearAttention(8, 2), 0), "n"),
        (lambda: linear.state_elements(pc.CNN(4)), "spec"),
        (lambda: linear.step_flops(pc.LinearRecurrence(4), 0), "batch"),
        (lambda: pc.activation_bytes(pc.LinearAttention(8, 2), 4, dtype=torch.int8), "dtype"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
