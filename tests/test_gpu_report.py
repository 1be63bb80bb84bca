"""The GPU report, run once here at the quick size: every number names the device that
measured it, the SDPA list names every backend and agrees with a direct call, and every
prediction beside a measurement is its formula, which its measured twin confirms."""

import argparse
import json
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import pathcost as pc
from pathcost import gpu_report

SIZE = "quick"


@pytest.fixture(scope="module")
def report():
    return gpu_report.run(size=SIZE, progress=False)


@pytest.fixture(scope="module")
def device():
    return pc.runtime.device()


def measurements(report) -> list:
    """Every record that holds a measured number: SDPA rows, profiles, sweep points,
    roofline points and training steps."""
    profiles = [p for p in report["profiles"].values() if p is not None]
    return [*report["sdpa"], *profiles, *report["architectures"], *report["roofline"],
            *report["training"]]  # fmt: skip


def spec_of(record):
    """The spec a record was measured on, rebuilt from the benchmark's workload by name."""
    spec = pc.bench.workload(SIZE)[record["arch"]]
    assert repr(spec) == record["spec"]
    return spec


def test_the_report_names_this_device_and_every_record_carries_its_name(report, device):
    info = report["device"]
    assert info["type"] == device.type and info["name"] == gpu_report.device_name(device)
    assert info["torch"] == torch.__version__ and info["total_memory_bytes"] > 0
    records = measurements(report)
    assert len(records) > len(report["sdpa"])
    assert {record["device"] for record in records} == {info["name"]}
    json.dumps(report, allow_nan=False)  # plain JSON: no NaN, no infinity, no objects


def test_sdpa_names_every_backend_and_agrees_with_a_direct_call(report, device):
    rows = {row["backend"]: row for row in report["sdpa"]}
    assert set(rows) == set(SDPBackend.__members__) - {"ERROR"}  # ERROR is "none chosen"
    assert {row["status"] for row in rows.values()} <= set(gpu_report.STATUSES)
    if device.type == "cpu":
        assert rows["MATH"]["status"] == "runs"
    dtype = pc.registry.dtype(report["dtype"])
    q = torch.randn(gpu_report.SDPA_SHAPE, device=device, dtype=dtype)
    for name, row in rows.items():
        try:
            with sdpa_kernel(SDPBackend.__members__[name]), torch.no_grad():
                F.scaled_dot_product_attention(q, q, q)
            status = "runs"
        except RuntimeError:
            status = "unsupported"
        assert row["status"] == status, name
        assert (row["reason"] is None) == (status == "runs"), name


def test_forward_flops_are_what_the_flop_counter_counts(report, device):
    factor = {"forward": 1, "forward+backward": pc.bench.BACKWARD_FACTOR}
    counted = {}
    for r in report["architectures"]:
        spec = spec_of(r)
        if (r["arch"], r["n"]) not in counted:
            module, x = pc.build(spec), torch.randn(1, r["n"], spec.d_model)
            counted[r["arch"], r["n"]] = pc.measure.flops(module, x)
        assert r["forward_flops"] == counted[r["arch"], r["n"]], (r["arch"], r["n"])
        assert r["flops"] == factor[r["mode"]] * r["forward_flops"]


def test_saved_bytes_are_what_autograd_saves_and_the_peak_is_near_its_model(report):
    training = [r for r in report["architectures"] if r["mode"] == "forward+backward"]
    assert training and all(r["status"] == "ok" for r in training)
    for r in training:
        spec = spec_of(r)
        x = torch.randn(1, r["n"], spec.d_model)
        assert r["activation_bytes"] == pc.measure.saved_bytes(pc.build(spec), x)
        model = pc.training_memory(spec, r["n"], 1, "fp32", "sgd")
        assert r["modelled_peak_bytes"] == model.total - 4 * pc.params(spec)
        assert 0.5 < r["peak_bytes"] / r["modelled_peak_bytes"] < 1.5, (r["arch"], r["n"])


def test_every_bound_is_the_roofline_of_the_profile_recorded_beside_it(report):
    profile = report["profiles"]["measured"]
    peak, beta = profile["peak_flops"][report["dtype"]], profile["bandwidth_bytes_per_s"]
    for r in report["architectures"]:
        spec = spec_of(r)
        dtype = pc.registry.dtype(r["dtype"])
        assert r["ideal_bytes"] == pc.bytes_moved(spec, r["n"], 1, dtype, "forward", "ideal")
    for r in [*report["architectures"], *report["roofline"]]:
        assert r["bound_s"] == pytest.approx(max(r["flops"] / peak, r["ideal_bytes"] / beta))
        assert r["bound_by"] == ("memory" if r["ideal_bytes"] / beta > r["flops"] / peak
                                 else "compute")  # fmt: skip
        if r["median_s"] is not None:
            assert r["measured_over_bound"] == pytest.approx(r["median_s"] / r["bound_s"])


def test_roofline_points_count_the_flops_their_calls_do(report):
    points = gpu_report.roofline_points(SIZE, "cpu", torch.float32)
    assert [p.name for p in points] == [r["operation"] for r in report["roofline"]]
    recorded = {r["operation"]: r for r in report["roofline"]}
    for point in points:
        counter = FlopCounterMode(display=False)
        with warnings.catch_warnings():  # mkldnn.flags() warns about TF32 on Intel GPUs
            warnings.filterwarnings("ignore", message="TF32 acceleration")
            with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
                with sdpa_kernel(SDPBackend.MATH), counter:  # the math path: products it sees
                    point.fn()
        assert counter.get_total_flops() == point.flops == recorded[point.name]["flops"]
        assert recorded[point.name]["ideal_bytes"] == point.bytes


