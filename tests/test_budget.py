"""The whole training budget: ``formulas.budget`` against real training steps on the CPU."""

import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import pathcost as pc
from pathcost.formulas import budget
from pathcost.measure.budget import held_bytes, step_memory
from pathcost.measure.memory import saved_bytes
from pathcost.registry import OPTIMIZERS, PRECISIONS
from pathcost.training_step import prepare

SPECS = [
    pc.RNN(16, layers=2),
    pc.LSTM(12, layers=2),
    pc.CNN(16, kernel=3, layers=2, dilations=(1, 2)),
    pc.Transformer(16, heads=2, d_ff=32, layers=2),
    pc.Transformer(16, heads=4, d_ff=24, layers=1, kv_heads=2, positional=True),
    pc.LinearAttention(16, heads=2, d_ff=32, layers=2),
    pc.LinearRecurrence(16, layers=2),  # the loop
    pc.LinearRecurrence(16, layers=2, scan=True),
    pc.LinearAttention(16, heads=4, d_ff=24, layers=1, positional=True),
]
# every architecture in every precision, the optimizers in turn, checkpointing on and off
STEPS = [
    pytest.param(spec, precision, optimizer, checkpointing,
                 id=f"{type(spec).__name__}{i}-{precision}-{optimizer}-{int(checkpointing)}")
    for (i, spec), precision in itertools.product(enumerate(SPECS), PRECISIONS)
    for optimizer, checkpointing in [(list(OPTIMIZERS)[(i + len(precision)) % 4], False),
                                     (list(OPTIMIZERS)[(i + 1 + len(precision)) % 4], True)]
]  # fmt: skip


def test_the_step_grid_covers_every_choice():
    assert len(STEPS) >= 24
    values = [p.values for p in STEPS]
    single = {e.spec for e in pc.registry.ARCHITECTURES.values() if not e.composite}
    assert {type(v[0]) for v in values} == single
    assert {v[0].scan for v in values if isinstance(v[0], pc.LinearRecurrence)} == {False, True}
    assert {v[1] for v in values} == set(PRECISIONS)
    assert {v[2] for v in values} == set(OPTIMIZERS)
    assert {v[3] for v in values} == {False, True}


@pytest.mark.parametrize("spec,precision,optimizer,checkpointing", STEPS)
def test_params_grads_and_optimizer_state_equal_the_real_tensors(
    spec, precision, optimizer, checkpointing
):
    """Law: grads = P bytes(w); optimizer state = b P bytes(w) (+ 4 per tensor for Adam)."""
    torch.manual_seed(0)
    step = prepare(spec, 6, 2, precision, optimizer, checkpointing, dev="cpu")
    measured = step_memory(step)
    formula = pc.training_memory(spec, 6, 2, precision, optimizer, checkpointing)
    assert (formula.params, formula.grads, formula.optimizer, formula.master) == (
        measured.params, measured.grads, measured.optimizer, 0
    )  # fmt: skip
    assert measured.peak > measured.params + measured.optimizer


HYBRIDS = [  # a strided convolution in front of each body (no checkpointing: refused)
    pc.Hybrid(4, pc.RNN(16, layers=2)),
    pc.Hybrid(3, pc.LSTM(12, layers=2)),
    pc.Hybrid(1, pc.LSTM(8, layers=3)),
    pc.Hybrid(2, pc.CNN(16, kernel=3, layers=2, dilations=(1, 2))),
    pc.Hybrid(4, pc.Transformer(16, heads=2, d_ff=32, layers=2)),
    pc.Hybrid(3, pc.Transformer(16, heads=4, d_ff=24, layers=1, kv_heads=2, positional=True)),
]
HYBRID_STEPS = [
    pytest.param(spec, precision, list(OPTIMIZERS)[(i + len(precision)) % 4],
                 id=f"Hybrid{i}-{precision}")
    for (i, spec), precision in itertools.product(enumerate(HYBRIDS), PRECISIONS)
]  # fmt: skip


