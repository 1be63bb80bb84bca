"""The API page is generated from the package: every public module is on it, every public
function and class has the docstring autodoc needs to show it. The built page itself is
checked in ``test_book_build.py``."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import pathcost

ROOT = Path(__file__).resolve().parents[1]
API = (ROOT / "book" / "api.md").read_text()


def public_modules() -> list[str]:
    """Every module of the package that defines code a reader may call (no __main__, no _x)."""
    names = []
    for info in pkgutil.walk_packages(pathcost.__path__, "pathcost."):
        if info.ispkg or any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return names


def public_members(module_name: str) -> list[str]:
    """Functions and classes a module defines itself, by name, that do not start with _."""
    module = importlib.import_module(module_name)
    return [
        name
        for name, member in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(member) or inspect.isclass(member))
        and member.__module__ == module_name
    ]


MODULES = public_modules()


def test_the_walk_finds_the_packages_layers():
    for expected in ("pathcost.formulas.paths", "pathcost.measure.steps", "pathcost.plots.style"):
        assert expected in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_every_public_module_is_documented_with_all_its_members(name):
    directive = re.search(rf"\.\. automodule:: {re.escape(name)}\n   :members:\n", API)
    assert directive, f"book/api.md has no '.. automodule:: {name}' with :members:"


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_and_class_has_a_docstring(name):
    module = importlib.import_module(name)
    missing = [m for m in public_members(name) if not getattr(module, m).__doc__]
    assert not missing, f"{name}: autodoc leaves out members without a docstring: {missing}"
