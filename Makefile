# orbitnet: `make book` builds the book, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= full
CH ?=
ARGS ?=
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_vendor/mathjax/tex-chtml.js

.PHONY: setup data book chapter test bench lint clean help

help:
	@echo "make setup | data | book [PROFILE=quick|full] | chapter CH=<id> ARGS='-p name value' | test | bench | lint | clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# MathJax 3 from the npm registry, vendored so the book needs no network to show math.
$(MATHJAX):
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null \
	  && tar xzf mathjax-$(MATHJAX_VERSION).tgz && cd - >/dev/null \
	  && rm -rf book/_vendor/mathjax && mkdir -p book/_vendor/mathjax \
	  && cp -r $$tmp/package/es5/. book/_vendor/mathjax/ && cp $$tmp/package/LICENSE book/_vendor/mathjax/ \
	  && rm -rf $$tmp && echo "vendored MathJax $(MATHJAX_VERSION) into book/_vendor/mathjax"

setup: $(VENV)/.installed $(MATHJAX)

data: setup
	$(BIN)/orbitnet data

book: setup data
	$(BIN)/orbitnet book --profile $(PROFILE)

chapter: setup data
	@test -n "$(CH)" || { echo "usage: make chapter CH=<chapter id> [ARGS='-p name value']"; $(BIN)/orbitnet list; exit 2; }
	$(BIN)/orbitnet chapter $(CH) --profile $(PROFILE) $(ARGS)

test: setup data
	$(BIN)/python -m pytest -q --durations=15

bench: setup data
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m orbitnet.book.notebooks lint   # the notebooks' code cells, through jupytext

clean:
	rm -rf build _build book/chapters