@pytest.mark.parametrize("spec,precision,optimizer", HYBRID_STEPS)
def test_a_hybrid_steps_params_grads_state_and_kept_activations_equal_the_real_tensors(
    spec, precision, optimizer
):
    """Law: as for the four; and what a forward leaves alive for backward (its output aside)
    = activations, with the body's saved bytes at ceil(n / s) tokens."""
    torch.manual_seed(0)
    step = prepare(spec, 7, 2, precision, optimizer, dev="cpu")
    measured = step_memory(step)
    formula = pc.training_memory(spec, 7, 2, precision, optimizer)
    assert (formula.params, formula.grads, formula.optimizer, formula.master) == (
        measured.params, measured.grads, measured.optimizer, 0
    )  # fmt: skip
    weights = PRECISIONS[precision].weights

    def forward():
        with step.autocast():
            return step.module(torch.randn(2, 7, spec.d_model, dtype=weights))

    held, y = held_bytes(forward)  # y: a view of the s ceil(n / s) repeated outputs
    assert formula.activations == held - y.untyped_storage().nbytes()


def test_a_hybrid_is_not_checkpointed():
    for checkpointing in (True, 1):
        with pytest.raises(ValueError, match="checkpointing must be False for a Hybrid"):
            pc.training_memory(HYBRIDS[0], 8, checkpointing=checkpointing)
        with pytest.raises(ValueError, match="checkpointing must be False for a Hybrid"):
            prepare(HYBRIDS[0], 8, checkpointing=checkpointing, dev="cpu")
    assert pc.training_memory(HYBRIDS[0], 8, checkpointing=0) == pc.training_memory(HYBRIDS[0], 8)
    for formula in (budget.recompute_flops, budget.checkpointed_activation_bytes):
        with pytest.raises(ValueError, match="checkpointing must be False for a Hybrid"):
            formula(HYBRIDS[0], 8)


@pytest.mark.parametrize("spec", SPECS + HYBRIDS)
def test_parameter_tensors_count_the_module_parameters(spec):
    assert budget.parameter_tensors(spec) == len(list(pc.build(spec).parameters()))


AUTOCAST = [
    pytest.param(spec, n, batch, dtype, attention, id=f"{spec}-{n}-{batch}-{dtype}-{attention}")
    for spec in [*SPECS, pc.Transformer(16, 2, 32, 1, window=3), pc.CNN(8, 5, 3, causal=False),
                 pc.Transformer(16, 2, 32, 1, causal=False), pc.LSTM(8, layers=3), *HYBRIDS,
                 pc.Hybrid(3, pc.Transformer(16, 2, 32, 1, window=2, causal=False)),
                 pc.LinearRecurrence(8, layers=1, scan=True), pc.LinearRecurrence(8, layers=3)]
    for n, batch in [(5, 1), (9, 3)]  # the scan: out keeps a view of N = 8 or a copy of n
    for dtype in (torch.bfloat16, torch.float16)
    for attention in (("explicit", "sdpa")
                      if isinstance(getattr(spec, "then", spec), pc.Transformer) else ("explicit",))
]  # fmt: skip


@pytest.mark.parametrize("spec,n,batch,dtype,attention", AUTOCAST)
def test_mixed_activation_bytes_equal_what_autograd_saves_under_autocast(
    spec, n, batch, dtype, attention
):
    torch.manual_seed(0)
    module, x = pc.build(spec, attention), torch.randn(batch, n, spec.d_model)
    with torch.autocast("cpu", dtype=dtype):
        measured = saved_bytes(module, x)
    assert budget.mixed_activation_bytes(spec, n, batch, dtype, attention) == measured


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("precision", list(PRECISIONS))
@pytest.mark.parametrize("checkpointing", [True, 1])
def test_a_checkpointed_layer_keeps_its_input_and_the_others_all(spec, precision, checkpointing):
    """Measured: the bytes a forward leaves alive, less its output (the x made inside)."""
    step = prepare(spec, 7, 2, precision, "sgd", checkpointing, dev="cpu")
    weights = PRECISIONS[precision].weights

    def forward():
        with step.autocast():
            return step.module(torch.randn(2, 7, spec.d_model, dtype=weights))

    held, y = held_bytes(forward)
    kept = pc.training_memory(spec, 7, 2, precision, "sgd", checkpointing).activations
    assert kept == held - y.nbytes


