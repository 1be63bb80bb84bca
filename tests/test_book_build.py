"""The whole book builds from scratch with warnings as errors, every chapter executed in this run.

Alone, the build executes every chapter itself. Under `make test` it runs after nbval, with
``--book-cache DIR`` (tests/book_cache.py): it builds in DIR, whose execution cache holds the
outputs nbval produced for the chapters it ran cleanly in this same run, and executes only
the chapters nbval left to it.
"""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from test_api_page import public_members, public_modules

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_with_warnings_as_errors_and_links_colab(tmp_path, request):
    book_cache = request.config.getoption("book_cache", default=None)
    if book_cache and (
        request.config.getoption("nbval", default=False)
        or request.config.getoption("nbval_lax", default=False)
    ):
        pytest.fail("with --book-cache, build in a second pytest session, after nbval's")
    output = Path(book_cache) if book_cache else tmp_path
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            "-W",
            "-n",
            "--keep-going",
            "--path-output",
            str(output),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    html = output / "_build" / "html"
    assert (html / "index.html").exists()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    colab = (
        f"https://colab.research.google.com/github/{repo}/blob/{branch}/book/routing_graphs.ipynb"
    )
    assert colab in (html / "book" / "routing_graphs.html").read_text()
    api = (html / "book" / "api.html").read_text()
    missing = [
        f"{module}.{member}"
        for module in public_modules()
        for member in public_members(module)
        if f'id="{module}.{member}"' not in api
    ]
    assert not missing, f"the built API page does not show {missing}"
    if book_cache:
        from jupyter_cache import get_cache

        records = get_cache(output / "_build" / ".jupyter_cache").list_cache_records()
        by_nbval = {
            Path(r.uri).resolve() for r in records if (r.data or {}).get("executed_by") == "nbval"
        }
        by_build = {Path(r.uri).resolve() for r in records} - by_nbval
        executed_twice = sorted(p.name for p in by_nbval & by_build)
        assert not executed_twice, f"the build did not find nbval's run of {executed_twice}"
        if by_build:
            warnings.warn(
                f"the build executed {sorted(p.name for p in by_build)} itself", stacklevel=1
            )
