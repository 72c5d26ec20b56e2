# make demo: the weekly retention DAG on a generated Dify 1.14 database, ending with its report.
# make test: lint and the whole test suite against real PostgreSQL.
# make test-future: the suite again with the clock a year ahead (CI runs both).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-future test-oldest-airflow lint format bench clean dist

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.9.30
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	PYTHONPATH=plugins:. $(PY) -m devtools.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q -ra

# The same tests with the clock moved a year ahead by libfaketime (Debian's faketime): a scenario
# built around a fixed date, or code that reads the wall clock where it should read the run's
# own, fails here. PostgreSQL keeps the real clock (under libfaketime its statement and lock
# timeouts never fire), so this pass also proves that nothing compares the worker's clock with
# the database's. The server is found (or the embedded one started) before the clock moves.
# libfaketime moves the monotonic clock too (keeping it real breaks time.sleep), so a timed wait
# on a lock (threading.Timer, Event.wait(timeout)) would wait a year: tests sleep instead.
FUTURE ?= +365d
test-future: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-future needs faketime (apt-get install faketime)"; exit 1; }
	DIFY_MAINT_TEST_PG_URL=$$(PYTHONPATH=plugins:. $(PY) -c 'from devtools.pgembed import admin_url; print(admin_url("DIFY_MAINT_TEST_PG_URL")[0])') \
	  faketime -f '$(FUTURE)' $(PY) -m pytest -q -ra -p no:cacheprovider

# The wheel with its declared ranges installed beside the oldest supported Airflow (3.2) in a
# fresh virtualenv under .cache/, and every DAG parsed there (CI runs it after the tests).
test-oldest-airflow: $(STAMP)
	PYTHONPATH=plugins:. $(PY) -m devtools.oldest_airflow

# The wheel (templates and data inside): pip install it into any Airflow 3.2+, copy dags/*.py.
dist: $(STAMP)
	$(VENV)/bin/uv build --wheel --out-dir dist .
	rm -rf build

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf .demo .airflow_test_home .pytest_cache .ruff_cache build dist
