# The two commands of the README: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MODEL_REGISTRY_URI ?= $(CURDIR)/.registry

.PHONY: install test lint demo dev bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

demo: install
	mkdir -p $(DAGSTER_HOME)
	$(PY) -m registry_pipelines.demo

dev: install
	mkdir -p $(DAGSTER_HOME)
	$(VENV)/bin/dagster dev -w workspace.yaml

bench: install
	$(PY) bench/registry_ops.py
	$(PY) bench/ui_pages.py

clean:
	rm -rf $(VENV) .dagster_home .registry .pytest_cache
