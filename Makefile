# The two commands of the README quick start:
#   make serve   install and start the service on the embedded defaults
#   make test    install everything and run the whole suite (lint, types, tests)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: serve test install install-test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"

serve: install
	$(BIN)/hotline serve

lint: install-test
	$(BIN)/ruff check hotline tests benchmarks
	$(BIN)/ruff format --check hotline tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: install-test
	$(BIN)/python benchmarks/ami_throughput.py
