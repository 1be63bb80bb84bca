"""Memory traffic: ``formulas.traffic`` against the dispatch-level byte counter, exactly."""

import pytest
import torch

import pathcost as pc
from pathcost.measure.traffic import (
    TrafficCounter,
    decode_traffic,
    forward_traffic,
    prefill_traffic,
    tensor_bytes,
)

F32, BF16 = torch.float32, torch.bfloat16
SPECS = [
    pc.RNN(4, layers=2),
    pc.LSTM(6),
    pc.CNN(4, kernel=3, layers=2),
    pc.CNN(4, kernel=3, layers=3, dilations=(1, 2, 4)),
    pc.CNN(4, kernel=5, layers=2, causal=False),
    pc.Transformer(8, heads=2, d_ff=16, layers=2),
    pc.Transformer(8, heads=4, d_ff=16, layers=1, kv_heads=2),
    pc.Transformer(8, heads=4, d_ff=16, layers=1, kv_heads=1, positional=True),
    pc.Transformer(8, heads=2, d_ff=16, layers=1, causal=False),
    pc.Transformer(8, heads=1, d_ff=16, layers=1),
    pc.Transformer(8, heads=2, d_ff=16, layers=1, window=16),  # w >= n: full attention
    pc.Transformer(8, heads=4, d_ff=16, layers=1, window=2, kv_heads=2, positional=True),
    pc.Transformer(8, heads=2, d_ff=16, layers=2, window=3),  # blocked local for n > 3
    pc.Transformer(8, heads=1, d_ff=16, layers=1, window=4),
    pc.Transformer(8, heads=4, d_ff=16, layers=1, window=3, kv_heads=1),
    pc.Transformer(8, heads=2, d_ff=16, layers=1, window=2, causal=False),
    pc.LinearAttention(8, heads=2, d_ff=16, layers=2),
    pc.LinearAttention(8, heads=1, d_ff=12, layers=1, positional=True),
    pc.LinearRecurrence(4, layers=2),  # the loop: one addcmul per position
    pc.LinearRecurrence(4, layers=2, scan=True),  # n = 5: padded to 8, n states copied out
    pc.LinearRecurrence(1, layers=1, scan=True),
]
HYBRIDS = [  # forward only: formulas.decode refuses a Hybrid a prefill and a decode
    pc.Hybrid(4, pc.LSTM(6)),
    pc.Hybrid(1, pc.RNN(4, layers=2)),  # no repeat to copy
    pc.Hybrid(2, pc.CNN(4, kernel=3, layers=2)),
    pc.Hybrid(3, pc.CNN(1, kernel=3, layers=1)),  # d = 1: the tokens are contiguous already
    pc.Hybrid(3, pc.Transformer(8, heads=2, d_ff=16, layers=2)),
    pc.Hybrid(2, pc.Transformer(8, heads=4, d_ff=16, layers=1, window=2, kv_heads=2)),
    pc.Hybrid(5, pc.Transformer(8, heads=2, d_ff=16, layers=1, causal=False, positional=True)),
]
WORKLOADS = [(1, 1, F32), (5, 2, F32), (16, 3, BF16)]


def _grid():
    for spec in SPECS:
        for n, batch, dtype in WORKLOADS:
            for phase in pc.formulas.traffic.PHASES:
                if phase != "forward" and not spec.causal:
                    continue
                yield pytest.param(spec, n, batch, dtype, phase, id=f"{spec}-{n}-{batch}-{phase}")
    yield pytest.param(SPECS[5], 0, 2, F32, "decode", id="first-token")
    for spec in HYBRIDS:
        for n, batch, dtype in [*WORKLOADS, (12, 2, F32)]:  # 12: one token (s > 12) or more
            yield pytest.param(spec, n, batch, dtype, "forward", id=f"{spec}-{n}-{batch}")


GRID = list(_grid())


def _run(spec, n, batch, dtype, phase):
    """Build on the meta device and return (module or decoder, input, state or None)."""
    with torch.device("meta"):
        module = pc.build(spec).to(dtype)
        x = torch.empty(batch, n, spec.d_model, dtype=dtype)
    if phase != "decode":
        return module, x, None
    decoder = pc.Decoder(module)
    with torch.no_grad():
        _, state = decoder(x)  # n tokens decoded: the state after them
    return decoder, torch.empty(batch, spec.d_model, dtype=dtype, device="meta"), state


def test_the_grid_covers_every_architecture_and_phase():
    assert len(GRID) >= 30
    assert {type(p.values[0]) for p in GRID} == {e.spec for e in pc.registry.ARCHITECTURES.values()}
    assert {p.values[4] for p in GRID} == set(pc.formulas.traffic.PHASES)


