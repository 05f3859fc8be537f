# The two commands of the README quick start:
#   make serve   install and start the service on the embedded defaults
#   make test    install everything and run the whole suite (lint, types, tests)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: serve test install install-test lint bench system-deps

# ffmpeg archives recordings; sox and espeak-ng make test and benchmark audio
SYSTEM_TOOLS = ffmpeg sox espeak-ng
# the browser tests drive Debian's chromium; fonts-noto-cjk makes Chinese render
BROWSER_PACKAGES = chromium fonts-noto-cjk
APT_GET = DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300

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
	  $(APT_GET) update -qq && $(APT_GET) install -y -qq $$missing >/dev/null \
	  || { echo "could not install$$missing: install them, then run make again" >&2; exit 1; }; \
	fi
	@missing=""; for p in $(BROWSER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages, for the browser tests)"; \
	  $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing >/dev/null \
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
	$(BIN)/python benchmarks/web_pages.py
	$(BIN)/python benchmarks/wallboard_latency.py
