"""One book build per pytest session, shared by the tests that read it.

tests/test_book_build.py checks that the build succeeds with warnings as errors;
tests/test_browser.py reads the HTML it wrote in a headless browser. With ``--book-cache DIR``
(tests/book_cache.py; the second pytest session of `make test`) the book is built in DIR,
whose execution cache holds nbval's runs of the chapters; without it, in a temporary folder.
Either way it is built once, by whichever of the two tests asks first.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROWSER_SUMMARY = pytest.StashKey[dict]()  # tests/test_browser.py's numbers, printed at the end


@dataclass(frozen=True)
class BookBuild:
    """A finished `jupyter-book build --path-output output`: its exit status and log;
    `cached` when output is the --book-cache folder nbval filled."""

    output: Path
    returncode: int
    log: str
    cached: bool

    @property
    def html(self) -> Path:
        return self.output / "_build" / "html"


def pytest_addoption(parser):
    parser.addoption(
        "--book-html",
        metavar="DIR",
        default=None,
        help="tests/test_browser.py: read this built book (its _build/html) instead of building",
    )


@pytest.fixture(scope="session")
def book_build(request, tmp_path_factory) -> BookBuild:
    """The book built from scratch, -W -n --keep-going, once per session."""
    book_cache = request.config.getoption("book_cache", default=None)
    if book_cache and (
        request.config.getoption("nbval", default=False)
        or request.config.getoption("nbval_lax", default=False)
    ):
        pytest.fail("with --book-cache, build in a second pytest session, after nbval's")
    output = Path(book_cache) if book_cache else tmp_path_factory.mktemp("book")
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
    return BookBuild(output, result.returncode, result.stdout + result.stderr, bool(book_cache))


def pytest_terminal_summary(terminalreporter, config):
    summary = config.stash.get(BROWSER_SUMMARY, None)
    if not summary:
        return
    terminalreporter.write_sep("-", "browser")
    for key in ("pages_visited", "equations_typeset", "requests_seen", "requests_off_site"):
        terminalreporter.write_line(f"{key}: {summary.get(key)}")
    for path in summary.get("screenshots", []):
        terminalreporter.write_line(f"screenshot: {path}")
    if summary.get("summary_file"):
        terminalreporter.write_line(f"summary: {summary['summary_file']}")
