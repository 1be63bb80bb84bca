"""The chapters' exercises as nbgrader assignments: one instructor source notebook a chapter.

A chapter's Exercises section becomes a notebook that drops unchanged into an nbgrader
course's ``source/<assignment>/`` folder. The set-up cell, the chapter's imports and every
statement are locked; each solution lies between ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` in a solution cell (a function keeps its ``def`` line, so a student fills in the
body); each checker call becomes a locked autograded test, ``assert pc.exercises.check_...``,
worth the exercise's level in points, which fails when the checker reports a miss. Written
answers become manually graded cells of 0 points, kept for feedback, so the automatic score
is the whole score. An exercise's title carries its level as stars: ``{exercise} Title (★★)``.
"""

import ast
import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from .checks import require_choice

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
LEVELS = {1: "apply one formula or call", 2: "combine ideas, handle edge cases",
          3: "open-ended, several steps"}  # fmt: skip
BOOK_URL = "https://pathcost.github.io/pathcost/book/"  # _config.yml's html.baseurl + book/
_TITLE = re.compile(r"```\{exercise\} (?P<title>.+) \((?P<stars>★{1,3})\)$")
_CHECKER = re.compile(r"pc\.exercises\.(check_\w+)")
_ROLE = re.compile(r"\{(?P<role>[a-z:]+)\}`(?P<text>[^`]*)`")


@dataclass
class Exercise:
    """One exercise: where it is, its statement, and its solution's cells in order."""

    chapter: str
    label: str
    title: str
    level: int
    statement: str
    solution: list = field(default_factory=list)  # (cell_type, source, tags) triples

    @property
    def checkers(self) -> list[str]:
        """The pc.exercises checkers its solution calls as statements, in order."""
        codes = [source for kind, source, _ in self.solution if kind == "code"]
        return [_CHECKER.search(t)[1] for source in codes for t in split_solution(source)[1]]

    @property
    def points(self) -> int:
        """The automatic points, the exercise's level for each checker call."""
        return self.level * len(self.checkers)


def book_folder(book=None) -> Path:
    """The folder of the chapters' .md sources: `book` if given, else ./book, else the book of
    the clone this package is installed from (editable install), with _toc.yml beside it."""
    here = Path(__file__).resolve().parents[2] / "book"
    candidates = [Path(book)] if book is not None else [Path("book"), here]
    for folder in candidates:
        if (folder.resolve().parent / "_toc.yml").is_file():
            return folder.resolve()
    raise ValueError(f"book: no chapters with a _toc.yml beside them in {candidates[0]}; run "
                     "from a clone of the repository or give its book folder")  # fmt: skip


def chapters(book=None) -> list[str]:
    """The chapter stems in the order of the table of contents next to the book folder."""
    return list(parts(book))


