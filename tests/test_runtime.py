"""Device, run size and threads: the choices every chapter's first cell makes."""

import pytest
import torch

import pathcost as pc


def test_device_prefers_cuda_when_present():
    assert (pc.runtime.device().type == "cuda") == torch.cuda.is_available()


@pytest.mark.parametrize(
    "value, expected", [("quick", "quick"), ("FULL", "full"), (" full ", "full")]
)
def test_size_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("PATHCOST_SIZE", value)
    assert pc.runtime.size(torch.device("cpu")) == expected


def test_size_defaults_to_quick_on_cpu_and_full_on_cuda(monkeypatch):
    monkeypatch.delenv("PATHCOST_SIZE", raising=False)
    assert pc.runtime.size(torch.device("cpu")) == "quick"
    assert pc.runtime.size(torch.device("cuda")) == "full"


def test_bad_size_is_refused(monkeypatch):
    monkeypatch.setenv("PATHCOST_SIZE", "huge")
    with pytest.raises(ValueError, match="PATHCOST_SIZE"):
        pc.runtime.size()


def test_colab_without_gpu_is_told_how_to_switch(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "google.colab", object())
    monkeypatch.setattr(pc.runtime, "device", lambda: torch.device("cpu"))
    monkeypatch.delenv("PATHCOST_SIZE", raising=False)
    assert pc.runtime.setup() == (torch.device("cpu"), "quick")
    assert "Change runtime type" in capsys.readouterr().out


def test_threads_sets_the_count_inside_and_restores_it_after():
    before = torch.get_num_threads()
    with pc.runtime.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_threads_restores_the_count_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), pc.runtime.threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_threads_refuses_a_count_that_is_not_a_positive_integer(count):
    with pytest.raises(ValueError, match="count"):
        with pc.runtime.threads(count):
            pass


def test_threads_called_plainly_keeps_the_new_count():
    before = torch.get_num_threads()
    try:
        pc.runtime.threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
