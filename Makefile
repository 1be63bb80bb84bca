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

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax tests $(NOTEBOOKS)

clean:
	rm -rf _build
