"""Numbers and tables into prose: the one bridge from a chapter's code to its text."""


def glue(**values) -> None:
    """Record each value under its name for ``{glue:text}`` roles: ``glue(R=5, L=2)``.

    In the book build (myst-nb present) the values are stored and not shown; elsewhere, as
    on Colab, there is no build to fill the prose, so each value is printed beside its name.
    """
    if not values:
        raise ValueError("glue needs at least one name=value")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        show(**values)
        return
    for name, value in values.items():
        myst_glue(name, value, display=False)


def show(**values) -> None:
    """Print each value beside its name: glue's stand-in where no book build reads them (as
    in an exported assignment, whose prose names the values)."""
    if not values:
        raise ValueError("show needs at least one name=value")
    for name, value in values.items():
        print(f"{name} = {value}")


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
