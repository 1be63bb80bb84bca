"""Numbers and tables into prose: the one bridge from a chapter's code to its text."""


def glue(name: str, value) -> None:
    """Record `value` under `name` for ``{glue:text}`` roles in the built book.

    In the book build (myst-nb present) the value is stored and not shown; elsewhere, as on
    Colab, there is no build to fill the prose, so the value is printed beside its name.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        print(f"{name} = {value}")
        return
    myst_glue(name, value, display=False)


def table(rows: list[dict]):
    """A list of equal-keyed dicts as a Markdown table (infinity shown as ∞) for display."""
    from IPython.display import Markdown

    if not rows:
        raise ValueError("rows must hold at least one row")
    columns = list(rows[0])

    def cell(value) -> str:
        return "∞" if value == float("inf") else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return Markdown("\n".join(lines))
