# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000
# Two pytest-xdist workers: on a 2-core machine the suite takes about two thirds of the serial time.
# TEST_WORKERS=0 runs everything in one process (easier to read with -x or a debugger).
TEST_WORKERS ?= 2
# The portal runs in development mode unless told otherwise; tests need a key only to load settings.
export DEBUG ?= true

.PHONY: run test install migrate clean

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST)

test: $(VENV)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

install: $(VENV)/.installed

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' || { \
		echo "The portal needs Python 3.12 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Install Python 3.13 (see .python-version) or run: make PYTHON=/path/to/python3.13 run"; \
		exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

clean:
	rm -rf $(VENV) staticfiles e2e/artifacts

# The settlement benchmark (README, "Benchmark"): PostgreSQL and wrk, never part of `make test`.
.PHONY: bench bench-credit
bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

# The monthly-credit benchmark (README, "Monthly-credit benchmark"): a million accounts on PostgreSQL.
bench-credit: $(VENV)/.installed
	$(PY) bench/credit.py $(BENCH_ARGS)
