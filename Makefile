# Two commands do everything on a fresh Debian machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps run test check bench bench-ingest bench-judge bench-api scenario clean

install: system-deps $(STAMP)

# Mosquitto and InfluxDB come from Debian's packages; install them only when missing.
system-deps:
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] \
	   || ! command -v influxd >/dev/null 2>&1; then \
	  echo "installing mosquitto and influxdb from Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto influxdb >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: install
	$(PY) -m core.stack

# A scenario through the whole local stack, compared with its expected outcome:
# make scenario NAME=clean (or incidents, tampering, demo, or a path to a scenario file).
scenario: install
	@if [ -z "$(NAME)" ]; then echo "usage: make scenario NAME=clean|incidents|tampering|demo"; exit 2; fi
	$(PY) -m simulators.verify $(NAME)

test: install
	$(PY) -m pytest -q

check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: bench-ingest bench-judge bench-api

bench-ingest: install
	$(PY) -m bench.ingest

bench-judge: install
	$(PY) -m bench.judge

bench-api: install
	$(PY) -m bench.api

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
