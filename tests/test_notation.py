"""The notation and glossary pages, and the clash rules that keep one meaning per symbol.

The pages are generated from ``pathcost.notation``; these tests hold the committed pages to
the tables, the tables to the table of contents, the rules to hand-written right and wrong
uses, and every chapter and figure label to the rules.
"""

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from pathcost import notation

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = [TOC["root"]] + [c["file"] for part in TOC["parts"] for c in part["chapters"]]
CHAPTERS = notation.chapters(ROOT)
PLOTS = sorted((ROOT / "src" / "pathcost" / "plots").glob("*.py"))


def names(symbol: str) -> list[str]:
    """The symbols of one row, arguments dropped: "f(t), i(t)" -> ["f", "i"]."""
    return [re.sub(r"\(.*\)$", "", part.strip()) for part in symbol.split(",")]


# --- the pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("name,page", [("notation.md", notation.notation_page),
                                       ("glossary.md", notation.glossary_page)])  # fmt: skip
def test_the_committed_page_is_what_the_tables_generate(name, page):
    committed = (ROOT / "book" / name).read_text()
    assert committed == page(), f"book/{name} is stale: run python -m pathcost.notation"


def test_both_pages_are_in_the_reference_part_of_the_table_of_contents():
    reference = next(p for p in TOC["parts"] if p["caption"] == "Reference")
    files = [c["file"] for c in reference["chapters"]]
    assert {"book/notation", "book/glossary"} <= set(files), f"Reference holds only {files}"


def test_the_pages_follow_their_own_rules():
    for page in (notation.notation_page(), notation.glossary_page()):
        assert not notation.offences("page", notation.prose_lines(page))


def test_every_glossary_entry_is_a_term_line_then_its_indented_definition():
    body = notation.glossary_page().split("```{glossary}\n", 1)[1].split("\n```", 1)[0]
    entries = body.split("\n\n")
    assert len(entries) == len(notation.TERMS)
    for entry in entries:
        term, *definition = entry.split("\n")
        assert term and not term.startswith(" ") and definition, entry
        assert all(line.startswith("   ") for line in definition), entry


# --- the tables -----------------------------------------------------------------------------


def test_one_symbol_one_row():
    written = [name for s in notation.SYMBOLS for name in s.symbol.split(", ")]
    repeated = sorted({name for name in written if written.count(name) > 1})
    assert not repeated, f"symbols with two rows: {repeated}"


def test_one_entry_per_term_case_blind_as_sphinx_resolves_them():
    terms = [t.term.lower() for t in notation.TERMS]
    assert len(terms) == len(set(terms))


def test_every_definition_fits_in_three_lines():
    long = [t.term for t in notation.TERMS if len(textwrap.wrap(t.definition, 92)) > 3]
    assert not long, f"definitions over three lines: {long}"


REQUIRED_TERMS = (
    "computation graph", "token", "unroll", "hidden state", "kernel", "attention window",
    "state transfer", "input projection", "Jacobian", "autograd", "dilation", "heads",
    "d_model", "critical path", "receptive field", "path length", "sequential steps",
    "sigmoid", "elementwise product", "residual connection", "softmax", "Frobenius norm",
    "spectral radius", "positional encoding", "FLOP", "roofline", "KV cache", "autocast",
    "checkpointing", "span", "P90",
)


def test_the_glossary_holds_the_terms_a_beginner_asked_for():
    terms = {t.term for t in notation.TERMS}
    assert not [t for t in REQUIRED_TERMS if t not in terms]


@pytest.mark.parametrize("row", notation.SYMBOLS + notation.TERMS,
                         ids=lambda r: getattr(r, "symbol", getattr(r, "term", "")))  # fmt: skip
def test_every_row_names_a_chapter_of_the_table_of_contents(row):
    assert f"book/{row.chapter}" in TOC_FILES, f"{row.chapter} is not in _toc.yml"
    anchor = getattr(row, "anchor", None)
    if anchor:
        text = (ROOT / "book" / f"{row.chapter}.md").read_text()
        assert f"({anchor})=" in text, f"{row.chapter} has no target ({anchor})="


def test_every_clash_names_a_symbol_that_keeps_a_meaning_in_the_table():
    kept = {name for s in notation.SYMBOLS for name in names(s.symbol)}
    assert not [c.symbol for c in notation.CLASHES if c.symbol not in kept]


# --- the rules, against hand-written uses ---------------------------------------------------