# a linear recurrence's diagonal transfer, x + a ⊙ h: one multiply-accumulate per element, as
# measure.flops counts it (torch's counter has no formula for addcmul)
DIAGONAL = {torch.ops.aten.addcmul: lambda *args, out_shape=None, **kwargs: 2 * out_shape.numel()}


@pytest.mark.filterwarnings("ignore:TF32 acceleration")
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("layers", [1, None])
def test_recompute_flops_equal_the_counters_extra_work(spec, layers):
    """Law: FLOPs(forward + backward, checkpointed) - FLOPs(plain) = recompute_flops."""
    counted = {}
    for checkpointing in (False, True if layers is None else layers):
        step = prepare(spec, 8, 2, "fp32", "sgd", checkpointing, dev="cpu")
        x = torch.randn(2, 8, spec.d_model)
        counter = FlopCounterMode(display=False, custom_mapping=DIAGONAL)
        with torch.backends.mkldnn.flags(enabled=False), counter as c:
            step.module(x).sum().backward()
        counted[checkpointing] = c.get_total_flops()
    extra = counted[True if layers is None else layers] - counted[False]
    assert extra == budget.recompute_flops(spec, 8, 2, layers)


@pytest.mark.parametrize(
    "spec,kwargs",
    [
        (pc.Transformer(768, 12, 3072, 12), {"batch": 4, "precision": "mixed-fp16"}),
        (pc.Transformer(768, 12, 3072, 12), {"batch": 4, "precision": "pure-fp16",
                                             "checkpointing": True}),
        (pc.LSTM(1024, layers=2), {"precision": "mixed-bf16", "optimizer": "sgd"}),
        (pc.CNN(512, 3, 8), {"attention": "explicit"}),
        (pc.LinearAttention(512, 8, 2048, 6), {"precision": "mixed-bf16", "checkpointing": 3}),
        (pc.LinearRecurrence(1024, 4, scan=True), {"precision": "mixed-fp16"}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("device", ["t4", "a100-80gb", 16 * 10**9])
def test_max_seq_len_and_max_batch_are_the_largest_that_fit(spec, kwargs, device):
    limit = budget.budget_bytes(device)
    n = pc.max_seq_len(spec, device, **kwargs)

    def total(n, **changes):  # a named GPU follows CUDA's autocast lists, bytes the CPU's
        lists = budget.device_lists(device)
        return pc.training_memory(spec, n, **{**kwargs, "lists": lists, **changes}).total

    assert total(n) <= limit < total(n + 1)
    batch_kwargs = {k: v for k, v in kwargs.items() if k != "batch"}
    b = pc.max_batch(spec, 512, device, **batch_kwargs)
    assert total(512, batch=b) <= limit < total(512, batch=b + 1)


def test_a_device_budget_is_its_memory_as_the_table_gives_it():
    assert budget.budget_bytes("t4") == pc.devices.DEVICES["t4"].memory_bytes == 16 * 10**9
    assert budget.budget_bytes(pc.devices.DEVICES["a10g"]) == 24 * 2**30


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: pc.training_memory(SPECS[0], 4, precision="fp8"), "precision"),
        (lambda: pc.training_memory(SPECS[0], 4, optimizer="lion"), "optimizer"),
        (lambda: pc.training_memory(SPECS[0], 0), "n"),
        (lambda: pc.training_memory(SPECS[0], 4, batch=0), "batch"),
        (lambda: pc.training_memory(SPECS[0], 4, checkpointing="yes"), "checkpointing"),
        (lambda: pc.training_memory(SPECS[0], 4, checkpointing=3), "checkpointing"),
        (lambda: pc.training_memory(SPECS[3], 4, attention="flash"), "attention"),
        (lambda: pc.max_seq_len(SPECS[3], 0), "budget"),
        (lambda: pc.max_seq_len(SPECS[3], "k80"), "name"),
        (lambda: pc.max_seq_len(SPECS[3], 1000), "n = 1"),
        (lambda: pc.max_batch(SPECS[3], 8, 1000), "batch = 1"),
        (lambda: prepare(SPECS[0], 4, optimizer="lion"), "optimizer"),
    ],
)
def test_bad_input_is_refused_by_name(call, name):
    with pytest.raises(ValueError, match=name):
        call()
