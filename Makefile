# The README's two commands: `make book` builds the book, `make test` runs every test.
# Both create .venv (pinned requirements + this package) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Committed chapter notebooks only (never anything under _build).
NOTEBOOKS := $(shell git ls-files 'book/*.ipynb')

.PHONY: book test clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build -W -n --keep-going .

# Each chapter is executed once. nbval runs it cell by cell, and tests/book_cache.py writes its
# outputs into the execution cache of a new, empty build folder; the book build (a second
# pytest session, after every notebook) builds there, so it executes only the chapters nbval
# did not run cleanly; tests/test_browser.py then reads that same build in headless Chromium
# (tests/conftest.py shares it). Both sessions always run; either failing fails `make test`.
test: $(STAMP)
	$(BIN)/ruff check src tests
	build=$$(mktemp -d) || exit 1; trap 'rm -rf "$$build"' EXIT; status=0; \
	$(BIN)/python -m pytest -p tests.book_cache --book-cache "$$build" -n 2 --dist loadfile \
	    --nbval-lax --ignore tests/test_book_build.py --ignore tests/test_browser.py \
	    tests $(NOTEBOOKS) || status=$$?; \
	$(BIN)/python -m pytest -p tests.book_cache --book-cache "$$build" \
	    tests/test_book_build.py tests/test_browser.py || status=$$?; \
	exit $$status

clean:
	rm -rf _build

# `make pdf` (not part of `make test`): the whole book as one PDF through LaTeX (xelatex), in
# _build/pdf/book.pdf. TeX comes from Debian's packages, installed with apt-get when one is
# missing (through sudo unless root). The chapters run again, in a build folder of their own
# (_build/pdf-build), with PATHCOST_VECTOR_FIGURES=1 (src/pathcost/plots/style.py): each
# figure comes as PDF, a vector the LaTeX build embeds, beside the PNG; `make book` and
# `make test` keep PNG only.
TEX_PACKAGES := texlive-xetex texlive-latex-recommended texlive-latex-extra \
    texlive-fonts-recommended texlive-fonts-extra latexmk xindy fonts-freefont-otf \
    fonts-dejavu-core lmodern tex-gyre poppler-utils
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
PDF_BUILD := _build/pdf-build

.PHONY: pdf
pdf: $(STAMP)
	test "$$(dpkg-query -W -f='$${db:Status-Status}\n' $(TEX_PACKAGES) 2>/dev/null | grep -cx installed)" \
	    = $(words $(TEX_PACKAGES)) || { $(SUDO) apt-get update && $(SUDO) env \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEX_PACKAGES); }
	PATHCOST_VECTOR_FIGURES=1 $(BIN)/jupyter-book build --builder pdflatex -W -n --keep-going \
	    --path-output $(PDF_BUILD) .
	mkdir -p _build/pdf
	cp $(PDF_BUILD)/_build/latex/book.pdf _build/pdf/book.pdf
	pdfinfo _build/pdf/book.pdf | grep -E '^(Pages|File size):'
