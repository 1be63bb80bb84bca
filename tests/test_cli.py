"""The command line: both axes in human units, JSON for machines, one-line errors."""

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
    assert lines["attention > FFN from n ="].strip() == "2,049"


def test_recurrent_and_convolutional_estimates(capsys):
    lstm = json.loads(run("--arch lstm --d-model 64 --layers 2 --n 100 --json", capsys).stdout)
    assert lstm["sequential_steps"] == 101 and lstm["kv_cache_bytes"] is None
    cnn = json.loads(run("--arch cnn --d-model 8 --dilations 1 2 4 8 --n 64 --json", capsys).stdout)
    assert cnn["receptive_field"] == 31 and cnn["path_length_first_to_last"] == "inf"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ("--arch transformer --heads 7 --n 16", "d_model must be divisible by heads"),
        ("--arch rnn --n 0", "n must be an integer >= 1"),
        ("--arch gru --n 16", "invalid choice: 'gru'"),
        ("--arch cnn --n 16 --kernel 4 --bidirectional", "kernel must be odd"),
        ("--arch rnn", "the following arguments are required: --n"),
        ("--arch rnn --n 16 --dtype int8", "invalid choice: 'int8'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(arguments, message, capsys):
    result = run(arguments, capsys)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
