# Two commands do everything on a fresh Debian machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps web-vendor run test test-fast check bench bench-ingest bench-judge \
	bench-api bench-scheduler bench-gateway bench-reports bench-forward bench-public bench-cluster scenario faults clean

install: system-deps $(STAMP) web-vendor

# Mosquitto, InfluxDB, PostgreSQL (the records database's tests), Chromium (browser tests of the web pages; a CJK font for their
# screenshots) and npm (fetches the browser libraries: uPlot, Swagger UI, ReDoc) come from Debian; each only when missing.
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v influxd >/dev/null 2>&1 || missing="$$missing influxdb"; \
	ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-wqy-microhei"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	ldconfig -p | grep -q libpangoft2-1.0 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing from Debian packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The web pages' charting library (uPlot, pinned, SHA-256 checked, not committed).
web-vendor: $(STAMP)
	$(PY) -m api.web.vendor

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

run: install
	$(PY) -m devstack.run

# A scenario through the whole local stack, compared with its expected outcome:
# make scenario NAME=clean (or incidents, tampering, demo, late, forwarding, public, or a path to a scenario file).
scenario: install
	@if [ -z "$(NAME)" ]; then echo "usage: make scenario NAME=clean|incidents|tampering|demo|late|forwarding|public"; exit 2; fi
	$(PY) -m simulators.verify $(NAME)

# Two workers (pytest-xdist), each test file on one of them: most tests wait on servers.
test: install
	$(PY) -m pytest -q -m "not fault" -n 2 --dist loadfile

# The inner loop: every test but the full-stack ones marked slow (pyproject.toml).
test-fast: install
	$(PY) -m pytest -q -m "not slow and not fault"

check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: bench-ingest bench-judge bench-api bench-scheduler bench-gateway bench-reports bench-forward bench-public

bench-ingest: install
	$(PY) -m bench.ingest

bench-judge: install
	$(PY) -m bench.judge

bench-api: install
	$(PY) -m bench.api

bench-scheduler: install
	$(PY) -m bench.scheduler

bench-gateway: install
	$(PY) -m bench.gateway

bench-reports: install
	$(PY) -m bench.reports

bench-forward: install
	$(PY) -m bench.forward

bench-public: install
	$(PY) -m bench.public

bench-cluster: install
	$(PY) -m bench.cluster

# Fault injection on real local servers (not part of `make test`; a few minutes).
faults: install
	$(PY) -m bench.faults
	$(PY) -m pytest -q -m fault

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
