"""Downsample then attend ("Cutting the n^2"): the FLOP formula against the counter, the s^2
saving of the attention weights against the weights a real module makes, and what one
short token reads, against the Jacobian."""

import itertools

import pytest
import torch

import pathcost as pc


def _grid():
    specs = [
        pc.Transformer(16, 2, 32, 2),
        pc.Transformer(16, 4, 24, 1, causal=False),
        pc.Transformer(16, 2, 32, 2, window=5),
        pc.CNN(8, kernel=3, layers=2),
        pc.RNN(8),
    ]
    for spec, stride, n in itertools.product(specs, [1, 2, 3, 8], [1, 7, 24, 100]):
        if not isinstance(spec, pc.RNN) or n <= 24:  # a recurrence loops in Python: keep n small
            yield spec, stride, n, 1 + (n + stride) % 2


GRID = list(_grid())


@pytest.mark.parametrize("spec,stride,n,batch", GRID)
def test_downsampled_forward_flops_equal_the_flop_counter(spec, stride, n, batch):
    with torch.device("meta"):
        module, x = pc.downsampling.downsampled(spec, stride), torch.empty(batch, n, spec.d_model)
    assert pc.costs.downsampled_forward_flops(spec, n, stride, batch) == pc.measure.flops(module, x)


@pytest.mark.parametrize("n,stride", [(1, 1), (7, 2), (8, 2), (9, 4), (2048, 2), (2049, 256)])
def test_output_has_ceil_n_over_s_tokens(n, stride):
    spec = pc.Transformer(8, 2, 16, 1)
    with torch.device("meta"):
        y = pc.downsampling.downsampled(spec, stride)(torch.empty(3, n, 8))
    assert tuple(y.shape) == (3, pc.costs.downsampled_length(n, stride), 8)
    assert pc.costs.downsampled_length(n, stride) * stride >= n > (y.shape[1] - 1) * stride


def _weights(module, x) -> list:
    """The attention weights softmax(QK^T) each layer of `module` materialises on input x."""
    caught = []
    for name, sub in module.named_modules():
        if name.endswith("scores"):
            sub.register_forward_hook(lambda m, inputs, out: caught.append(out))
    with torch.no_grad():
        module(x)
    return caught


@pytest.mark.parametrize("n,stride,heads", [(64, 2, 2), (96, 4, 1), (60, 3, 4), (61, 3, 2)])
def test_attention_weights_shrink_by_s_squared(n, stride, heads):
    spec = pc.Transformer(8, heads, 16, layers=2)
    torch.manual_seed(0)
    x = torch.randn(2, n, 8)
    full = _weights(pc.build(spec), x)
    short = _weights(pc.downsampling.downsampled(spec, stride), x)
    assert len(full) == len(short) == spec.layers
    kept = pc.costs.downsampled_length(n, stride)
    for f, s in zip(full, short):
        assert f.nbytes == pc.attention_weights_bytes(n, heads, 2, torch.float32)
        assert s.nbytes == pc.attention_weights_bytes(kept, heads, 2, torch.float32)
        if n % stride == 0:
            assert f.nbytes == stride**2 * s.nbytes


@pytest.mark.parametrize("causal", [True, False])
def test_a_short_token_reads_its_s_positions_and_attention_the_rest(causal):
    n, stride, d = 22, 4, 8
    spec = pc.Transformer(d, 2, 16, layers=1, causal=causal)
    torch.manual_seed(0)
    module = pc.downsampling.downsampled(spec, stride).double()
    x = torch.randn(1, n, d, dtype=torch.float64, requires_grad=True)
    y = module(x)
    conv_out = module.conv(torch.nn.functional.pad(x.transpose(1, 2), (0, 2)))  # n_pad = 24
    for t in range(y.shape[1]):
        (g,) = torch.autograd.grad(conv_out[0, :, t].sum(), x, retain_graph=True)
        reads = g[0].ne(0).any(dim=1).nonzero().flatten().tolist()
        assert reads == list(range(t * stride, min((t + 1) * stride, n)))  # its own s positions
        (g,) = torch.autograd.grad(y[0, t].sum(), x, retain_graph=True)
        reads = g[0].ne(0).any(dim=1).nonzero().flatten().tolist()
        last = min((t + 1) * stride, n) if causal else n  # one hop: every earlier group, or all
        assert reads == list(range(last))


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: pc.costs.downsampled_length(0, 2), "n"),
        (lambda: pc.costs.downsampled_length(8, 0), "stride"),
        (lambda: pc.costs.downsampled_forward_flops(pc.RNN(4), 8, 2, batch=0), "batch"),
        (lambda: pc.costs.downsampled_forward_flops("gpt", 8, 2), "spec"),
        (lambda: pc.downsampling.downsampled(pc.Transformer(8, 2, 16), 1.5), "stride"),
        (lambda: pc.downsampling.downsampled(pc.Transformer(8, 2, 16), 2, "flash"), "attention"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