def test_training_steps_hold_the_tensors_their_formulas_count(report):
    assert report["training"]
    for r in report["training"]:
        spec = spec_of(r)
        model = pc.training_memory(spec, r["n"], r["batch"], r["precision"], r["optimizer"],
                                   lists=r["lists"])  # fmt: skip
        assert r["modelled_total"] == model.total and r["modelled_phase"] == model.phase
        for kind in ("params", "grads", "optimizer"):
            assert r[f"measured_{kind}"] == r[f"modelled_{kind}"], (r["arch"], kind)
        assert 0.5 < r["measured_over_modelled"] < 1.5
        assert math.isclose(r["measured_over_modelled"], r["measured_peak"] / model.total)


def test_save_and_load_round_trip(report, tmp_path):
    path = tmp_path / "report.json"
    gpu_report.save(report, path)
    assert gpu_report.load(path) == report
    assert gpu_report.load(str(path)) == json.loads(path.read_text())


def test_bad_input_is_refused_by_name(report, tmp_path):
    with pytest.raises(ValueError, match="path"):
        gpu_report.save(report, tmp_path / "report.csv")
    with pytest.raises(ValueError, match="path"):
        gpu_report.load(tmp_path / "report.txt")
    with pytest.raises(ValueError, match="path"):
        gpu_report.require_path("report.csv")
    with pytest.raises(ValueError, match="report"):
        gpu_report.save([], tmp_path / "report.json")
    with pytest.raises(ValueError, match="size"):
        gpu_report.run(size="huge")
    with pytest.raises(ValueError, match="progress"):
        gpu_report.run(size=SIZE, progress="yes")
    with pytest.raises(ValueError, match="gpu"):
        gpu_report.predicted_tables(gpu="v100")


@pytest.mark.parametrize("name,row", [
    ("Tesla T4", "t4"), ("NVIDIA L4", "l4"), ("NVIDIA A10G", "a10g"),
    ("NVIDIA A100-SXM4-40GB", "a100-40gb"), ("NVIDIA A100-PCIE-40GB", "a100-40gb"),
    ("NVIDIA A100-SXM4-80GB", "a100-80gb"), ("NVIDIA A100 80GB PCIe", None),
    ("NVIDIA H100 80GB HBM3", "h100-sxm"), ("NVIDIA H100 PCIe", None), ("NVIDIA H100 NVL", None),
    ("NVIDIA H200", "h200"), ("NVIDIA H200 NVL", None), ("NVIDIA GeForce RTX 4090", None),
])  # fmt: skip
def test_a_device_name_finds_its_datasheet_row_only_when_the_part_is_the_rows(name, row):
    assert gpu_report.table_row(name) == row
    assert row is None or row in pc.devices.DEVICES


def test_the_appendix_shows_a_cuda_run_when_recorded_and_predictions_otherwise(report, tmp_path):
    missing = gpu_report.measured_or_predicted(tmp_path / "none.json")
    assert missing["kind"] == "predicted" and missing["device"] == "t4"
    assert all("Predicted" in title for title in missing["tables"])
    here = tmp_path / "here.json"
    gpu_report.save(report, here)
    if report["device"]["type"] != "cuda":  # a CPU run is not a GPU run
        assert gpu_report.measured_or_predicted(here)["kind"] == "predicted"
    gpu = {**report, "device": {**report["device"], "type": "cuda", "name": "NVIDIA H200"}}
    gpu_report.save(gpu, tmp_path / "gpu.json")
    shown = gpu_report.measured_or_predicted(tmp_path / "gpu.json")
    assert shown["kind"] == "measured" and shown["device"] == "NVIDIA H200"
    assert all("NVIDIA H200" in title for title in shown["tables"])
    tables = list(shown["tables"].values())
    assert [row["status"] for row in tables[0]] == [row["status"] for row in report["sdpa"]]
    assert [row["median (ms)"] for row in tables[1]] == [
        "n/a" if r["median_s"] is None else round(r["median_s"] * 1e3, 3)
        for r in report["architectures"]
    ]


def test_predictions_are_the_formulas_on_the_datasheet_row():
    forward = next(iter(gpu_report.predicted_tables("t4").values()))
    specs = pc.bench.workload("full")
    assert len(forward) == len(specs) * len(gpu_report.PLANS["full"].ns)
    for row in forward:
        spec = specs[row["model"]]
        flops = pc.forward_flops(spec, row["n"])
        moved = pc.bytes_moved(spec, row["n"], 1, torch.float16, "forward", "ideal")
        t4 = pc.devices.DEVICES["t4"]
        seconds = max(flops / t4.peak_flops["fp16"], moved / t4.bandwidth_bytes_per_s)
        assert row["bound (ms)"] == round(seconds * 1e3, 4)


def _subcommands() -> dict:
    parser = pc.cli._parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.skipif("gpu-report" not in _subcommands(),
                    reason="the command line has no gpu-report subcommand yet")  # fmt: skip
def test_the_command_line_writes_the_report_and_prints_its_summary(tmp_path, monkeypatch,
                                                                   capsys):  # fmt: skip
    monkeypatch.setenv("PATHCOST_SIZE", SIZE)
    out = tmp_path / "r.json"
    assert pc.cli.main(["gpu-report", "--out", str(out)]) == 0
    written = gpu_report.load(out)
    assert written["size"] == SIZE and written["device"]["name"] in capsys.readouterr().out
