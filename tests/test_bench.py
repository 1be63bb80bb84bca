"""The timing harness, sweeps, fits and records: their logic, never their numbers."""

import inspect

import pytest
import torch

import pathcost as pc


class _FakeEvent:
    """Stands in for torch.cuda.Event here (no GPU): the GPU clock advances 20 ms per event."""

    made = []

    def __init__(self, enable_timing=False):
        assert enable_timing, "a timing event must be asked for with enable_timing=True"
        self.at, self.waited = None, False
        _FakeEvent.made.append(self)

    def record(self, stream=None):
        self.at = 20.0 * len([e for e in _FakeEvent.made if e.at is not None])

    def synchronize(self):
        self.waited = True

    def elapsed_time(self, end):
        assert end.waited, "an event must be waited for before it is read"
        return end.at - self.at


@pytest.mark.filterwarnings("ignore:noisy timing")
def test_time_on_cuda_reads_cuda_events_and_waits_for_each(monkeypatch):
    _FakeEvent.made = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda dev=None: None)
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    timing = pc.bench.time(lambda: None, torch.device("cuda"), min_run_time=0.01)
    readings = _FakeEvent.made[1:]  # the first is the origin every reading is measured from
    assert readings and all(event.waited for event in readings)
    # every call spans one event to the next, 20 ms on the GPU: over min_run_time, one sample
    assert timing.samples == (pytest.approx(0.02),)


@pytest.mark.filterwarnings("ignore:noisy timing")
def test_time_on_the_cpu_never_touches_cuda(monkeypatch):
    def fail(*args):
        raise AssertionError("synchronised a CUDA device while timing the CPU")

    monkeypatch.setattr(torch.cuda, "synchronize", fail)
    pc.bench.time(lambda: None, torch.device("cpu"), min_run_time=0.01)


def test_time_warns_when_the_spread_is_high(monkeypatch):
    class Noisy:
        median, iqr, times = 1.0, 0.5, [0.7, 1.0, 1.3]

    timer = pc.bench.timing.benchmark.Timer
    monkeypatch.setattr(timer, "blocked_autorange", lambda self, **kw: Noisy)
    with pytest.warns(UserWarning, match="noisy timing"):
        timing = pc.bench.time(lambda: None, torch.device("cpu"))
    assert timing.spread == 0.5


def _fake_run(out_of_memory_at):
    def run(fn, dev, min_run_time):
        if inspect.getclosurevars(fn).nonlocals["n"] in out_of_memory_at:  # bench.step's n
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return pc.bench.Timing(0.002, 0.0001, (0.002,)), 1234

    return run


def test_sweep_records_out_of_memory_and_goes_on(monkeypatch):
    monkeypatch.setattr(pc.bench.sweeps, "_run", _fake_run(out_of_memory_at={32}))
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    records = pc.bench.sweep(pc.RNN(8), [16, 32, 64], dev=torch.device("cpu"), progress=False)
    assert [r.status for r in records] == ["ok", "oom", "ok"]
    assert records[1].median_s is None and records[2].peak_bytes == 1234
    assert records[0].flop_per_s == pc.forward_flops(pc.RNN(8), 16) / 0.002
    assert emptied == []  # the CPU has no allocator cache to empty


def test_sweep_on_cuda_empties_the_cache_after_out_of_memory(monkeypatch):
    monkeypatch.setattr(pc.bench.sweeps, "_run", _fake_run(out_of_memory_at={16}))
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: self)  # no CUDA here
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    records = pc.bench.sweep(pc.RNN(8), [16, 32], dev=torch.device("cuda"), progress=False)
    assert [r.status for r in records] == ["oom", "ok"] and emptied == [True]


def test_sweep_skips_points_whose_estimate_exceeds_the_memory_cap():
    spec = pc.Transformer(16, 2, 32, 1)
    cap = pc.bench.PEAK_FACTOR * pc.activation_bytes(spec, 64) + 4 * pc.params(spec)
    records = pc.bench.sweep(spec, [32, 64, 128], memory_cap=cap, min_run_time=0.01, progress=False)
    assert [r.status for r in records] == ["ok", "ok", "skipped"]
    assert records[2].estimate_bytes > cap and records[0].peak_bytes > 0


def test_sweep_forward_and_backward_records_both_modes():
    records = pc.bench.sweep(
        pc.CNN(8, 3, 2), [16], modes=pc.bench.MODES, min_run_time=0.01, progress=False
    )
    assert [r.mode for r in records] == list(pc.bench.MODES)
    forward = pc.forward_flops(pc.CNN(8, 3, 2), 16)
    assert [r.flops for r in records] == [forward, pc.bench.BACKWARD_FACTOR * forward]


def test_fit_exponent_recovers_a_known_exponent():
    ns = [256, 512, 1024, 2048, 4096]
    slope, (low, high) = pc.bench.fit_exponent(ns, [3e-9 * n**2 for n in ns])
    assert abs(slope - 2) < 1e-12 and abs(high - low) < 1e-9
    generator = torch.Generator().manual_seed(0)
    noise = torch.exp(0.1 * torch.randn(len(ns), generator=generator)).tolist()
    slope, (low, high) = pc.bench.fit_exponent(ns, [2e-6 * n * e for n, e in zip(ns, noise)])
    assert low < 1 < high and high - low < 0.5


