"""A pytest plugin: nbval's run of each chapter is the run the book build shows.

Without it, `make test` executes every chapter twice: cell by cell under nbval, then again in
the warnings-as-errors book build (myst-nb, ``execute_notebooks: cache``). With
``--book-cache DIR`` (and ``--nbval`` or ``--nbval-lax``), once nbval has run a chapter's last
cell, this plugin takes the outputs nbval collected, puts them into the chapter as the build
reads it from its ``.md``, and writes that into the jupyter-cache folder of
``jupyter-book build --path-output DIR`` (``DIR/_build/.jupyter_cache``). The build, run
afterwards in a second pytest session with the same ``--book-cache DIR``
(tests/test_book_build.py), finds those chapters in its cache and executes only the others.

What keeps this honest:

- DIR must be new or empty, so no output from an earlier run can be served.
- jupyter-cache matches a notebook by a hash of its code cells' sources and metadata and its
  kernelspec; the cached notebook is the build's own reading of the ``.md``
  (myst-nb's reader), so the key is the build's key, and the plugin checks that its code
  cells are, source for source, the cells nbval executed from the ``.ipynb`` twin.
- A chapter is cached only when every code cell ran and passed under nbval; a failing,
  skipped or timed-out cell, a cell slower than the build's ``execute: timeout``, an error
  output the build would not allow, a cell the build would skip (``skip-execution``), or a
  message nbval does not record (``clear_output``, ``update_display_data``, widgets) leaves
  the chapter to the build, which executes it and fails or passes on its own terms.

While it writes the cache, the plugin has nbval send cells with ``store_history=True``, as
nbclient does in the build: with nbval's own ``False``, IPython's ``;`` does not silence an
expression's value, and a chapter would show outputs in the book that the build never makes.
Empty cells get no execution count, as nbclient leaves them; the others are numbered 1, 2, ...
nbval merges each stream into its first occurrence, as the build does with
``nb_merge_streams: true``; without that setting nothing is cached.
"""

from __future__ import annotations

import copy
import json
import queue
import time
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LOSSY_MESSAGES = {"clear_output", "update_display_data"}  # and comm_* (widgets)
CACHED = "cached for the build"


def cache_folder(book_cache: str | Path) -> Path:
    """Where ``jupyter-book build --path-output book_cache`` keeps its execution cache."""
    return Path(book_cache) / "_build" / ".jupyter_cache"


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--book-cache",
        metavar="DIR",
        default=None,
        help="with --nbval(-lax): cache each chapter nbval ran cleanly for a later "
        "`jupyter-book build --path-output DIR`; tests/test_book_build.py builds there",
    )


def pytest_configure(config):
    book_cache = config.getoption("book_cache")
    if book_cache is None or not (config.option.nbval or config.option.nbval_lax):
        return
    if not hasattr(config, "workerinput"):  # the main process, before any xdist worker
        folder = Path(book_cache)
        if folder.exists() and any(folder.iterdir()):
            raise pytest.UsageError(f"--book-cache {folder} must be new or empty")
        from jupyter_cache import get_cache

        get_cache(cache_folder(folder)).list_cache_records()  # create the database once
    config.pluginmanager.register(BookCacheWriter(book_cache), "book-cache-writer")


class Chapter:
    """What nbval did with one chapter notebook so far."""

    def __init__(self, nbfile):
        self.nbfile = nbfile
        self.outputs: dict[int, list] = {}
        self.seconds = 0.0
        self.problem: str | None = None
        self.lossy: set[str] = set()
        kernel = nbfile.kernel

        def execute_cell_input(cell_input, allow_stdin=None):
            # nbval's own, except store_history=True, with which nbclient runs cells: IPython's
            # `;` silencing an expression, In/Out/_ and the execution count depend on it
            return kernel.kc.execute(
                cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
            )

        kernel.execute_cell_input = execute_cell_input
        # nbval drops the iopub messages it does not handle; watch for them
        read = nbfile.get_kernel_message

        def watched(*args, **kwargs):
            msg = read(*args, **kwargs)
            if msg["msg_type"] in LOSSY_MESSAGES or msg["msg_type"].startswith("comm"):
                self.lossy.add(msg["msg_type"])
            return msg

        nbfile.get_kernel_message = watched

    def spoil(self, problem: str) -> None:
        self.problem = self.problem or problem


