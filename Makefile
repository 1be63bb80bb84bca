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
# did not run cleanly. Both sessions always run; either failing fails `make test`.
test: $(STAMP)
	$(BIN)/ruff check src tests
	build=$$(mktemp -d) || exit 1; trap 'rm -rf "$$build"' EXIT; status=0; \
	$(BIN)/python -m pytest -p tests.book_cache --book-cache "$$build" -n 2 --dist loadfile \
	    --nbval-lax --ignore tests/test_book_build.py tests $(NOTEBOOKS) || status=$$?; \
	$(BIN)/python -m pytest -p tests.book_cache --book-cache "$$build" \
	    tests/test_book_build.py || status=$$?; \
	exit $$status

clean:
	rm -rf _build
