# The two commands of the README quick start:
#   make serve   install and start the service on the embedded defaults
#   make test    install everything and run the whole suite (lint, types, tests)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: serve test install install-test lint bench system-deps

# ffmpeg archives recordings; sox and espeak-ng make test and benchmark audio
SYSTEM_TOOLS = ffmpeg sox espeak-ng

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"

system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	  || { echo "could not install$$missing: install them, then run make again" >&2; exit 1; }; \
	fi

serve: install system-deps
	$(BIN)/hotline serve

lint: install-test system-deps
	$(BIN)/ruff check hotline tests benchmarks
	$(BIN)/ruff format --check hotline tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: install-test system-deps
	$(BIN)/python benchmarks/ami_throughput.py
	$(BIN)/python benchmarks/archive_throughput.py
	$(BIN)/python benchmarks/asr_throughput.py
	$(BIN)/python benchmarks/quality_throughput.py
	$(BIN)/python benchmarks/live_state.py