def _read(book, chapter: str):
    require_choice("chapters", chapter, chapters(book))
    path = (Path(book) / f"{chapter}.md").resolve()
    return _parsed(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parsed(path: str, mtime_ns: int):
    import jupytext  # the chapters are MyST markdown; jupytext reads them as notebooks

    return jupytext.read(path)


def exercises(book=None, chapter: str | None = None) -> list[Exercise]:
    """The exercises of one chapter, or of every chapter in book order."""
    book = book_folder(book)
    if chapter is None:
        return [e for name in chapters(book) for e in exercises(book, name)]
    notebook = _read(book, chapter)
    found, current, in_solution = [], None, False
    for cell in notebook.cells[_exercises_start(notebook.cells):]:
        if cell.cell_type == "code":
            if in_solution:
                current.solution.append(("code", cell.source, cell.metadata.get("tags", [])))
            continue
        lines, prose = cell.source.splitlines(), []
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("```{exercise}"):
                end = lines.index("```", i)
                match = _TITLE.match(line)
                if match is None:
                    raise ValueError(f"{chapter}: exercise heading {line!r} needs 'Title (★..)'")
                body = [t for t in lines[i + 1 : end] if not t.startswith(":label:")]
                label = next(t for t in lines[i:end] if t.startswith(":label:")).split()[1]
                current = Exercise(chapter, label, match["title"], len(match["stars"]),
                                   "\n".join(body).strip())  # fmt: skip
                found.append(current)
                i = end + 1
            elif line.startswith("```{solution-start}") or line.startswith("```{solution-end}"):
                _flush(current, prose, in_solution)
                in_solution = line.startswith("```{solution-start}")
                i = lines.index("```", i + 1) + 1
            else:
                prose.append(line)
                i += 1
        _flush(current, prose, in_solution)
    return found


def _exercises_start(cells) -> int:
    starts = (i for i, c in enumerate(cells) if c.cell_type == "markdown"
              and "\n## Exercises" in "\n" + c.source)  # fmt: skip
    return next(starts, len(cells))  # no Exercises section: none


def _flush(current, prose: list, in_solution: bool) -> None:
    text = "\n".join(prose).strip()
    if text and in_solution:
        current.solution.append(("markdown", text, []))
    prose.clear()


def _targets(book) -> dict[str, str]:
    """Each label of the book -> the address of its anchor in the published book."""
    found = {}
    for path in sorted(Path(book).glob("*.md")):
        chapter, text = path.stem, path.read_text()
        for label in re.findall(r"^\((.+)\)=$", text, re.M):
            found[label] = f"{BOOK_URL}{chapter}.html#{label}"
        for label in re.findall(r"^:label: (eq-\S+)$", text, re.M):
            found[label] = f"{BOOK_URL}{chapter}.html#equation-{label}"
    return found


def plain_markdown(text: str, targets: dict[str, str]) -> str:
    """MyST roles as Jupyter renders them: links into the published book, code, plain words.

    {doc} and {ref} become links, {eq} a link to the equation, {term} its words, {func} and
    the other code roles inline code, and {glue:text}`name:fmt` the name in code (the
    solution's ``pc.book.show`` call prints its value).
    """

    def one(match) -> str:
        role, text = match["role"], match["text"]
        words, _, target = text.partition(" <")
        target = target.rstrip(">") or words
        if role == "doc":
            return f"[{words}]({BOOK_URL}{target}.html)"
        if role in ("ref", "eq") and target in targets:
            return f"[{words if role == 'ref' else '(' + target + ')'}]({targets[target]})"
        if role == "term":
            return words
        if role == "glue:text":
            return f"`{text.split(':')[0]}`"
        return f"`{words.lstrip('~')}`"

    return _ROLE.sub(one, text)


def split_solution(source: str) -> tuple[str, list[str]]:
    """A solution cell's code with its answer inside BEGIN/END SOLUTION, and its checker calls.

    A function keeps its ``def`` line and docstring outside the region, imports stay outside,
    and any other statements go inside; each ``pc.exercises.check_...(...)`` statement is
    taken out and returned as the source of an autograded ``assert``.
    """
    lines, out, tests, region = source.splitlines(), [], [], None
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"source must be Python code: {error}") from None
    done = 0

    def close() -> None:
        nonlocal region
        if region is not None:
            out.append(f"{region}{END}")
            region = None

    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        out.extend(lines[done : first - 1])  # blank lines and comments between statements
        text = lines[first - 1 : node.end_lineno]
        done = node.end_lineno
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and _CHECKER.fullmatch(ast.unparse(call.func)):
            close()
            tests.append(f"assert {ast.unparse(call)}, 'the checker above names the case missed'")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            close()
            out.extend(text)
        elif isinstance(node, ast.FunctionDef):
            close()
            body = node.body[1:] if ast.get_docstring(node) else node.body
            head = body[0].lineno - first
            indent = re.match(r"\s*", lines[body[0].lineno - 1]).group()
            out += text[:head] + [f"{indent}{BEGIN}"] + text[head:] + [f"{indent}{END}"]
        else:
            if region is None:
                region = ""
                out.append(BEGIN)
            out.extend(text)
    close()
    return "\n".join(out).rstrip(), tests


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=0) -> dict:
    meta = dict(grade=grade, solution=solution, locked=locked, grade_id=grade_id,
                schema_version=3)  # fmt: skip
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def notebook(chapter: str, book=None):
    """The instructor source notebook of one chapter's exercises (an nbformat notebook)."""
    book = book_folder(book)
    import nbformat

    source = _read(book, chapter)
    title = next(c for c in source.cells if c.cell_type == "markdown").source.splitlines()[0]
    targets = _targets(book)
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata))
    nb.metadata.pop("jupytext", None)
    cells = nb.cells

    def add(kind: str, text: str, **meta) -> None:
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cells.append(new(text, metadata=_nbgrader(**meta)))

    chapter_title = title.lstrip("# ")
    add("markdown", f"# Exercises: {chapter_title}\n\nFrom the chapter [{chapter_title}]"
        f"({BOOK_URL}{chapter}.html) of the pathcost book. Write each answer where it says "
        "YOUR CODE HERE (or YOUR ANSWER HERE), then run the cell below it: a checker names the "
        "first case it gets wrong.", grade_id=f"{chapter}-intro", locked=True)  # fmt: skip
    setup, *context = chapter_slice(chapter, book)
    add("code", setup, grade_id=f"{chapter}-setup", locked=True)
    if context:
        add("markdown", "The chapter's code that the exercises build on (run it first):",
            grade_id=f"{chapter}-context", locked=True)  # fmt: skip
    for k, code in enumerate(context):
        add("code", code, grade_id=f"{chapter}-context-{k}", locked=True)
    for number, exercise in enumerate(exercises(book, chapter), 1):
        stars = "★" * exercise.level
        add("markdown", f"## Exercise {number}. {exercise.title} ({stars})\n\n"
            + plain_markdown(exercise.statement, targets),
            grade_id=f"{exercise.label}-statement", locked=True)  # fmt: skip
        for part, (kind, text, _) in enumerate(exercise.solution):
            grade_id = f"{exercise.label}-{part}"
            if kind == "markdown":
                add("markdown", plain_markdown(text, targets), grade_id=grade_id, solution=True,
                    grade=True, points=0)  # fmt: skip
                continue
            code, tests = split_solution(text.replace("pc.book.glue(", "pc.book.show("))
            if code:
                add("code", code, grade_id=grade_id, solution=True)
            for k, test in enumerate(tests):
                add("code", test, grade_id=f"{grade_id}-check{k}", grade=True, locked=True,
                    points=exercise.level)  # fmt: skip
    return nb


