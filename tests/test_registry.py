"""The registry, walked: every architecture has every piece a reader meets, or a test fails.

A new architecture is an entry in ``registry.ARCHITECTURES`` (CONTRIBUTING.md, "How to add
an architecture"); this file names what it must bring: formulas on both axes that agree
with their measured twins on a real module, a CLI name, a benchmark workload, a colour and
a label.
"""

import re

import pytest
import torch

import pathcost as pc
from pathcost.registry import ARCHITECTURES

ENTRIES = list(ARCHITECTURES.items())
N = 6


@pytest.fixture(params=ENTRIES, ids=[name for name, _ in ENTRIES])
def entry(request):
    return request.param


def test_the_example_is_a_spec_of_the_entry(entry):
    _, architecture = entry
    assert type(architecture.example(8, 2, 16, 1)) is architecture.spec


def test_axis_1_formulas_agree_with_the_measured_module(entry):
    spec = entry[1].example(8, 2, 16, 1)
    assert pc.measure.path_length(spec, N, 0, N - 1) == pc.path_length(spec, N - 1)
    assert pc.measure.sequential_steps(spec, N) == pc.sequential_steps(spec, N)
    assert pc.receptive_field(spec) >= 1


def test_axis_2_formulas_agree_with_the_measured_module(entry):
    spec = entry[1].example(8, 2, 16, 1)
    module, x = pc.build(spec), torch.randn(2, N, spec.d_model)
    assert pc.measure.flops(module, x) == pc.forward_flops(spec, N, batch=2)
    assert sum(p.numel() for p in module.parameters()) == pc.params(spec)
    assert pc.measure.saved_bytes(module, x) == pc.activation_bytes(spec, N, batch=2)


def test_the_model_maps_batch_n_d_to_batch_n_d(entry):
    spec = entry[1].example(8, 2, 16, 1)
    assert pc.build(spec)(torch.randn(2, N, spec.d_model)).shape == (2, N, spec.d_model)


def test_the_command_line_and_the_benchmark_know_the_name(entry):
    name, architecture = entry
    assert name in pc.cli.parser_choices("estimate", "--arch")
    assert name in pc.cli.parser_choices("bench", "--arch")
    assert type(pc.bench.workload("quick")[name]) is architecture.spec


def test_the_exercises_can_build_it_from_a_width_and_a_depth(entry):
    spec = entry[1].spec(d_model=8, layers=2)  # the exercises' checkers build specs this way
    assert spec.layers == 2


def test_colour_and_label(entry):
    _, architecture = entry
    spec = architecture.example(8, 2, 16, 1)
    assert re.fullmatch(r"#[0-9A-F]{6}", architecture.colour)
    assert pc.registry.colour(spec) == architecture.colour
    assert pc.registry.label(spec).startswith(architecture.title)


def test_colours_and_titles_are_one_per_architecture():
    colours = [a.colour for _, a in ENTRIES]
    titles = [a.title for _, a in ENTRIES]
    assert len(set(colours)) == len(colours) and len(set(titles)) == len(titles)


def test_a_class_outside_the_registry_is_refused_with_the_names_it_knows():
    class Mamba:
        d_model = 8

    with pytest.raises(ValueError, match="spec must be one of RNN, LSTM, CNN, Transformer"):
        pc.registry.label(Mamba())


@pytest.mark.parametrize("name, dtype", pc.registry.DTYPES.items())
def test_dtype_names_go_both_ways(name, dtype):
    assert pc.registry.dtype(name) is dtype and pc.registry.dtype_name(dtype) == name


def test_an_unknown_dtype_name_is_refused():
    with pytest.raises(ValueError, match="dtype must be one of 'fp16'"):
        pc.registry.dtype("fp8")
