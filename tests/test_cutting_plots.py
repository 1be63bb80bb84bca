"""The figures of "Cutting the n^2": the slopes their legends print are the laws of the data."""

import matplotlib
import pytest

import pathcost as pc

matplotlib.use("Agg")


def _record(label, n, seconds, peak, status="ok"):
    return pc.bench.Record(label=label, n=n, batch=1, mode="forward", status=status,
                           median_s=seconds, iqr_s=0.0, peak_bytes=peak, flops=4 * n * n,
                           flop_per_s=None, estimate_bytes=0, device="cpu")  # fmt: skip


def test_attention_kernels_legends_give_the_power_laws_of_memory_and_time():
    ns = [256, 512, 1024, 2048]
    records = [_record("attention (explicit)", n, 1e-9 * n**2, 12 * n * n) for n in ns]
    records += [_record("attention (sdpa)", n, 1e-8 * n**1.5, 64 * n) for n in ns]
    records.append(_record("attention (flash)", 4096, None, None, status="unsupported"))
    memory, time = pc.plots.attention_kernels(records)
    memory_labels = [line.get_label() for line in memory.get_lines()]
    time_labels = [line.get_label() for line in time.get_lines()]
    assert memory_labels == ["explicit  (slope 2.00)", "sdpa  (slope 1.00)"]
    assert time_labels == ["explicit  (slope 2.00)", "sdpa  (slope 1.50)"]
    assert memory.get_lines()[0].get_ydata()[-1] == 12 * 2048**2 / 2**20  # MiB


def test_flops_vs_n_slopes_are_two_for_full_and_one_for_windowed_attention():
    full, windowed = pc.Transformer(64, 4, 256, 1), pc.Transformer(64, 4, 256, 1, window=32)
    ns = [2**e for e in range(12, 17)]  # long enough for the n^2 term to dominate
    counts = {
        "full": {n: pc.forward_flops(full, n) for n in ns},
        "window": {n: pc.forward_flops(windowed, n) for n in ns},
    }
    ax = pc.plots.flops_vs_n(counts)
    slopes = [float(line.get_label().split("slope ")[1].rstrip(")")) for line in ax.get_lines()]
    assert slopes[0] == pytest.approx(2.0, abs=0.02)
    assert slopes[1] == 1.0


@pytest.mark.parametrize("counts", [{}, {"one point": {1024: 5}}, [1, 2]])
def test_flops_vs_n_refuses_counts_it_cannot_draw(counts):
    with pytest.raises(ValueError, match="counts"):
        pc.plots.flops_vs_n(counts)