def _binds(statement) -> set:
    """Names a statement binds at module level: into loops and branches, not into functions."""
    bound, pending = set(), [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            pending += [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, ast.stmt):
                    bound.update(n.id for n in ast.walk(child)
                                 if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return bound


def _binds_and_needs(sources) -> tuple[set, set]:
    """Names the code binds, and those it reads before binding them (statement by statement;
    a loop's or a with's own targets count as bound before its body reads them)."""
    bound, needed = set(), set()
    for source in sources:
        for statement in ast.parse(source).body:
            own = _binds(statement)
            simple = isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr)
            needed |= _free(statement) - bound - (set() if simple else own)
            bound |= own
    return bound, needed


def _free(node) -> set:
    """Names read in node and not bound in the function, lambda or comprehension reading them."""
    scopes = ast.FunctionDef | ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp
    if isinstance(node, scopes | ast.GeneratorExp):
        inner = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.arguments)]
        arguments = getattr(node, "args", None)
        local = {a.arg for a in ast.walk(arguments) if isinstance(a, ast.arg)} if isinstance(
            arguments, ast.arguments) else set()  # fmt: skip
        local |= {n.id for c in inner for n in ast.walk(c)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}  # fmt: skip
        return set().union(*map(_free, inner)) - local
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    return set().union(*map(_free, ast.iter_child_nodes(node)))


