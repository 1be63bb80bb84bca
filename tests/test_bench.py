"""Device and run size: the choice every chapter's first cell makes."""

import pytest
import torch

import pathcost as pc


def test_device_prefers_cuda_when_present():
    assert (pc.bench.device().type == "cuda") == torch.cuda.is_available()


@pytest.mark.parametrize(
    "value, expected", [("quick", "quick"), ("FULL", "full"), (" full ", "full")]
)
def test_size_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("PATHCOST_SIZE", value)
    assert pc.bench.size(torch.device("cpu")) == expected


def test_size_defaults_to_quick_on_cpu_and_full_on_cuda(monkeypatch):
    monkeypatch.delenv("PATHCOST_SIZE", raising=False)
    assert pc.bench.size(torch.device("cpu")) == "quick"
    assert pc.bench.size(torch.device("cuda")) == "full"


def test_bad_size_is_refused(monkeypatch):
    monkeypatch.setenv("PATHCOST_SIZE", "huge")
    with pytest.raises(ValueError, match="PATHCOST_SIZE"):
        pc.bench.size()


def test_colab_without_gpu_is_told_how_to_switch(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "google.colab", object())
    monkeypatch.setattr(pc.bench, "device", lambda: torch.device("cpu"))
    monkeypatch.delenv("PATHCOST_SIZE", raising=False)
    assert pc.bench.setup() == (torch.device("cpu"), "quick")
    assert "Change runtime type" in capsys.readouterr().out
