# keepwarm: `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# Test files run on two processes (pytest-xdist), whole files to a worker: CI has 2 cores.
# Files go out in the order tests/conftest.py gives them (the longest first), not by size.
PYTEST_WORKERS ?= 2
UV_VERSION ?= 0.13.8

.PHONY: help install system-deps browser-deps bench-deps demo test test-deploy lint format bench audit-deps clean

help:
	@echo "make demo   - set up, then simulate, ingest, train and score on the embedded store"
	@echo "make test   - set up (PostgreSQL and Chromium included), then run the whole test suite"
	@echo "make test-deploy - the company deployment (PostgreSQL, MLflow and Prefect servers, worker, API)"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - the speed benchmarks in benchmarks/"
	@echo "make audit-deps - pip-audit of the pinned set (needs PyPI's or OSV's advisory data)"

# uv installs the pinned set (about 230 packages) far faster than pip: 73 s against 15 min 39 s,
# one after the other on this 2-core machine under the same heavy load (2026-11-30).
# uv itself comes from PyPI, pinned here.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# PostgreSQL server binaries for the store tests and benchmarks (Debian's package).
system-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL server found"; \
	else \
		echo "installing PostgreSQL (Debian package)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	fi

# Headless Chromium for the console's browser tests, and a CJK font for its Chinese pages
# (Debian's packages; Playwright drives this browser, it never downloads its own).
browser-deps:
	@if command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "Chromium and a Chinese font found"; \
	else \
		echo "installing Chromium and a Chinese font (Debian packages)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

# Bytecode: each module is compiled the first time a process imports it, and kept (in .venv,
# and in keepwarm's own __pycache__ folders) for every later process. Where
# PYTHONDONTWRITEBYTECODE is set (as on this machine), every process (each test worker, CLI
# run, server and kernel) compiled what it imported again: 50-60 s of the suite's CPU
# (py-spy, 2026-12-01). Compiling the whole environment at install instead (uv's
# --compile-bytecode: 17,871 files, ~27 s of CPU, 17 s on two cores) compiles far more than
# any run imports (test suites of the libraries, plotly's validators...).
unexport PYTHONDONTWRITEBYTECODE

demo: install
	$(BIN)/keepwarm demo

test: install system-deps browser-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The deployment of the README's "Deploy" section, started for real (a few minutes).
test-deploy: install system-deps
	$(BIN)/python -m pytest tests/test_deploy.py -m deploy $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# wrk drives the serving benchmark (Debian's package).
bench-deps:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

bench: install system-deps bench-deps
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_model.py
	$(BIN)/python benchmarks/bench_serve.py

# pip-audit, in a venv of its own so its dependencies stay out of keepwarm's pinned set.
# --strict fails when a package could not be checked (e.g. a mirror without advisory data).
AUDIT_VENV := .audit-venv
audit-deps:
	@[ -x $(AUDIT_VENV)/bin/pip-audit ] || { $(PYTHON) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/pip install --quiet --disable-pip-version-check pip-audit==2.10.1; }
	$(AUDIT_VENV)/bin/pip-audit --strict --no-deps --disable-pip -r constraints.txt $(AUDIT_ARGS)

clean:
	rm -rf $(VENV) $(AUDIT_VENV) .keepwarm test-output .pytest_cache .mypy_cache .ruff_cache build *.egg-info
