"""A real corpus with no download: the standard library's own source, and the reader's files.

Lengths are token counts (``tokenize``) of whole modules or of each function (``ast`` gives
the boundaries); spans are the distances, in tokens, from each opening bracket ( [ { to the
one that closes it, the dependency a model must carry from one to the other. The same
functions take any Python files; ``line_lengths`` and ``listed_lengths`` read text.

A token here is what ``tokenize`` yields for names, numbers, strings and operators: not
comments, line ends, indentation, or the encoding and end markers.
"""

import ast
import io
import os
import re
import sysconfig
import tokenize
from bisect import bisect_left
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..checks import require_choice, require_positive

UNITS = ("function", "module")  # what one sequence is in token_lengths
_LAYOUT = {tokenize.ENCODING, tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE,
           tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT}  # fmt: skip
_PAIRS = {")": "(", "]": "[", "}": "{"}
_LEFT_OUT = {"site-packages", "dist-packages", "__pycache__"}  # folders stdlib_files skips
_INTEGER = re.compile(r"[+-]?[0-9]+")  # a line of a lengths file, ASCII digits only
_SKIPPED = (SyntaxError, tokenize.TokenError, UnicodeDecodeError, ValueError, RecursionError)


@dataclass(frozen=True)
class CorpusSample:
    """Integers drawn from files: the values, how many files were read, which were skipped.

    skipped: the files that failed to tokenize (or, per function, to parse), as given.
    """

    values: tuple
    files: int
    skipped: tuple


def stdlib_files(limit: int | None = None) -> list[Path]:
    """The standard library's .py files, sorted by path, the first `limit` of them (None: all).

    From ``sysconfig.get_paths()["stdlib"]``, leaving out site-packages, dist-packages and
    __pycache__; the sorted order makes ``limit`` pick the same files on every run.
    """
    if limit is not None:
        require_positive(limit=limit)
    root, files = Path(sysconfig.get_paths()["stdlib"]), []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in _LEFT_OUT]  # not walked
        files += [Path(folder, name) for name in names if name.endswith(".py")]
    files.sort(key=lambda path: path.relative_to(root).as_posix())
    return files if limit is None else files[:limit]


def _paths(paths) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(path) for path in paths]
    if not paths:
        raise ValueError("paths must name at least one file, got none")
    for path in paths:
        if not path.is_file():
            reason = "is a directory" if path.is_dir() else "no such file"
            raise ValueError(f"paths: {path}: {reason}")
    return paths


def _read(path: Path) -> str | None:
    """The source text with universal newlines, decoded as its coding cookie says; None if it
    cannot be decoded (a file to skip), ValueError if it cannot be read."""
    try:
        with tokenize.open(path) as file:
            return file.read()
    except (SyntaxError, UnicodeDecodeError):
        return None
    except OSError as error:
        raise ValueError(f"paths: {path}: {error.strerror or error}") from None


def _tokens(source: str) -> list:
    """The significant tokens of source (not layout or comments), in order."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [token for token in tokens if token.type not in _LAYOUT]


def _character(lines: list[str], row: int, offset: int) -> tuple[int, int]:
    """(row, column in characters) of ast's (row, offset in UTF-8 bytes)."""
    line = lines[row - 1] if row <= len(lines) else ""
    if line.isascii():
        return row, offset
    return row, len(line.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))


def _function_lengths(source: str, tokens: list) -> list[int]:
    """Tokens of each def and async def, from `def` to its last token (nested ones counted
    in their own and in the enclosing function's length; decorators left out)."""
    tree, lines = ast.parse(source), source.split("\n")
    starts = [token.start for token in tokens]
    lengths = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = bisect_left(starts, _character(lines, node.lineno, node.col_offset))
            last = bisect_left(starts, _character(lines, node.end_lineno, node.end_col_offset))
            lengths.append(last - first)
    return lengths


def token_lengths(paths, unit: str = "function") -> CorpusSample:
    """Token counts n of each function (unit "function") or each file (unit "module").

    Derived in "Choosing a model". A file that fails to tokenize (or, per function, to
    parse) is skipped and named in ``skipped``; a function's count runs from `def` to its
    last token.
    """
    require_choice("unit", unit, UNITS)

    def lengths(source: str, tokens: list) -> list[int]:
        return [len(tokens)] if unit == "module" else _function_lengths(source, tokens)

    return _sample(paths, lengths)