class BookCacheWriter:
    def __init__(self, book_cache):
        self.folder = cache_folder(book_cache)
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        self.timeout = (config.get("execute") or {}).get("timeout", 30)  # jupyter-book's default
        sphinx = (config.get("sphinx") or {}).get("config") or {}
        self.merged_streams = sphinx.get("nb_merge_streams", False)
        self.chapters: dict[str, Chapter] = {}
        self.verdicts: dict[str, str] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        yield  # the first cell's setup starts the chapter's kernel
        from nbval.plugin import IPyNbCell

        if isinstance(item, IPyNbCell) and item.cell_num == 0 and item.parent.kernel:
            self.chapters[item.parent.nodeid] = Chapter(item.parent)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        chapter = self.chapters.get(getattr(item.parent, "nodeid", None))
        if chapter is None or not hasattr(item, "cell_num"):
            return
        report = outcome.get_result()
        if report.when == "call":
            chapter.seconds += report.duration
            if not report.passed or item.test_outputs is None:
                chapter.spoil(f"cell {item.cell_num} did not pass under nbval")
            elif report.duration > self.timeout:
                chapter.spoil(f"cell {item.cell_num} ran longer than the build's timeout")
            else:
                chapter.outputs[item.cell_num] = copy.deepcopy(item.test_outputs)
        elif not report.passed:
            chapter.spoil(f"cell {item.cell_num}: {report.when} did not pass")
        last = sum(c.cell_type == "code" for c in item.parent.nb.cells) - 1
        if item.cell_num == last and (
            report.when == "call" or report.when == "setup" and not report.passed
        ):
            # the chapter's last cell has run, or cannot run: cache it now or never
            self.chapters.pop(item.parent.nodeid)
            report.user_properties.append(("book_cache", self._finish(chapter)))

    def _finish(self, chapter: Chapter) -> str:
        try:
            return self._write(chapter)
        except Exception as error:  # never let the shortcut break the test run
            return f"not cached ({type(error).__name__}: {error})"

    def _write(self, chapter: Chapter) -> str:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn
        from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

        if chapter.lossy:
            chapter.spoil("nbval did not record " + ", ".join(sorted(chapter.lossy)))
        if not self.merged_streams:
            chapter.spoil("nbval merges streams, the build (nb_merge_streams: false) does not")
        if chapter.problem:
            return "not cached: " + chapter.problem
        ipynb = Path(chapter.nbfile.path).resolve()
        md = ipynb.with_suffix(".md")
        text = md.read_text(encoding="utf8") if md.exists() else ""
        if not is_myst_markdown_notebook(text):
            return f"not cached: {md.name} is not a MyST notebook the build reads"
        # the notebook exactly as the build reads it: the cache key is computed from this
        nb = read_myst_markdown_notebook(text, add_source_map=True, path=str(md))
        cells = [c for c in nb.cells if c.cell_type == "code"]
        ran = [c.source for c in chapter.nbfile.nb.cells if c.cell_type == "code"]
        if [c.source for c in cells] != ran or len(chapter.outputs) != len(cells):
            return f"not cached: {md.name}'s code cells are not the cells nbval ran"
        count = 0
        for index, cell in enumerate(cells):
            tags = cell.metadata.get("tags", [])
            outputs = [nbformat.from_dict(dict(out)) for out in chapter.outputs[index]]
            if "skip-execution" in tags:
                return f"not cached: cell {index} is tagged skip-execution"
            errors = any(out.output_type == "error" for out in outputs)
            if errors and "raises-exception" not in tags:
                return f"not cached: cell {index} raised, and the build allows no error"
            if not cell.source.strip():  # nbclient does not run an empty cell
                cell.outputs, cell.execution_count = [], None
                continue
            count += 1
            for out in outputs:
                if out.output_type == "execute_result":
                    out.execution_count = count
            cell.outputs, cell.execution_count = outputs, count
        nb.metadata["language_info"] = self._language_info(chapter.nbfile)
        get_cache(self.folder).cache_notebook_bundle(
            CacheBundleIn(
                nb,
                str(md),
                data={"executed_by": "nbval", "execution_seconds": chapter.seconds},
            ),
            check_validity=False,  # empty cells have no count, as nbclient leaves them
        )
        return CACHED

    @staticmethod
    def _language_info(nbfile) -> dict:
        """The running kernel's language_info, which nbclient would store (code highlighting)."""
        client = nbfile.kernel.kc
        msg_id = client.kernel_info()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                msg = client.get_shell_msg(timeout=5)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]["language_info"]
        raise TimeoutError("no kernel_info reply")

    # -- the verdicts, gathered in the main process (xdist workers send their reports) --

    def pytest_runtest_logreport(self, report):
        for name, value in report.user_properties:
            if name == "book_cache":
                self.verdicts[report.nodeid.split("::")[0]] = value

    def pytest_terminal_summary(self, terminalreporter):
        if not self.verdicts:
            return
        cached = sorted(k for k, v in self.verdicts.items() if v == CACHED)
        terminalreporter.write_sep("-", "book cache")
        terminalreporter.write_line(
            f"{len(cached)} chapter(s) {CACHED} in {self.folder}: "
            + json.dumps([Path(k).stem for k in cached])
        )
        for key, verdict in sorted(self.verdicts.items()):
            if verdict != CACHED:
                terminalreporter.write_line(f"{key}: {verdict}; the build executes it")
