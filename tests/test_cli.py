"""The command line: both axes in human units, JSON for machines, one-line errors."""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

import pathcost as pc
from pathcost.cli import main

ISSUE_EXAMPLE = (
    "--arch transformer --d-model 512 --heads 8 --d-ff 2048 --layers 6 --n 4096 --batch 4 "
    "--dtype fp16"
)


def run(arguments: str, capsys):
    """main() in this process: (exit status, stdout, stderr)."""
    try:
        status = main(["estimate", *arguments.split()])
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(arguments, status, out, err)


def test_python_dash_m_runs_the_command_line():
    command = [sys.executable, "-m", "pathcost", "estimate", *ISSUE_EXAMPLE.split(), "--json"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 4096


def test_json_carries_the_package_numbers_exactly(capsys):
    result = run(ISSUE_EXAMPLE + " --json", capsys)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    spec = pc.Transformer(512, 8, 2048, 6)
    assert out["forward_flops"] == pc.forward_flops(spec, 4096, 4)
    assert out["forward_flops_by_component"] == pc.forward_flops_by_component(spec, 4096, 4)
    assert out["params"] == pc.params(spec)
    assert out["attention_weights_bytes_per_layer"] == 4 * 8 * 4096**2 * 2
    assert out["activation_bytes"] == pc.activation_bytes(spec, 4096, 4, torch.float16)
    assert out["kv_cache_bytes"] == 2 * 6 * 4 * 4096 * 512 * 2
    assert out["attention_ffn_crossover_n"] == 2049
    assert (out["path_length_first_to_last"], out["sequential_steps"]) == (1, 6)
    assert out["receptive_field"] == "inf"


def test_text_report_uses_human_units(capsys):
    result = run(ISSUE_EXAMPLE, capsys)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("  ", 1) for line in result.stdout.splitlines())
    assert lines["attention weights, one layer"].strip() == "1,024.00 MiB"
    assert lines["KV cache"].strip() == "192.00 MiB"
    assert (
        lines["forward FLOPs"].strip()
        == f"{pc.forward_flops(pc.Transformer(512), 4096, 4) / 1e9:,.3f} GFLOP"
    )
    assert lines["attention products (QK^T, AV) > FFN FLOPs from n ="].strip() == "2,049"
    assert "attention > FFN from n =" not in result.stdout  # the crossover says which one it is
    assert lines["decode FLOPs per token, after n = 4,096 cached"].strip() == (
        f"{pc.decode_step_flops(pc.Transformer(512), 4096, 4) / 1e6:,.3f} MFLOP"
    )


def test_recurrent_and_convolutional_estimates(capsys):
    lstm = json.loads(run("--arch lstm --d-model 64 --layers 2 --n 100 --json", capsys).stdout)
    assert lstm["sequential_steps"] == 101 and lstm["kv_cache_bytes"] is None
    cnn = json.loads(run("--arch cnn --d-model 8 --dilations 1 2 4 8 --n 64 --json", capsys).stdout)
    assert cnn["receptive_field"] == 31 and cnn["path_length_first_to_last"] == "inf"


