"""The whole book builds from scratch with warnings as errors, every chapter executed in this run.

Alone, the build executes every chapter itself. Under `make test` it runs after nbval, with
``--book-cache DIR`` (tests/book_cache.py): it builds in DIR, whose execution cache holds the
outputs nbval produced for the chapters it ran cleanly in this same run, and executes only
the chapters nbval left to it.
"""

import warnings
from pathlib import Path

import yaml
from test_api_page import public_members, public_modules

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_with_warnings_as_errors_and_links_colab(book_build):
    # the build itself is tests/conftest.py's book_build, shared with tests/test_browser.py
    assert book_build.returncode == 0, book_build.log[-4000:]
    output = book_build.output
    book_cache = output if book_build.cached else None
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