WRONG = [  # (symbol, a use in the meaning it lost): each must be caught
    ("k", "a dependency k steps back is learned through a product of k factors"),
    ("k", "the measured norm is ρᵏ to rounding error"),
    ("k", r"\frac{\partial h_t}{\partial h_{t-k}} = W^k"),
    ("k", "at k = 200 the tanh RNN keeps almost nothing of its k = 0 gradient"),
    ("k", "for large k the bias grows like ln(k / ln(1/ε))"),
    ("k", "both tiles of the k-th pair score the first k key tiles"),
    ("d", "the distance d = |i - j| between two positions"),
    ("d", "windowed attention needs ⌈d / w⌉ hops"),
    ("d", r"L_{\text{RNN}}(d) = d"),
    ("d", "one layer of dilation d widens the field by (k - 1) d"),
    ("d", r"R = 1 + (k - 1) \sum_{l=1}^{D} d_l"),
    ("d", "The span d is the distance from the marked letter back to the query"),
    ("L", "A stack of L convolutions with kernel width k reads"),
    ("L", r"R = 1 + (k - 1)\,(2^L - 1)"),
    ("L", "a recurrence with L layers has a critical path of n + L − 1 steps"),
    ("L", "the two products ∂L/∂X and ∂L/∂W"),
    ("s", "the label is decided by the token exactly s positions back"),
    ("s", "a sequence of n = s + 1 tokens"),
    ("s", "N couples pairs of coordinates with strength s"),
    ("R", "and a convolution's *receptive field* R."),
    ("w", "With P parameters stored in w bytes each"),
    ("W", "A forward pass does W FLOPs, so T ≥ W / P"),
    ("W", "takes at least max(F / P, B / W) seconds"),
    ("W", "a banded kernel scores only W = w + 1 keys per query"),
    ("f", "If the gates hover around f, the fraction left is f^k"),
    ("f", "A bias of 0 gives f = σ(0), which halves the memory"),
    ("B", "the arithmetic intensity I = F / B"),
    ("P", "executes fewer products, P(n) pairs per head"),
    ("b", "h(t) = tanh(W_x x(t) + b + W_h h(t-1))"),
    ("K", "the sequence is cut into chunks of K steps"),
    ("T", "a loss computed from the last state h(T)"),
    ("N", "With N = 2000 held-out sequences, (N = 120)"),
    ("S", r"M = N b + S_{\text{opt}}"),
    ("r", "the article's rule with radius r = (k - 1) / 2"),
    ("V", "letters drawn uniformly from V = 8"),
    ("Q", "W = ρ Q from a seeded random orthogonal matrix Q"),
    ("I", "a torch module with U = I"),
    ("U", "h(t) = W h(t-1) + U x(t)"),
    ("F", "Write one recurrent layer as h(t) = F(h(t-1), x(t))"),
    ("a", "over D layers of a saved bytes each, D a + M_1"),
    ("ε", "Adam's moments are fragile (its ε = 10⁻⁸ rounds to 0)"),
    ("ℓ", "keep a running sum ℓ of exp(score − μ)"),
    ("G", "Splitting the batch over G devices"),
    ("t", r"\max(D M_a + t_f, D M_a + M_g + t_b)"),
    ("c", r"c = 2 \ \text{(causal)}, \quad c = 3"),
]

RIGHT = [  # uses in the table's meaning, or of another symbol: none may be caught
    "A causal stack of k = 3 convolutions needs 256 layers to reach 511 positions back.",
    r"R = 1 + (k - 1) \sum_{l=1}^{D} \delta_l, and 1 + (k - 1)(2^D - 1) with doubling",
    "a dependency Δ steps back is learned through a product of Δ factors, ρ^Δ",
    "a layer with d = 512, h = 8 heads of width d_k = 64 and f = d_ff = 2048",
    "the FFN costs 4 n d f FLOPs, so attention overtakes it when n > f",
    "a window of radius w = 256 keeps w + 1 keys per causal query, 2w + 1 both sides",
    "downsampling by a stride s merges every s positions into one token of s positions",
    "one layer's attention weights take B h n² b bytes; the KV cache is 2 D B n d b",
    "the time obeys T ≥ max(S · t_step, F / P), and the intensity is I = F / M_moved",
    "c(t) = f(t) ⊙ c(t-1) + i(t) ⊙ g(t), h(t) = o(t) ⊙ tanh(c(t))",
    "the decoder keeps bytes of K and V in float32, K and V in every layer",
    "the backward computes ∂ℓ/∂X and ∂ℓ/∂W, two products of the same size",
    "the span Δ is the distance back; L(Δ) = ⌈Δ / w⌉ hops",
    "h(t) = tanh(W_x x(t) + b_x + W_h h(t-1)), the forget bias b_f",
    "the legend gives the per-step factor r of a straight-line fit",
    "With N parameters stored in b bytes each it keeps N b of weights",
    "the scores Q Kᵀ / √d_k of all h heads, and A V",
    "S = n counts one step per position of a one-layer recurrence",
    "a copy task with C = 8 letters has chance 1 / C",
    "In their letters, s = n is the sequence length and h = d the width: 34 sbh + 5 as²b",
    "the article's 2 d_ff and the path length L = 1 of attention",
    "x1 reaches position 4 with L = 2 hops, and S = 2 sequential steps",
]