def test_a_hybrid_is_its_stride_and_a_body_sized_by_the_same_options(capsys):
    args = "--arch hybrid --stride 3 --then transformer --d-model 64 --heads 4 --layers 2 --n 100"
    out = json.loads(run(args + " --json", capsys).stdout)
    spec = pc.Hybrid(3, pc.Transformer(64, 4, 256, 2))
    assert out["spec"] == repr(spec)
    assert out["forward_flops_by_component"] == pc.forward_flops_by_component(spec, 100, 1)
    assert out["activation_bytes"] == pc.activation_bytes(spec, 100, 1, torch.float16)
    assert (out["path_length_first_to_last"], out["sequential_steps"]) == (2, 3)
    assert out["decode_state_bytes"] is None and out["forward_bytes"]["unfused"] > 0
    default = json.loads(run("--arch hybrid --d-model 64 --n 100 --train --json", capsys).stdout)
    assert default["spec"] == repr(pc.Hybrid(4, pc.LSTM(64))) and default["training"]["total"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ("--arch hybrid --then hybrid --n 16", "invalid choice: 'hybrid'"),
        ("--arch hybrid --stride 0 --n 16", "stride must be an integer >= 1"),
        ("--arch transformer --heads 7 --n 16", "d_model must be divisible by heads"),
        ("--arch rnn --n 0", "n must be an integer >= 1"),
        ("--arch gru --n 16", "invalid choice: 'gru'"),
        ("--arch cnn --n 16 --kernel 4 --bidirectional", "kernel must be odd"),
        ("--arch rnn", "the following arguments are required: --n"),
        ("--arch rnn --n 16 --dtype int8", "invalid choice: 'int8'"),
        ("--arch transformer --heads 8 --kv-heads 3 --n 16", "kv_heads must divide heads"),
        ("--arch transformer --kv-heads 0 --n 16", "kv_heads must be an integer >= 1"),
        ("--arch rnn --n 16 --device tpu", "invalid choice: 'tpu'"),
        ("--arch linear-attention --heads 3 --n 16", "d_model must be divisible by heads"),
        ("--arch linear-attention --window 4 --n 16",
         "--window does not apply to linear-attention"),
        ("--arch linear-attention --kv-heads 2 --bidirectional --n 16",
         "--kv-heads, --bidirectional do not apply to linear-attention"),
        ("--arch linear-recurrence --bidirectional --n 16",
         "--bidirectional does not apply to linear-recurrence: it is always causal"),
        ("--arch linear-recurrence --window 4 --n 16",
         "--window does not apply to linear-recurrence: it has no attention"),
        ("--arch rnn --scan --n 16", "--scan applies to linear-recurrence only, not rnn"),
        ("--arch linear-attention --scan --n 16", "--scan applies to linear-recurrence only"),
        ("--arch hybrid --then linear-attention --n 16", "invalid choice: 'linear-attention'"),
        ("--arch linear-recurrence --layers 0 --n 16", "layers must be an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_arguments_give_one_line_and_exit_2(arguments, message, capsys):
    result = run(arguments, capsys)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_kv_heads_shrink_the_decode_state_and_json_carries_it(capsys):
    out = json.loads(run("--arch transformer --n 4096 --kv-heads 2 --json", capsys).stdout)
    spec = pc.Transformer(512, 8, 2048, 6, kv_heads=2)
    assert out["spec"] == repr(spec) and out["kv_heads"] == 2
    assert out["kv_cache_bytes"] == out["decode_state_bytes"] == 2 * 6 * 4096 * 128 * 2
    assert out["decode_state_bytes"] == pc.decode_state_bytes(spec, 4096, 1, torch.float16)
    assert out["decode_step_flops"] == pc.decode_step_flops(spec, 4096, 1)
    default = json.loads(run("--arch transformer --n 4096 --json", capsys).stdout)
    assert default["kv_heads"] == 8 and default["kv_cache_bytes"] == 4 * out["kv_cache_bytes"]


def test_decode_entries_apply_to_causal_specs_only(capsys):
    lstm = json.loads(run("--arch lstm --d-model 64 --layers 2 --n 100 --json", capsys).stdout)
    assert lstm["decode_state_bytes"] == pc.decode_state_bytes(pc.LSTM(64, 2), 100)
    assert lstm["decode_step_flops"] == pc.decode_step_flops(pc.LSTM(64, 2), 100)
    encoder = run("--arch transformer --n 64 --bidirectional", capsys).stdout
    lines = dict(line.split("  ", 1) for line in encoder.splitlines())
    assert lines["decode state, after n = 64 tokens"].strip() == "n/a"
    assert lines["decode FLOPs per token, after n = 64 cached"].strip() == "n/a"
    encoder = json.loads(run("--arch transformer --n 64 --bidirectional --json", capsys).stdout)
    assert encoder["decode_state_bytes"] is encoder["decode_step_flops"] is None


def test_d_ff_defaults_to_four_times_d_model(capsys):
    out = json.loads(run("--arch transformer --d-model 96 --heads 4 --n 8 --json", capsys).stdout)
    assert out["spec"] == repr(pc.Transformer(96, 4, 4 * 96, 6))
    assert "d_ff=384" in run("--arch transformer --d-model 96 --heads 4 --n 8", capsys).stdout


def test_unreachable_path_and_unbounded_field_are_named_apart(capsys):
    cnn = run("--arch cnn --d-model 8 --dilations 1 2 4 8 --n 64", capsys).stdout
    lines = dict(line.split("  ", 1) for line in cnn.splitlines())
    assert lines["path length L, first to last"].strip() == "unreachable"
    transformer = run("--arch transformer --d-model 64 --heads 4 --n 64", capsys).stdout
    lines = dict(line.split("  ", 1) for line in transformer.splitlines())
    assert lines["receptive field R"].strip() == "unbounded"
    assert "unbounded" not in cnn and "unreachable" not in transformer


def test_decode_traffic_in_both_counts(capsys):
    out = json.loads(run("--arch transformer --n 4096 --kv-heads 2 --json", capsys).stdout)
    spec, fp16 = pc.Transformer(512, 8, 2048, 6, kv_heads=2), torch.float16
    moved = pc.formulas.traffic.bytes_moved
    intensity = pc.formulas.traffic.arithmetic_intensity
    for count in ("unfused", "ideal"):
        assert out["decode_bytes"][count] == moved(spec, 4096, 1, fp16, "decode", count)
        assert out["forward_bytes"][count] == moved(spec, 4096, 1, fp16, "forward", count)
        assert out["decode_arithmetic_intensity"][count] == intensity(
            spec, 4096, 1, fp16, "decode", count
        )
    text = run("--arch transformer --n 4096 --kv-heads 2", capsys).stdout
    lines = dict(line.split("  ", 1) for line in text.splitlines())
    ideal = out["decode_bytes"]["ideal"]
    assert lines["decode bytes per token, ideal"].strip() == f"{ideal / 2**20:,.2f} MiB"
    assert "FLOP/byte" in lines["decode arithmetic intensity, unfused"]
    windowed = json.loads(run("--arch transformer --n 64 --window 8 --json", capsys).stdout)
    local = pc.Transformer(512, 8, 2048, 6, window=8)
    assert windowed["forward_bytes"]["unfused"] == moved(local, 64, 1, fp16, "forward")
    fused = json.loads(run("--arch transformer --n 64 --attention sdpa --json", capsys).stdout)
    assert fused["forward_bytes"]["unfused"] is fused["decode_bytes"]["unfused"] is None
    assert fused["decode_bytes"]["ideal"] == moved(
        pc.Transformer(512, 8, 2048, 6), 64, 1, fp16, "decode", "ideal"
    )
    text = run("--arch transformer --n 64 --attention sdpa", capsys).stdout
    lines = dict(line.split("  ", 1) for line in text.splitlines())
    assert lines["decode arithmetic intensity, unfused"].strip() == "n/a"


def test_device_prints_the_roofline_bounds(capsys):
    arguments = "--arch transformer --n 4096 --kv-heads 2 --device h100-sxm"
    result = run(arguments, capsys)
    assert result.returncode == 0, result.stderr
    lines = dict(line.strip().split("  ", 1) for line in result.stdout.splitlines())
    assert lines["roofline on h100-sxm, fp16"].strip() == "T >= max(F / P, B / W)"
    assert "memory-bound" in lines["one decode step, ideal bytes"]
    assert "compute-bound" in lines["forward pass, ideal bytes"]
    out = json.loads(run(arguments + " --json", capsys).stdout)
    h100 = pc.devices.DEVICES["h100-sxm"]
    peak, bandwidth = h100.peak_flops["fp16"], h100.bandwidth_bytes_per_s
    line = out["roofline"]
    assert (line["device"], line["dtype"]) == ("h100-sxm", "fp16")
    for step, flops, moved in [
        ("forward", out["forward_flops"], out["forward_bytes"]),
        ("decode_step", out["decode_step_flops"], out["decode_bytes"]),
    ]:
        assert line[step]["compute_s"] == flops / peak
        for count in ("unfused", "ideal"):
            bound = line[step][count]
            assert bound["memory_s"] == moved[count] / bandwidth
            assert bound["time_s"] == max(flops / peak, moved[count] / bandwidth)
            assert bound["bound"] == pc.devices.bound(flops, moved[count], h100)
    encoder = json.loads(run("--arch transformer --n 64 --bidirectional --device t4 --json",
                             capsys).stdout)  # fmt: skip
    assert encoder["roofline"]["decode_step"] is None
    assert encoder["decode_bytes"] is encoder["decode_arithmetic_intensity"] is None


def test_device_choices_come_from_the_devices_table():
    assert pc.cli.parser_choices("estimate", "--device") == [*pc.devices.DEVICES, "this"]


def test_devices_command_lists_the_table(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    head, *rows = out.split("\n\n")[0].splitlines()
    assert head.split()[:3] == ["name", "memory", "GB"] and "fp32 TFLOP/s" in head
    assert [row.split()[0] for row in rows] == list(pc.devices.DEVICES)
    h100 = next(row.split() for row in rows if row.startswith("h100-sxm"))
    assert h100[1:] == ["80.0", "3,350", "989.5", "989.5", "67.0"]
    for profile in pc.devices.DEVICES.values():
        assert profile.source in out


HELP_DEFAULTS = {
    "estimate": [
        "(default: 512)", "(default: 8)", "(default: 4 x --d-model)", "(default: --heads",
        "(default: 1 for rnn, lstm and linear-recurrence, 8 for cnn, 6 for transformer and "
        "linear-attention)", "(default: the loop, one state transfer per position)",
        "(default: fp16)",
        "(default: explicit)", "(default: 3)", "(default: 1)", "(default: full attention)",
        "(default: none)", "(default: all 1)", "(default: causal)", "(default: adam)",
        "(default: fp32)", "(default: off)", "(default: --device's memory, else none)",
        "(default: 4)", "(default: lstm)",
    ],
    "bench": [
        "(default: all)", "(default: 1)", "(default: forward)", "(default: 4.0)",
        "(default: quick on CPU, full on GPU)",
    ],
    "profile": [
        "(default: function)", "(default: none)", "(default: 8)", "(default: 1)",
        "(default: fp16)",
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(HELP_DEFAULTS))
def test_help_shows_every_default(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    for default in HELP_DEFAULTS[command]:
        assert default in text, default
    assert "(default: None)" not in text and "(default: False)" not in text


def test_device_this_uses_the_measured_profile(monkeypatch, capsys):
    measured = pc.devices.DeviceProfile("this", 2**30, 1e10, {"fp32": 1e11}, "measured here")
    monkeypatch.setattr(pc.devices, "device_profile", lambda name: measured)
    out = json.loads(run("--arch rnn --d-model 16 --n 8 --dtype fp32 --device this --json",
                         capsys).stdout)  # fmt: skip
    assert out["roofline"]["device"] == "this"
    assert out["roofline"]["forward"]["compute_s"] == pc.forward_flops(pc.RNN(16), 8) / 1e11
    out = json.loads(run("--arch rnn --d-model 16 --n 8 --dtype fp32 --device this --train --json",
                         capsys).stdout)["training"]  # fmt: skip
    assert out["budget_bytes"] == 2**30
    assert out["budget_source"] == "this device's memory (--device this)"


ARTICLE = (
    "--arch transformer --n 3000 --batch 4 --heads 12 --layers 12 --d-model 768 --dtype fp16 "
    "--train --precision mixed-fp16 --budget 16GB"
)
ARTICLE_SPEC = pc.Transformer(768, 12, 3072, 12)
TRAINING_FIELDS = ("params", "grads", "optimizer", "master", "activations", "transient", "total",
                   "phase")  # fmt: skip


def text_rows(stdout: str) -> dict:
    """The text report's rows, name to value, both stripped."""
    rows = (line.strip().split("  ", 1) for line in stdout.splitlines())
    return {name: value.strip() for name, value in rows}


@pytest.mark.parametrize(
    "extra, precision, checkpointing",
    [("", "mixed-fp16", False), ("--checkpointing", "mixed-fp16", True),
     ("--precision pure-fp16 --optimizer sgd", "pure-fp16", False)],
)  # fmt: skip
def test_train_json_carries_the_budget_numbers_exactly(extra, precision, checkpointing, capsys):
    out = json.loads(run(f"{ARTICLE} {extra} --json", capsys).stdout)["training"]
    optimizer = "sgd" if "sgd" in extra else "adam"
    settings = dict(precision=precision, optimizer=optimizer, checkpointing=checkpointing)
    memory = pc.training_memory(ARTICLE_SPEC, 3000, 4, **settings)
    assert {field: out[field] for field in TRAINING_FIELDS} == dataclasses.asdict(memory)
    assert out["settings"] == {**settings, "attention": "explicit", "lists": "cpu", "n": 3000,
                               "batch": 4}
    assert out["budget_bytes"] == 16 * 10**9 and out["budget_source"] == "from --budget"
    assert out["fits"] == (memory.total <= 16 * 10**9)
    assert out["margin_bytes"] == 16 * 10**9 - memory.total
    assert out["max_seq_len"] == pc.max_seq_len(ARTICLE_SPEC, 16 * 10**9, 4, **settings)
    assert out["max_batch"] == pc.max_batch(ARTICLE_SPEC, 3000, 16 * 10**9, **settings)


def test_train_text_says_whether_it_fits(capsys):
    over = text_rows(run(ARTICLE, capsys).stdout)  # mixed-fp16, no checkpointing: over 16 GB
    memory = pc.training_memory(ARTICLE_SPEC, 3000, 4, "mixed-fp16")
    assert over["params"] == f"{memory.params / 2**20:,.2f} MiB"
    assert over["total (modelled peak)"].startswith(f"{memory.total / 2**20:,.2f} MiB = ")
    assert over["peak phase"] == memory.phase
    assert over["budget"] == "16,000,000,000 bytes = 14.90 GiB, from --budget"
    assert over["fit"].startswith("does not fit, over by ")
    longest = pc.max_seq_len(ARTICLE_SPEC, 16 * 10**9, 4, "mixed-fp16")
    assert over["largest n at batch 4"] == f"{longest:,}" and longest < 3000
    checkpointed = text_rows(run(ARTICLE + " --checkpointing", capsys).stdout)
    assert checkpointed["fit"].startswith("fits, ") and "to spare" in checkpointed["fit"]
    widest = pc.max_batch(ARTICLE_SPEC, 3000, 16 * 10**9, "mixed-fp16", checkpointing=True)
    assert checkpointed["largest batch at n = 3,000"] == f"{widest:,}" and widest > 4


def test_train_budget_from_the_device_or_none(capsys):
    arguments = "--arch rnn --d-model 64 --n 100 --train"
    bare = run(arguments, capsys)
    assert bare.returncode == 0 and "fit" not in text_rows(bare.stdout)
    assert text_rows(bare.stdout)["budget"].startswith("none given")
    assert json.loads(run(arguments + " --json", capsys).stdout)["training"]["fits"] is None
    device = json.loads(run(arguments + " --device a100-80gb --json", capsys).stdout)
    assert device["training"]["budget_bytes"] == pc.formulas.budget.budget_bytes("a100-80gb")
    assert device["roofline"]["device"] == "a100-80gb"
    assert device["training"]["budget_source"] == "a100-80gb's memory (--device a100-80gb)"
    both = json.loads(run(arguments + " --device a100-80gb --budget 1MiB --json", capsys).stdout)
    assert both["training"]["budget_bytes"] == 2**20 and both["roofline"]["device"] == "a100-80gb"
    tiny = run(arguments + " --budget 1kB", capsys)  # not even n = 1 fits: said, not an error
    assert tiny.returncode == 0, tiny.stderr
    rows = text_rows(tiny.stdout)
    assert rows["largest n at batch 1"] == "none (n = 1 does not fit)"
    assert rows["largest batch at n = 100"] == "none (batch = 1 does not fit)"
    out = json.loads(run(arguments + " --budget 1kB --json", capsys).stdout)["training"]
    assert out["fits"] is False and out["max_seq_len"] is out["max_batch"] is None


@pytest.mark.parametrize(
    "text, size",
    [("16GiB", 16 * 2**30), ("16 GiB", 16 * 2**30), ("16GB", 16 * 10**9), ("512MiB", 512 * 2**20),
     ("1.5GiB", 3 * 2**29), ("4096", 4096), ("7B", 7), ("2kB", 2000), ("2KB", 2000),
     ("1KiB", 1024), ("3TB", 3 * 10**12), ("1TiB", 2**40), ("2.5MB", 2_500_000)],
)  # fmt: skip
def test_sizes_are_parsed(text, size, capsys):
    assert pc.cli.parse_size(text) == size
    status = main(["estimate", "--arch", "rnn", "--n", "8", "--train", "--budget", text, "--json"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["training"]["budget_bytes"] == size


@pytest.mark.parametrize(
    "text", ["16 gigs", "-1GB", "0.5B", "GiB", "16gib", "0", "0GB", "1.5", "16  GiB", "1e9", ""]
)
def test_bad_sizes_give_one_line_and_exit_2(text, capsys):
    with pytest.raises(ValueError, match="invalid size"):
        pc.cli.parse_size(text)
    try:
        status = main(["estimate", "--arch", "rnn", "--n", "8", "--train", f"--budget={text}"])
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1
    assert f"invalid size {text!r}" in err and ("GiB" in err or "whole number" in err)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ("--train --optimizer adagrad", "invalid choice: 'adagrad' (choose from "
         + ", ".join(repr(name) for name in pc.registry.OPTIMIZERS)),
        ("--train --precision fp8", "invalid choice: 'fp8' (choose from "
         + ", ".join(repr(name) for name in pc.registry.PRECISIONS)),
        ("--budget 16GiB", "--budget needs --train"),
        ("--optimizer sgd", "--optimizer needs --train"),
        ("--precision pure-bf16", "--precision needs --train"),
        ("--checkpointing", "--checkpointing needs --train"),
        ("--precision fp32 --checkpointing", "--precision, --checkpointing need --train"),
        ("--train --budget -1GB", "argument --budget: expected one argument"),
    ],
)  # fmt: skip
def test_bad_training_arguments_give_one_line_and_exit_2(arguments, message, capsys):
    result = run("--arch rnn --n 8 " + arguments, capsys)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_training_choices_come_from_the_registry():
    assert pc.cli.parser_choices("estimate", "--optimizer") == list(pc.registry.OPTIMIZERS)
    assert pc.cli.parser_choices("estimate", "--precision") == list(pc.registry.PRECISIONS)


def test_a_device_without_a_sourced_peak_still_budgets_and_says_why_no_roofline(capsys):
    result = run("--arch transformer --n 512 --device a10g --train", capsys)
    assert result.returncode == 0, result.stderr
    lines = dict(line.strip().split("  ", 1) for line in result.stdout.splitlines())
    assert lines["roofline on a10g, fp16"].strip() == "no sourced fp16 peak FLOP/s (stated: none)"
    assert lines["one decode step, ideal bytes"].strip() == "n/a"
    out = json.loads(run("--arch transformer --n 512 --device a10g --train --json", capsys).stdout)
    assert out["training"]["budget_bytes"] == pc.devices.DEVICES["a10g"].memory_bytes
    t4 = run("--arch rnn --n 16 --device t4 --dtype bf16", capsys).stdout
    lines = dict(line.strip().split("  ", 1) for line in t4.splitlines())
    stated = "no sourced bf16 peak FLOP/s (stated: fp16, fp32)"
    assert lines["roofline on t4, bf16"].strip() == stated


def run_profile(arguments: list, capsys):
    """main(["profile", ...]) in this process: (exit status, stdout, stderr)."""
    try:
        status = main(["profile", *map(str, arguments)])
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(arguments, status, out, err)


ABC = next(path for path in pc.advisor.stdlib_files() if path.name == "abc.py")


def test_profile_json_carries_the_advisor_numbers_exactly(capsys):
    result = run_profile([ABC, "--boundaries", "64", "128", "--heads", "4", "--json"], capsys)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    lengths = pc.advisor.token_lengths([ABC]).values
    expected = pc.advisor.length_profile(lengths, boundaries=[64, 128], heads=4)
    assert out["lengths"] == json.loads(json.dumps(dataclasses.asdict(expected)))
    spans = pc.advisor.profiles.percentiles(pc.advisor.bracket_spans([ABC]).values)
    assert out["spans"] == dataclasses.asdict(spans)
    assert out["files"] == {str(ABC): "source"} and out["unit"] == "function"
    modules = json.loads(run_profile([ABC, "--unit", "module", "--json"], capsys).stdout)
    assert modules["lengths"]["count"] == 1
    assert modules["lengths"]["max"] == pc.advisor.token_lengths([ABC], "module").values[0]


def test_profile_of_a_lengths_file_and_of_text_by_hand(tmp_path, capsys):
    listed = tmp_path / "lengths.txt"
    listed.write_text("10\n20\n\n30\n40\n")
    out = json.loads(run_profile([listed, "--json"], capsys).stdout)
    lengths = out["lengths"]
    # nearest rank of 4 values: P50 is the 2nd, P90 and P99 the 4th
    assert (lengths["p50"], lengths["p90"], lengths["p99"], lengths["max"]) == (20, 40, 40, 40)
    assert lengths["padding"] == {"ends": [40], "padded_tokens": 160, "padding_tokens": 60,
                                  "waste": 60 / 160}  # fmt: skip
    assert lengths["attention_bytes"]["max"] == 8 * 40 * 40 * 2 and out["spans"] is None
    text = tmp_path / "notes.md"
    text.write_text("one two three\n\nfour five\n")
    rows = text_rows(run_profile([text, "--boundaries", "2", "4"], capsys).stdout)
    assert rows["files"] == "1: 1 text" and rows["sequences"] == "2"
    assert rows["length P50 / P90 / P99 / max"] == "2 / 3 / 3 / 3"
    assert rows["padding waste, buckets 2, 4"] == "16.67% (1 of 6 padded tokens)"  # 2->2, 3->4
    assert rows["at max, n = 3"] == f"{8 * 3 * 3 * 2} B"
    assert rows["bracket spans"] == "n/a (no Python source)"


def test_profile_text_report_of_a_stdlib_file(capsys):
    result = run_profile([ABC], capsys)
    assert result.returncode == 0, result.stderr
    rows = text_rows(result.stdout)
    profile = pc.advisor.length_profile(pc.advisor.token_lengths([ABC]).values)
    assert rows["sequences"] == f"{profile.count:,}"
    assert rows["skipped (did not tokenize or parse)"] == "none"
    assert rows["length P50 / P90 / P99 / max"] == " / ".join(
        f"{n:,}" for n in (profile.p50, profile.p90, profile.p99, profile.max)
    )
    assert rows[f"padding waste, all padded to {profile.max:,}"].startswith(
        f"{profile.padding.waste:.2%} ("
    )
    assert rows[f"at P90, n = {profile.p90:,}"].endswith("KiB")


def test_profile_pools_files_and_names_the_skipped(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text('def f():\n    return """never closed\n')
    out = json.loads(run_profile([ABC, broken, "--json"], capsys).stdout)
    assert out["skipped"] == {"lengths": [str(broken)], "spans": [str(broken)]}
    assert out["lengths"]["count"] == len(pc.advisor.token_lengths([ABC]).values)


def bad_profile_inputs(tmp_path) -> list:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.py").write_text("\n\n")
    (tmp_path / "data.bin").write_bytes(bytes(range(128, 256)))
    (tmp_path / "zero.txt").write_text("3\n0\n")
    (tmp_path / "flat.py").write_text("x = 1\n")
    (tmp_path / "broken.py").write_text('"""never closed\n')
    return [
        (["missing.txt"], "no such file"),
        (["."], "is a directory"),
        (["empty.txt"], "is empty"),
        (["blank.py"], "is empty"),
        (["data.bin"], "not UTF-8 text"),
        (["zero.txt"], "lengths[1] must be an integer >= 1, got 0"),
        (["flat.py"], "no sequences in the files"),
        (["broken.py"], "no sequences in the files"),
        ([str(ABC), "--boundaries", "128", "64"], "boundaries must be strictly increasing"),
        ([str(ABC), "--heads", "0"], "heads must be an integer >= 1"),
        ([str(ABC), "--unit", "class"], "invalid choice: 'class'"),
        ([], "the following arguments are required: FILE"),
    ]


def test_bad_profile_input_gives_one_line_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for arguments, message in bad_profile_inputs(tmp_path):
        result = run_profile(arguments, capsys)
        assert result.returncode == 2 and result.stdout == "", arguments
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_profile_unit_choices_come_from_the_corpus():
    assert pc.cli.parser_choices("profile", "--unit") == list(pc.advisor.corpus.UNITS)


def run_command(arguments: str, capsys):
    """main() on a whole command line: (exit status, stdout, stderr)."""
    try:
        status = main(arguments.split())
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(arguments, status, out, err)


RECOMMEND = "recommend --span-p90 1000 --n-p90 3000 --device t4 --batch 4 --d-model 768 --heads 12"


def test_recommend_prints_the_advisors_answer(capsys):
    result = run_command(RECOMMEND + " --dtype fp16 --latency-p95 200ms --json", capsys)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    chosen = pc.advisor.recommend(1000, 3000, device="t4", batch=4, d_model=768, heads=12,
                                  dtype="fp16", latency_p95_s=0.2)  # fmt: skip
    assert out["choice"] == chosen.choice and out["spec"] == repr(chosen.spec)
    assert out["quadrant"] == list(chosen.quadrant)
    assert [r["value"] for r in out["reasons"]] == [r.value for r in chosen.reasons]
    text = run_command(RECOMMEND + " --dtype fp16", capsys).stdout
    assert text.startswith(f"choice        {chosen.choice}: ")
    assert "what would change the answer" in text and "The whole training budget" in text


def test_recommend_passes_the_training_sequences_on(capsys):
    args = "recommend --span-p90 100 --n-p90 128 --device t4 --batch 8 --dtype fp16 --json"
    few = json.loads(run_command(args + " --train-samples 1000", capsys).stdout)
    chosen = pc.advisor.recommend(100, 128, device="t4", batch=8, dtype="fp16",
                                  train_samples=1000)  # fmt: skip
    assert few["choice"] == chosen.choice
    assert [r["value"] for r in few["reasons"]] == [r.value for r in chosen.reasons]
    assert any(r["chapter"] == "Capstone" for r in few["reasons"])


@pytest.mark.parametrize("text,seconds", [("200ms", 0.2), ("0.2s", 0.2), ("150us", 150e-6),
                                          ("2", 2.0), ("1e-3", 1e-3)])  # fmt: skip
def test_durations_are_parsed(text, seconds):
    assert pc.cli.parse_duration(text) == pytest.approx(seconds, rel=0, abs=1e-15)


@pytest.mark.parametrize(
    "extra,needle",
    [("--latency-p95 fast", "invalid duration"), ("--latency-p95 0ms", "invalid duration"),
     ("--span-p90 9000", "span_p90"), ("--device k80", "invalid choice"),
     ("--budget 16gigs", "invalid size"), ("--batch 0", "batch"),
     ("--train-samples 0", "train_samples"), ("--train-samples many", "invalid int")],
)  # fmt: skip
def test_recommend_bad_input_is_one_line_and_exit_2(extra, needle, capsys):
    result = run_command(f"{RECOMMEND} {extra}", capsys)
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_causal_hybrid_prints_no_decode_numbers(capsys):
    """A stride-1 Hybrid is causal, but no Decoder runs a Hybrid: decode rows are n/a."""
    out = json.loads(run("--arch hybrid --stride 1 --n 64 --json", capsys).stdout)
    assert out["decode_state_bytes"] is out["decode_step_flops"] is out["decode_bytes"] is None
    assert out["forward_flops"] == pc.forward_flops(pc.Hybrid(1, pc.LSTM(512, 1)), 64)


def test_linear_attention_takes_heads_and_d_ff_and_carries_its_numbers_exactly(capsys):
    args = "--arch linear-attention --d-model 64 --heads 4 --layers 2 --n 100 --batch 2"
    out = json.loads(run(args + " --json", capsys).stdout)
    spec, fp16 = pc.LinearAttention(64, 4, 256, 2), torch.float16
    assert out["spec"] == repr(spec)
    assert out["forward_flops_by_component"] == pc.forward_flops_by_component(spec, 100, 2)
    assert set(out["forward_flops_by_component"]) == {"qkv", "kv", "read", "out", "ffn"}
    assert out["params"] == pc.params(spec)
    assert out["activation_bytes"] == pc.activation_bytes(spec, 100, 2, fp16)
    assert out["decode_state_bytes"] == pc.decode_state_bytes(spec, 100, 2, fp16)
    assert out["decode_step_flops"] == pc.decode_step_flops(spec, 100, 2)
    assert out["kv_cache_bytes"] is out["attention_weights_bytes_per_layer"] is None
    assert out["kv_heads"] is out["attention_ffn_crossover_n"] is None
    moved = pc.formulas.traffic.bytes_moved
    for count in ("unfused", "ideal"):
        assert out["forward_bytes"][count] == moved(spec, 100, 2, fp16, "forward", count)
        assert out["decode_bytes"][count] == moved(spec, 100, 2, fp16, "decode", count)
    sized = json.loads(run(args + " --d-ff 96 --json", capsys).stdout)
    assert sized["spec"] == repr(pc.LinearAttention(64, 4, 96, 2))
    default = json.loads(run("--arch linear-attention --n 8 --json", capsys).stdout)
    assert default["spec"] == repr(pc.LinearAttention(512, 8, 2048, 6))
    # the state does not grow with n: the same bytes after 8 tokens as after 100
    assert json.loads(run(args + " --n 8 --json", capsys).stdout)["decode_state_bytes"] == (
        out["decode_state_bytes"]
    )


@pytest.mark.parametrize("scan", [False, True])
def test_linear_recurrence_takes_scan_and_carries_its_numbers_exactly(scan, capsys):
    args = f"--arch linear-recurrence --d-model 32 --layers 2 --n 100{' --scan' * scan}"
    out = json.loads(run(args + " --json", capsys).stdout)
    spec, fp16 = pc.LinearRecurrence(32, 2, scan=scan), torch.float16
    assert out["spec"] == repr(spec)
    assert out["sequential_steps"] == pc.sequential_steps(spec, 100)
    assert out["forward_flops_by_component"] == pc.forward_flops_by_component(spec, 100, 1)
    assert out["activation_bytes"] == pc.activation_bytes(spec, 100, 1, fp16)
    assert out["decode_state_bytes"] == pc.decode_state_bytes(spec, 100, 1, fp16) == 2 * 32 * 2
    assert out["decode_step_flops"] == pc.decode_step_flops(spec, 100, 1)
    moved = pc.formulas.traffic.bytes_moved
    assert out["forward_bytes"]["unfused"] == moved(spec, 100, 1, fp16, "forward")
    text = text_rows(run(args, capsys).stdout)
    assert text["decode state, after n = 100 tokens"] == "128 B"  # below a KiB: in bytes
    assert text["KV cache"] == "n/a"


@pytest.mark.parametrize(
    "arch, spec",
    [("linear-attention --heads 4", pc.LinearAttention(64, 4, 256, 2)),
     ("linear-recurrence --scan", pc.LinearRecurrence(64, 2, scan=True))],
)  # fmt: skip
def test_train_budgets_the_new_architectures_exactly(arch, spec, capsys):
    args = f"--arch {arch} --d-model 64 --layers 2 --n 512 --batch 2 --train --budget 1GiB"
    for extra, settings in [("", {}), (" --precision mixed-bf16 --checkpointing",
                                       {"precision": "mixed-bf16", "checkpointing": True})]:
        out = json.loads(run(args + extra + " --json", capsys).stdout)
        assert out["spec"] == repr(spec)
        memory = pc.training_memory(spec, 512, 2, **settings)
        assert {field: out["training"][field] for field in TRAINING_FIELDS} == (
            dataclasses.asdict(memory)
        )
        assert out["training"]["max_seq_len"] == pc.max_seq_len(spec, 2**30, 2, **settings)
