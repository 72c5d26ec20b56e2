# make demo: the weekly retention DAG on a generated Dify 1.14 database, ending with its report.
# make test: lint and the whole test suite against real PostgreSQL.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.9.30
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	PYTHONPATH=plugins $(PY) -m dify_maintenance.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q -ra

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf .demo .airflow_test_home .pytest_cache .ruff_cache
