# The two commands of the README: `make demo` and `make test`. Both install what they need first.
# `make demo ARGS=-v` shows Dagster's whole log instead of one line per step.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MODEL_REGISTRY_URI ?= $(CURDIR)/.registry
# `dagster dev` says "use `dg dev` instead": `dg` comes from dagster-dg-cli, which pins an exact
# Dagster release and brings some 25 more packages, and given a workspace file `dg dev` runs this
# same command, so we keep `dagster dev -w workspace.yaml` and silence that one notice.
SUPERSEDED := ignore:Function `dev_command` is superseded:FutureWarning

.PHONY: install test lint demo dev bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# A project-local Dagster instance, with telemetry off and no "no dagster.yaml" notice.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m registry_pipelines.demo $(ARGS)

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -W '$(SUPERSEDED)' -m dagster dev -w workspace.yaml

bench: install
	$(PY) bench/registry_ops.py
	$(PY) bench/ui_pages.py

clean:
	rm -rf $(VENV) .dagster_home .registry .pytest_cache
