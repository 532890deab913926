# The two commands of the README: `make demo` and `make test`. Both install what they need first.
# `make demo ARGS=-v` shows Dagster's whole log instead of one line per step. `make dev` serves
# the registry (`registry server` on REGISTRY_PORT) beside `dagster dev` (on DAGSTER_PORT).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MODEL_REGISTRY_URI ?= $(CURDIR)/.registry
REGISTRY_PORT ?= 5050
DAGSTER_PORT ?= 3000
REGISTRY_SERVER := http://127.0.0.1:$(REGISTRY_PORT)
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

# The registry server holds MODEL_REGISTRY_URI's file (open on loopback, no tokens) and the code
# location writes through it; Ctrl+C stops dagster dev, and the trap then stops the server.
dev: install $(DAGSTER_HOME)/dagster.yaml
	@$(VENV)/bin/registry server --no-auth --port $(REGISTRY_PORT) & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server' EXIT; trap 'exit 130' INT TERM; \
	until $(PY) -c "import httpx; httpx.get('$(REGISTRY_SERVER)/health').raise_for_status()" \
		2>/dev/null; do kill -0 $$server 2>/dev/null || exit 1; sleep 0.2; done; \
	echo "Registry server: $(REGISTRY_SERVER) (the registry: $(MODEL_REGISTRY_URI))"; \
	MODEL_REGISTRY_URI=$(REGISTRY_SERVER) $(PY) -W '$(SUPERSEDED)' -m dagster dev \
		-w workspace.yaml -h 127.0.0.1 -p $(DAGSTER_PORT)

bench: install
	$(PY) bench/registry_ops.py
	$(PY) bench/ui_pages.py

clean:
	rm -rf $(VENV) .dagster_home .registry .pytest_cache
