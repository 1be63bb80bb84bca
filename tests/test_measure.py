"""The measuring instruments themselves, each against a quantity known without them."""

import pytest
import torch

import pathcost as pc


def test_peak_bytes_follows_allocations_and_frees_in_order():
    def work():
        a = torch.ones(256, 1024)  # 1 MiB
        b = torch.ones(256, 1024)  # 2 MiB live
        del a  # 1 MiB live
        c = torch.ones(512, 1024)  # 3 MiB live: the peak
        return b, c

    assert pc.measure.peak_bytes(work) == 3 * 2**20


def test_peak_bytes_counts_a_temporary_freed_inside_one_call():
    x = torch.ones(512, 512)
    assert pc.measure.peak_bytes(lambda: (x @ x).sum()) >= 512 * 512 * 4  # the product, freed


def test_saved_bytes_counts_each_storage_once_and_skips_parameters():
    linear, x = torch.nn.Linear(64, 64), torch.randn(8, 64)
    assert pc.measure.saved_bytes(linear, x) == 8 * 64 * 4  # x, not the weight

    class Squared(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = linear

        def forward(self, x):
            y = torch.tanh(self.linear(x))  # tanh saves y
            return y * y  # mul saves y twice more: the same storage

    assert pc.measure.saved_bytes(Squared(), x) == 2 * 8 * 64 * 4  # x and y


def lambda_module(fn):
    class Wrapped(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return Wrapped()


def test_flops_sees_through_the_cpu_fused_kernels():
    lstm, x = torch.nn.LSTM(32, 32, batch_first=True), torch.randn(2, 10, 32)
    assert pc.measure.flops(lstm, x) == 10 * 2 * 2 * (2 * 32 * 4 * 32)  # oneDNN switched off
    q = torch.randn(1, 4, 64, 16)
    sdpa = lambda_module(lambda t: torch.nn.functional.scaled_dot_product_attention(t, t, t))
    assert pc.measure.flops(sdpa, q) == 2 * (2 * 4 * 64 * 64 * 16)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.measure.flops(lambda t: t, torch.ones(1)), "module"),
        (lambda: pc.measure.saved_bytes(torch.nn.Identity(), [1.0]), "x"),
        (lambda: pc.measure.peak_bytes(3), "fn"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
