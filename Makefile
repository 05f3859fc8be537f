# The two commands of the README quick start:
#   make serve   install and start the service on the embedded defaults
#   make test    install everything and run the whole suite (lint, types, tests)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: serve test install install-test lint bench system-deps test-deps

# ffmpeg archives recordings (the service needs it); the tests also need sox and espeak-ng
# (test and benchmark audio), Debian's chromium with fonts-noto-cjk (browser tests, Chinese
# must render) and sipp (real SIP phones on the test switch)
SERVE_PACKAGES = ffmpeg
TEST_PACKAGES  = ffmpeg sox espeak-ng chromium fonts-noto-cjk sip-tester
APT_GET = DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300

# install the Debian packages of $(1) that are missing (apt may be busy: wait for its lock)
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages)"; \
	  $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing >/dev/null \
	  || { echo "could not install$$missing: install them, then run make again" >&2; exit 1; }; \
	fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"

system-deps:
	$(call apt_install,$(SERVE_PACKAGES))

test-deps:
	$(call apt_install,$(TEST_PACKAGES))

serve: install system-deps
	$(BIN)/hotline serve

lint: install-test test-deps
	$(BIN)/ruff check hotline tests benchmarks
	$(BIN)/ruff format --check hotline tests benchmarks
	$(BIN)/mypy

# the PostgreSQL tests of the code writing the monthly-partitioned tables (calls, audit_log,
# ticket_events), again on a partitioned database (deploy/partitioning.md); 1–3 minutes
PARTITIONED_TESTS = tests/telephony/test_store.py tests/telephony/test_service.py \
	tests/recording/test_retention.py tests/api/test_audit_trail.py tests/tickets/test_store.py \
	tests/tickets/test_service.py tests/tickets/test_report_queries.py \
	tests/benchmarks/test_generator.py

test: lint
	$(BIN)/pytest -q -p no:cacheprovider
	HOTLINE_TEST_PG_PARTITIONED=1 $(BIN)/pytest -q -p no:cacheprovider -m postgres $(PARTITIONED_TESTS)

bench: install-test test-deps
	$(BIN)/python benchmarks/ami_throughput.py
	$(BIN)/python benchmarks/archive_throughput.py
	$(BIN)/python benchmarks/asr_throughput.py
	$(BIN)/python benchmarks/quality_throughput.py
	$(BIN)/python benchmarks/live_state.py
	$(BIN)/python benchmarks/web_pages.py
	$(BIN)/python benchmarks/wallboard_latency.py
	$(BIN)/python benchmarks/wallboard_cpu.py
	$(BIN)/python benchmarks/review_page.py
