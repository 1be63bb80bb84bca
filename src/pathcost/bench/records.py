"""Benchmark records out and in: a list of ``Record`` as a .csv or .json file."""

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path

from .sweeps import Record

_FIELDS = [field.name for field in fields(Record)]
_INTS = {"n", "batch", "peak_bytes", "flops", "estimate_bytes"}
_FLOATS = {"median_s", "iqr_s", "flop_per_s"}


def save(records, path) -> None:
    """Write Records to a .csv or .json file (by its extension)."""
    path = Path(path)
    rows = [asdict(record) for record in records]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1))
    elif path.suffix == ".csv":
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f"path must end in .csv or .json, got {path.name!r}")


def load(path) -> list:
    """Read the Records that ``save`` wrote."""
    path = Path(path)
    if path.suffix == ".json":
        return [Record(**row) for row in json.loads(path.read_text())]
    if path.suffix != ".csv":
        raise ValueError(f"path must end in .csv or .json, got {path.name!r}")
    with path.open(newline="") as file:
        return [Record(**{k: _parse(k, v) for k, v in row.items()}) for row in csv.DictReader(file)]


def _parse(name: str, text: str):
    """A CSV cell back to its Record field's type: '' is None."""
    if text == "":
        return None
    return int(text) if name in _INTS else float(text) if name in _FLOATS else text
