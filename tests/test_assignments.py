"""The exported assignments go through nbgrader itself: generated, then autograded.

One temporary course holds every chapter with exercises as one assignment, and a copy of it
grades the second student, so that the two autograde runs share the machine's cores. The
instructor's source notebooks are submitted as they are (the chapters' own solutions) and
the release notebooks untouched; nbgrader's gradebook must give the first full marks and the
second none.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pathcost import assignments, cli

if sys.version_info < (3, 11):  # nbgrader 0.9 needs Python 3.11; requirements.txt says so
    pytest.skip("nbgrader 0.9 needs Python >= 3.11", allow_module_level=True)
from nbgrader.api import Gradebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
ASSIGNMENT = "pathcost"
# Read from the chapters here, not through the package: the stars of each exercise heading
# and the checker calls of its solution.
HEADING = re.compile(r"^```\{exercise\} .+ \((★+)\)\n:label: (\S+)$", re.M)
SOLUTION = re.compile(r"```\{solution-start\} (\S+)\n.*?```\{solution-end\}", re.S)


def chapter_checkers() -> dict:
    """chapter -> {label: (level, number of checker calls in its solution)}."""
    found = {}
    for path in BOOK.glob("*.md"):
        text = path.read_text()
        levels = {label: len(stars) for stars, label in HEADING.findall(text)}
        for match in SOLUTION.finditer(text):
            calls = len(re.findall(r"^pc\.exercises\.check_\w+\(", match[0], re.M))
            found.setdefault(path.stem, {})[match[1]] = (levels[match[1]], calls)
    return {c: e for c, e in found.items() if any(calls for _, calls in e.values())}


def nbgrader(course: Path, *args: str) -> subprocess.Popen:
    """nbgrader started on the course, its log in course/nbgrader.log (no pipe to fill)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PATHCOST_SIZE": "quick"}  # fmt: skip
    with open(course / "nbgrader.log", "a") as log:
        return subprocess.Popen([sys.executable, "-m", "nbgrader", *args, ASSIGNMENT,
                                 f"--CourseDirectory.root={course}"], cwd=course, env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def finished(*runs: subprocess.Popen) -> None:
    for run in runs:
        run.wait()
    for run in runs:
        log = Path(run.args[-1].split("=", 1)[1]) / "nbgrader.log"
        assert run.returncode == 0, log.read_text()[-3000:]


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """student -> the course folder graded for that student; the two autograde at once."""
    root = tmp_path_factory.mktemp("course")
    source = root / "source" / ASSIGNMENT
    assert cli.main(["assignments", "--out", str(source), "--book", str(BOOK)]) == 0
    finished(nbgrader(root, "generate_assignment"))
    graded = {"instructor": root, "blank": tmp_path_factory.mktemp("copy") / "course"}
    shutil.copytree(root, graded["blank"])  # the same release and gradebook, another student
    for student, folder in (("instructor", source), ("blank", root / "release" / ASSIGNMENT)):
        target = graded[student] / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        for notebook in folder.glob("*.ipynb"):
            (target / notebook.name).write_bytes(notebook.read_bytes())
    finished(*(nbgrader(course, "autograde", "--create") for course in graded.values()))
    return graded


@pytest.fixture(scope="module")
def course(courses):
    return courses["instructor"]


def scores(course: Path, student: str) -> dict:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {nb.name: (nb.score, nb.max_score) for nb in submission.notebooks}


def test_every_chapter_with_a_checker_exercise_takes_part(course):
    exported = {p.stem for p in (course / "source" / ASSIGNMENT).glob("*.ipynb")}
    assert set(chapter_checkers()) <= exported
    assert set(scores(course, "instructor")) == exported


def test_the_instructor_solutions_get_full_marks(course):
    expected = {c: sum(level * calls for level, calls in e.values())
                for c, e in chapter_checkers().items()}  # fmt: skip
    got = scores(course, "instructor")
    assert {c: got[c] for c in expected} == {c: (p, p) for c, p in expected.items()}
    assert all(score == top for score, top in got.values())


def test_the_untouched_release_gets_zero(courses):
    got = scores(courses["blank"], "blank")
    assert all(score == 0 for score, _ in got.values())
    assert sum(top for _, top in got.values()) > 0


def test_the_instructor_solutions_run_without_errors(course):
    for path in (course / "autograded" / "instructor" / ASSIGNMENT).glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        errors = [(cell.metadata["nbgrader"]["grade_id"], out.ename) for cell in notebook.cells
                  for out in cell.get("outputs", []) if out.output_type == "error"]  # fmt: skip
        assert errors == [], path.name


def test_the_release_holds_no_solution_text(course):
    def lines(cells) -> set:
        return {line.strip() for cell in cells for line in cell.source.splitlines()}

    for path in (course / "source" / ASSIGNMENT).glob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        release = nbformat.read(course / "release" / ASSIGNMENT / path.name, as_version=4)
        assert not any("BEGIN SOLUTION" in cell.source for cell in release.cells)
        given = lines(c for c in cells if not c.metadata["nbgrader"]["solution"])
        for cell in (c for c in cells if c.metadata["nbgrader"]["solution"]):
            inside = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            answer = lines([nbformat.v4.new_markdown_cell(t) for t in inside or [cell.source]])
            leaked = {t for t in answer - given if len(t) > 12} & lines(release.cells)
            assert leaked == set(), path.name  # lines of the answer, not brackets or blanks


def test_statements_and_set_up_are_locked_and_tests_are_worth_the_level(course):
    levels = {label: level for e in chapter_checkers().values()
              for label, (level, _) in e.items()}  # fmt: skip
    for path in (course / "source" / ASSIGNMENT).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata["nbgrader"]
            if not meta["solution"]:
                assert meta["locked"], (path.name, cell.source[:60])
            if meta["grade"] and cell.cell_type == "code":
                assert cell.source.startswith("assert pc.exercises.check_")
                label = next(k for k in levels if meta["grade_id"].startswith(k + "-"))
                assert meta["points"] == levels[label]


def test_a_function_keeps_its_signature_and_the_checker_becomes_an_assert():
    code, tests = assignments.split_solution(
        'import math\n\n\ndef f(x):\n    """Doc."""\n    return math.isqrt(x)\n\n\n'
        "pc.exercises.check_max_seq_len(f)"
    )
    assert code.splitlines() == [
        "import math", "", "", "def f(x):", '    """Doc."""', "    ### BEGIN SOLUTION",
        "    return math.isqrt(x)", "    ### END SOLUTION",
    ]  # fmt: skip
    assert tests == [
        "assert pc.exercises.check_max_seq_len(f), 'the checker above names the case missed'"
    ]


def test_statements_outside_functions_are_one_solution_region():
    code, tests = assignments.split_solution("a = 1\nb = a + 1\nprint(b)")
    assert code == "### BEGIN SOLUTION\na = 1\nb = a + 1\nprint(b)\n### END SOLUTION"
    assert tests == []


def test_myst_roles_become_links_words_and_code():
    targets = {"mem-weights": "https://x/memory.html#mem-weights"}
    text = ("See {doc}`memory`, {ref}`the weights <mem-weights>`, a {term}`KV cache`, "
            "{func}`pathcost.formulas.costs.params` and {glue:text}`kv_mib:.0f` MiB.")  # fmt: skip
    assert assignments.plain_markdown(text, targets) == (
        f"See [memory]({assignments.BOOK_URL}memory.html), "
        "[the weights](https://x/memory.html#mem-weights), a KV cache, "
        "`pathcost.formulas.costs.params` and `kv_mib` MiB."
    )


def test_an_unknown_chapter_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["assignments", "--out", str(tmp_path), "--chapters", "nosuch",
                  "--book", str(BOOK)])  # fmt: skip
    assert stop.value.code == 2
    assert "chapters" in capsys.readouterr().err.strip().splitlines()[-1]
    with pytest.raises(SystemExit):
        cli.main(["assignments", "--out", str(tmp_path), "--chapters", "intro",
                  "--book", str(BOOK)])  # fmt: skip


def test_a_solution_that_is_not_python_is_refused_by_name():
    with pytest.raises(ValueError, match="source"):
        assignments.split_solution("def my_f(:\n    return 1")