def chapter_slice(chapter: str, book=None) -> list[str]:
    """The chapter's code cells before its exercises that the exercises need, in order.

    A backward slice at cell granularity: walking back from the exercises, a cell is kept when
    it binds a name that a kept cell or a solution reads; the names it reads are then needed.
    The set-up cell (the first) is always kept.
    """
    book = book_folder(book)
    cells = _read(book, chapter).cells
    start = _exercises_start(cells)
    before = [c.source for c in cells[:start] if c.cell_type == "code"]
    needed = _binds_and_needs([c.source for c in cells[start:] if c.cell_type == "code"])[1]
    kept = []
    for source in reversed(before[1:]):
        bound, read = _binds_and_needs([source])
        if bound & needed:
            kept.append(source)
            needed = (needed - bound) | read
    return [before[0], *reversed(kept)]


def export(out, chapters_wanted=None, book=None) -> dict:
    """Write each chapter's source notebook to out/<chapter>.ipynb (by default every chapter
    with exercises); returns each path written with the chapter's exercises."""
    book = book_folder(book)
    import nbformat

    names = chapters_wanted or [c for c in chapters(book) if exercises(book, c)]
    found = {name: exercises(book, name) for name in names}
    empty = [name for name, listed in found.items() if not listed]
    if empty:
        raise ValueError(f"chapters: {', '.join(empty)} has no exercises")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, listed in found.items():
        path = folder / f"{name}.ipynb"
        nbformat.write(notebook(name, book), path)
        written[path] = listed
    return written


def summary(written: dict) -> str:
    """What ``python -m pathcost assignments`` prints: a line per notebook, then the total."""
    lines = []
    for path, listed in written.items():
        tests = sum(len(e.checkers) for e in listed)
        lines.append(f"{path}: {len(listed)} exercises, {tests} autograded test(s), "
                     f"{sum(e.points for e in listed)} points")  # fmt: skip
    total = sum(e.points for listed in written.values() for e in listed)
    return "\n".join([*lines, f"{len(written)} notebooks, {total} points in all"])


def parts(book=None) -> dict[str, str]:
    """Each chapter stem -> the caption of its part in the table of contents."""
    book = book_folder(book)
    import yaml

    toc = yaml.safe_load((book.parent / "_toc.yml").read_text())
    return {entry["file"].split("/")[-1]: part["caption"]
            for part in toc["parts"] for entry in part["chapters"]}  # fmt: skip


def kind(exercise: Exercise) -> str:
    """"autograded" (a checker call), "written" (prose only) or "computed" (code, no checker)."""
    if exercise.checkers:
        return "autograded"
    return "computed" if any(k == "code" for k, _, _ in exercise.solution) else "written"


def exercise_rows(book=None) -> list[dict]:
    """The instructors' table: every exercise with its part, chapter, level, kind and points,
    as MyST links for ``pc.book.table``."""
    book = book_folder(book)
    captions = parts(book)
    return [{"part": captions[e.chapter], "chapter": f"{{doc}}`{e.chapter}`",
             "exercise": f"{{ref}}`{e.title} <{e.label}>`", "level": "★" * e.level,
             "kind": kind(e), "points": e.points} for e in exercises(book)]  # fmt: skip


def level_counts(rows: list[dict]) -> list[dict]:
    """Exercises per part and level (★, ★★, ★★★) from ``exercise_rows``, with a total row."""
    levels = ["★" * level for level in LEVELS]
    parts_seen = list(dict.fromkeys(row["part"] for row in rows))

    def count(selected) -> dict:
        return {level: sum(row["level"] == level for row in selected) for level in levels}

    table = [{"part": p, **count([r for r in rows if r["part"] == p])} for p in parts_seen]
    return [*table, {"part": "all", **count(rows)}]