def test_records_round_trip_through_csv_and_json(tmp_path):
    records = [
        pc.bench.Record("RNN", 16, 2, "forward", "ok", 0.25, 0.01, 4096, 10**9, 4e9, 8192, "cpu"),
        pc.bench.Record("LSTM", 32, 1, "forward", "oom", None, None, None, 77, None, 99, "cuda:0"),
    ]
    for name in ("r.csv", "r.json"):
        pc.bench.save(records, tmp_path / name)
        assert pc.bench.load(tmp_path / name) == records


@pytest.mark.filterwarnings("ignore:noisy timing")  # a 12-step module takes microseconds
def test_recurrent_latency_counts_the_steps_the_real_forward_runs(monkeypatch):
    spec = pc.LSTM(8, layers=2)
    latency = pc.bench.recurrent_latency(spec, 12, min_run_time=0.01)
    calls = []
    step = pc.models.LSTMLayer.step
    monkeypatch.setattr(pc.models.LSTMLayer, "step", lambda *a: calls.append(1) or step(*a))
    pc.build(spec)(torch.randn(1, 12, 8))
    assert latency.steps == len(calls) == 24  # layer after layer: n * layers, not n + layers - 1
    with pytest.raises(ValueError, match="spec"):
        pc.bench.recurrent_latency(pc.CNN(8), 12)


def test_bench_command_writes_records_and_reports_exponents(tmp_path, capsys):
    from pathcost.cli import main

    out = tmp_path / "results.csv"
    assert (
        main(["bench", "--arch", "rnn", "--n", "8", "16", "32", "--out", str(out), "--quiet"]) == 0
    )
    labels = [r.label for r in pc.bench.load(out)]
    assert labels == ["RNN"] * 3 + ["attention (explicit)", "attention (sdpa)"] * 3
    report = capsys.readouterr().out
    assert "fitted time exponents" in report and "attention (sdpa)" in report


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pc.bench.time(42), "fn"),
        (lambda: pc.bench.time(lambda: None, min_run_time=0), "min_run_time"),
        (lambda: pc.bench.fit_exponent([1, 2], [1, 2]), "ns"),
        (lambda: pc.bench.fit_exponent([1, 2, 4], [1, 0, 2]), "positive"),
        (lambda: pc.bench.fit_exponent([1, 2, 4], [1, 2]), "equal length"),
        (lambda: pc.bench.sweep(pc.RNN(4), [0]), "ns"),
        (lambda: pc.bench.sweep(pc.RNN(4), [4], modes=["sideways"]), "modes"),
        (lambda: pc.bench.sweep(pc.RNN(4), [4], memory_cap=0), "memory_cap"),
        (lambda: pc.bench.attention_kernels([8], d_model=10, heads=4), "divisible"),
        (lambda: pc.bench.recurrent_latency(pc.CNN(4), 8), "spec"),
        (lambda: pc.bench.save([], "results.txt"), "path"),
        (lambda: pc.bench.workload("huge"), "run_size"),
    ],
)
def test_bad_bench_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_largest_step_finds_the_jump_between_neighbours():
    times = {256: 1.0, 512: 2.0, 1024: 4.1, 2048: 50.0, 4096: 200.0}
    assert pc.bench.largest_step(times) == (50.0 / 4.1, 1024, 2048)
    with pytest.raises(ValueError, match="times"):
        pc.bench.largest_step({8: 1.0})


def test_os_time_share_counts_the_pages_a_fresh_buffer_touches():
    import mmap

    size = 64 * 2**20  # far above glibc's mmap threshold: mapped and unmapped every call

    def touch():
        buffer = mmap.mmap(-1, size)
        buffer[:: mmap.PAGESIZE] = b"x" * (size // mmap.PAGESIZE)  # write one byte per page
        buffer.close()

    share, faults = pc.bench.os_time_share(touch, repeats=2)
    assert faults >= 0.9 * size / mmap.PAGESIZE
    idle_share, idle_faults = pc.bench.os_time_share(lambda: sum(range(1000)), repeats=2)
    assert idle_faults < 0.01 * size / mmap.PAGESIZE
    with pytest.raises(ValueError, match="repeats"):
        pc.bench.os_time_share(lambda: None, repeats=0)


def test_peaks_measure_one_training_step_per_length_above_its_saved_bytes():
    spec = pc.Transformer(16, 2, 32, 1)
    measured = pc.bench.peaks(spec, [32, 64], dev=torch.device("cpu"))
    assert list(measured) == [32, 64]
    for n, peak in measured.items():  # the step's own peak holds at least what autograd saves
        assert peak >= pc.activation_bytes(spec, n, 1, torch.float32)


def test_a_training_step_leaves_no_gradients_behind():
    module = pc.build(pc.RNN(4))
    pc.bench.step(module, 8, 4, mode="forward+backward", dev=torch.device("cpu"))()
    assert all(p.grad is None for p in module.parameters())
    with pytest.raises(ValueError, match="mode"):
        pc.bench.step(module, 8, 4, mode="backward")
