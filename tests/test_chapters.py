"""The chapters' promises: paired .md/.ipynb twins, no stored outputs, one first cell, one URL."""

from pathlib import Path

import jupytext
import pytest
import yaml
from jupytext.compare import NotebookDifference, compare_notebooks

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]
BOOK_URL = CONFIG["html"]["baseurl"]


def is_notebook(md: Path) -> bool:
    """A MyST markdown file with a jupytext header is a notebook; other .md files are pages."""
    return "jupytext:" in md.read_text().split("\n---", 1)[0]


CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if is_notebook(p))
IPYNBS = sorted((ROOT / "book").glob("*.ipynb"))


def first_code_cell(md: Path) -> tuple:
    """The first code cell's source and metadata (its input hidden behind one prompt line)."""
    cell = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
    return cell.source, cell.metadata


def test_every_table_of_contents_entry_is_a_file():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    missing = [entry for entry in entries if not (ROOT / f"{entry}.md").exists()]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_markdown_and_ipynb_twins_have_identical_inputs(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.relative_to(ROOT)} is missing: run jupytext --sync {md.name}"
    try:
        compare_notebooks(jupytext.read(ipynb), jupytext.read(md), fmt="md:myst")
    except NotebookDifference as difference:
        pytest.fail(f"{ipynb.relative_to(ROOT)} differs from {md.name}: {difference}")


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_committed_ipynb_has_a_twin_and_no_outputs(ipynb):
    assert ipynb.with_suffix(".md").exists(), f"{ipynb.name} has no .md twin"
    for index, cell in enumerate(jupytext.read(ipynb).cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{ipynb.name}: code cell {index} has stored outputs"
            assert cell.execution_count is None, f"{ipynb.name}: code cell {index} was executed"


def test_every_chapter_opens_with_the_same_first_cell():
    cells = {md.name: first_code_cell(md) for md in CHAPTERS}
    reference = cells[CHAPTERS[0].name]
    different = [name for name, cell in cells.items() if cell != reference]
    assert not different, f"first cell differs from {CHAPTERS[0].name} in {different}"
    source, metadata = reference
    assert f"git+{REPO_URL}" in source, "the first cell must install from _config.yml's repository"
    assert "pc.runtime.setup()" in source
    assert "hide-input" in metadata["tags"] and metadata["mystnb"]["code_prompt_show"]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_is_in_the_table_of_contents(md):
    toc = (ROOT / "_toc.yml").read_text()
    entries = {f"file: book/{md.stem}\n", f"root: book/{md.stem}\n"}
    assert any(e in toc for e in entries), f"{md.name} is not in _toc.yml, so it is never built"


def test_repository_and_book_address_agree_everywhere():
    pyproject = (ROOT / "pyproject.toml").read_text()
    readme = (ROOT / "README.md").read_text()
    assert f'Repository = "{REPO_URL}"' in pyproject
    assert f'Book = "{BOOK_URL}"' in pyproject
    assert REPO_URL in readme and BOOK_URL in readme


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_code_lines_fit_the_page_without_scrolling(md):
    long = [(i, line) for cell in jupytext.read(md).cells if cell.cell_type == "code"
            for i, line in enumerate(cell.source.splitlines()) if len(line) > 88]  # fmt: skip
    assert long == [], f"{md.name}: code lines over 88 characters"


@pytest.mark.parametrize("md", [m for m in CHAPTERS if "\n## Exercises\n" in m.read_text()],
                         ids=lambda p: p.name)  # fmt: skip
def test_takeaways_come_right_before_the_exercises(md):
    headings = [line for line in md.read_text().splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Takeaways", "## Exercises"]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_a_name_and_alt_text(md):
    for cell in jupytext.read(md).cells:
        settings = cell.metadata.get("mystnb", {})
        if "figure" in settings:
            assert settings["figure"].get("caption") and settings["figure"].get("name")
            assert settings.get("image", {}).get("alt"), settings["figure"]["name"]