@pytest.mark.parametrize("spec,n,batch,dtype,phase", GRID)
def test_unfused_bytes_equal_the_dispatch_counter(spec, n, batch, dtype, phase):
    """Law: unfused traffic = sum over executed aten ops of bytes(inputs) + bytes(outputs)."""
    run, x, state = _run(spec, n, batch, dtype, phase)
    if phase == "forward":
        measured = forward_traffic(run, x)
    elif phase == "prefill":
        measured = prefill_traffic(run, x)
    else:
        measured = decode_traffic(run, x, state)
    assert pc.bytes_moved(spec, n, batch, dtype, phase, "unfused") == measured


@pytest.mark.parametrize("spec,n,batch,dtype,phase", GRID)
def test_ideal_is_a_lower_bound_of_unfused(spec, n, batch, dtype, phase):
    ideal = pc.bytes_moved(spec, n, batch, dtype, phase, "ideal")
    assert 0 < ideal <= pc.bytes_moved(spec, n, batch, dtype, phase, "unfused")


@pytest.mark.parametrize("spec,n,batch,dtype,phase", [p for p in GRID if p.values[4] == "decode"])
def test_ideal_decode_is_weights_cache_input_and_output(spec, n, batch, dtype, phase):
    """Law: ideal decode traffic = bytes(parameters) + bytes(state tensors) + bytes(x, y)."""
    decoder, x, state = _run(spec, n, batch, dtype, phase)
    weights = tensor_bytes(list(decoder.parameters()))
    expected = weights + tensor_bytes(state.layers) + 2 * tensor_bytes(x)
    assert pc.bytes_moved(spec, n, batch, dtype, "decode", "ideal") == expected


def test_arithmetic_intensity_is_flops_per_byte():
    spec = SPECS[5]
    moved = pc.bytes_moved(spec, 16, 2, BF16, "forward", "ideal")
    intensity = pc.arithmetic_intensity(spec, 16, 2, BF16, "forward", "ideal")
    assert isinstance(intensity, float)
    assert intensity == pc.forward_flops(spec, 16, 2) / moved
    step = pc.arithmetic_intensity(spec, 7, phase="decode")
    assert step == pc.decode_step_flops(spec, 7) / pc.bytes_moved(spec, 7, phase="decode")


def test_views_move_no_bytes_and_an_add_moves_three_tensors():
    x = torch.empty(2, 3, 4, device="meta")
    with TrafficCounter() as counter:
        x.view(6, 4).transpose(0, 1).unsqueeze(0).expand(5, 4, 6)[:, 1].t()
    assert counter.total == 0
    with TrafficCounter() as counter:
        _ = x + x
    assert counter.total == 3 * 2 * 3 * 4 * 4


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"phase": "backward"}, "phase"),
        ({"count": "fused"}, "count"),
        ({"n": 0}, "n"),
        ({"batch": 0}, "batch"),
        ({"dtype": torch.int32}, "dtype"),
        ({"spec": pc.CNN(4, kernel=3, causal=False), "phase": "prefill"}, "spec"),
        ({"spec": pc.Transformer(8, 2, 16, 1, causal=False), "phase": "decode"}, "spec"),
        ({"spec": pc.Hybrid(4, pc.LSTM(4)), "phase": "prefill"}, "spec must not be a Hybrid"),
        ({"spec": pc.Hybrid(1, pc.LSTM(4)), "phase": "decode"}, "spec must not be a Hybrid"),
    ],
)
def test_bad_input_is_refused_by_name(kwargs, name):
    arguments = {"spec": SPECS[0], "n": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        pc.bytes_moved(**arguments)


LOCAL = [
    pytest.param(pc.Transformer(8, heads, 16, 1, window=w, causal=causal, kv_heads=kv), n, B,
                 id=f"h{heads}-kv{kv}-w{w}-n{n}-B{B}-{'causal' if causal else 'both-sides'}")
    for heads, kv in ((1, 1), (2, 2), (4, 2), (4, 1))
    for w in (2, 3)
    for n in (5, 6, 9)
    for B in (1, 2)
    for causal in (True, False)
]


@pytest.mark.parametrize("spec,n,batch", LOCAL)
def test_blocked_local_attention_bytes_equal_the_counter(spec, n, batch):
    """Windows that divide n and windows that do not, one head or several, grouped or not."""
    module, x, _ = _run(spec, n, batch, F32, "forward")
    assert pc.bytes_moved(spec, n, batch, F32, "forward", "unfused") == forward_traffic(module, x)


@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 9])
@pytest.mark.parametrize("batch", [1, 2])
def test_the_scans_levels_and_the_copy_of_its_padded_states_equal_the_counter(n, batch):
    """Law: scan bytes follow N = 2^ceil(log2 n); N > n copies the n real states out."""
    spec = pc.LinearRecurrence(3, layers=1, scan=True)
    module, x, _ = _run(spec, n, batch, F32, "forward")
    assert pc.bytes_moved(spec, n, batch, F32, "forward", "unfused") == forward_traffic(module, x)