@pytest.mark.parametrize("symbol,text", WRONG, ids=[f"{s}: {t[:40]}" for s, t in WRONG])
def test_each_rule_catches_a_use_in_the_meaning_its_symbol_lost(symbol, text):
    caught = {o.clash.symbol for o in notation.offences("example", [(1, text)])}
    assert symbol in caught, f"{symbol!r} in {text!r} is not caught (caught: {caught})"


@pytest.mark.parametrize("text", RIGHT, ids=[t[:40] for t in RIGHT])
def test_no_rule_catches_a_use_in_the_tables_meaning(text):
    wrong = [(o.clash.symbol, o.clash.lost) for o in notation.offences("example", [(1, text)])]
    assert not wrong, f"{text!r} is flagged: {wrong}"


# --- what the scanner reads -----------------------------------------------------------------

CHAPTER = '''---
jupytext:
  formats: ipynb,md:myst
---

# Title with k steps back

Prose with `k steps back` in inline code and k = 3 outside it.

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: the caption
---
k = 5  # a comment
ax.set_title("a title")
```

```{math}
:label: eq-x
R = 1
```
'''


def test_prose_lines_reads_prose_math_captions_strings_and_comments_only():
    lines = dict(notation.prose_lines(CHAPTER))
    assert 3 not in lines  # the front matter
    assert "k steps back" not in lines[8] and "k = 3 outside it" in lines[8]  # inline code
    assert lines[14].strip() == "caption: the caption"
    assert lines[16] == "# a comment" and lines[17] == '"a title"'
    assert not [text for text in lines.values() if "k = 5" in text]  # code itself
    assert lines[22] == "R = 1" and 21 not in lines  # math, without its options


MODULE = '''"""Module docstring with k steps back."""


def draw(ax, label="distance k (steps back)"):
    """Function docstring with k steps back."""
    ax.annotate(
        f"truncation K = {3}",
        (0, 1),
    )
'''


def test_label_lines_reads_every_string_but_docstrings():
    lines = dict(notation.label_lines(MODULE))
    assert sorted(lines) == [4, 7]
    assert "steps back" in lines[4] and "truncation" in lines[7]


def test_first_uses_finds_a_term_where_it_starts_even_across_a_line_break():
    text = "# Heading with a path length\n\nNo term here.\nThe path\nlength L of a model.\n"
    assert notation.first_uses(text)["path length"] == 4  # not the heading, not line 5


# --- the book -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS + PLOTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_text_uses_a_symbol_in_a_meaning_the_table_does_not_give_it(path):
    text = path.read_text()
    lines = notation.prose_lines(text) if path.suffix == ".md" else notation.label_lines(text)
    found = notation.offences(str(path.relative_to(ROOT)), lines)
    report = "\n".join(f"{o.path}:{o.line}: {o.clash.symbol} as {o.clash.lost}, write "
                       f"{o.clash.instead}: {o.text}" for o in found)  # fmt: skip
    assert not found, f"{len(found)} uses of a symbol in a meaning it lost:\n{report}"


TERM_ROLE = re.compile(r"\{term\}`([^`<]*?)(?:\s*<([^>`]+)>)?`")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_term_link_names_a_glossary_entry(path):
    terms = {t.term.lower() for t in notation.TERMS}
    linked = [(target or shown).strip() for shown, target in TERM_ROLE.findall(path.read_text())]
    assert not [t for t in linked if t.lower() not in terms], f"{path.name} links unknown terms"


FORMULA_MODULES = sorted((ROOT / "src" / "pathcost" / "formulas").glob("*.py")) + [
    ROOT / "src" / "pathcost" / "devices.py"
]


@pytest.mark.parametrize("path", FORMULA_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_formula_docstring_uses_a_symbol_in_a_meaning_the_table_does_not_give_it(path):
    lines = notation.docstring_lines(path.read_text())
    assert lines, f"{path.name} has no docstrings to read"
    found = notation.offences(str(path.relative_to(ROOT)), lines)
    report = "\n".join(f"{o.path}:{o.line}: {o.clash.symbol} as {o.clash.lost}, write "
                       f"{o.clash.instead}: {o.text}" for o in found)  # fmt: skip
    assert not found, f"{len(found)} uses of a symbol in a meaning it lost:\n{report}"