def _sample(paths, measure) -> CorpusSample:
    """measure(source, tokens) over the files, pooled; a file it fails on is skipped."""
    paths, values, skipped = _paths(paths), [], []
    for path in paths:
        source = _read(path)
        try:
            if source is None:
                raise SyntaxError("undecodable source")
            found = measure(source, _tokens(source))
        except _SKIPPED:
            skipped.append(str(path))
            continue
        values += [value for value in found if value > 0]
    return CorpusSample(tuple(values), len(paths), tuple(skipped))


def _spans(tokens: list) -> list[int]:
    """j - i for each opening bracket at token i closed at token j; ValueError if unmatched."""
    stack, spans = [], []
    for index, token in enumerate(tokens):
        if token.type != tokenize.OP:
            continue
        if token.string in "([{":
            stack.append((token.string, index))
        elif token.string in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[token.string]:
                raise ValueError(f"unmatched {token.string!r} at line {token.start[0]}")
            spans.append(index - stack.pop()[1])
    if stack:
        raise ValueError(f"unclosed {stack[-1][0]!r}")
    return spans


def bracket_spans(paths) -> CorpusSample:
    """Distances j - i in tokens from each ( [ { at token i to its match at token j.

    Derived in "Choosing a model". An empty pair () has span 1. A file that fails to
    tokenize, or whose brackets do not match, is skipped and named in ``skipped``.
    """
    return _sample(paths, lambda source, tokens: _spans(tokens))


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"paths: {path}: not UTF-8 text") from None
    except OSError as error:
        raise ValueError(f"paths: {path}: {error.strerror or error}") from None


def file_kind(path) -> str:
    """What a reader's file holds: "source" (.py), "lengths" (every non-blank line an
    integer), or "text" (anything else in UTF-8); ValueError if missing, unreadable or empty."""
    (path,) = _paths([path])
    text = _text(path) if path.suffix != ".py" else (_read(path) or "")
    if not text.strip():
        raise ValueError(f"paths: {path}: is empty")
    if path.suffix == ".py":
        return "source"
    lines = [line for line in text.splitlines() if line.strip()]
    return "lengths" if all(_INTEGER.fullmatch(line.strip()) for line in lines) else "text"


def file_lengths(paths, unit: str = "function") -> tuple[CorpusSample, dict]:
    """Lengths pooled over a reader's files, each read by its ``file_kind``, and the kinds.

    source: ``token_lengths`` (by unit); lengths: ``listed_lengths``; text: ``line_lengths``,
    one sequence per non-blank line. Skipped are the source files that failed to tokenize.
    """
    require_choice("unit", unit, UNITS)
    paths = _paths(paths)
    kinds = {str(path): file_kind(path) for path in paths}
    read = {"source": partial(token_lengths, unit=unit), "lengths": listed_lengths,
            "text": line_lengths}  # fmt: skip
    values, skipped = [], []
    for path in paths:
        sample = read[kinds[str(path)]]([path])
        values += sample.values
        skipped += sample.skipped
    return CorpusSample(tuple(values), len(paths), tuple(skipped)), kinds


def listed_lengths(paths) -> CorpusSample:
    """The integers of files that hold one length per line (blank lines ignored).

    ValueError naming the file and line for a line that is not an integer; the values are
    returned as read (``length_profile`` refuses those below 1).
    """
    values, paths = [], _paths(paths)
    for path in paths:
        for number, line in enumerate(_text(path).splitlines(), 1):
            if not line.strip():
                continue
            if not _INTEGER.fullmatch(line.strip()):
                raise ValueError(f"paths: {path}, line {number}: not an integer: {line!r}")
            values.append(int(line))
    return CorpusSample(tuple(values), len(paths), ())


def line_lengths(paths) -> CorpusSample:
    """Words (whitespace-separated) of each non-blank line of text files: one sequence a line."""
    values, paths = [], _paths(paths)
    for path in paths:
        values += [len(line.split()) for line in _text(path).splitlines() if line.strip()]
    return CorpusSample(tuple(values), len(paths), ())
