# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 2614
DATA_DIR ?= ./data

.PHONY: run test coverage lint schema bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-deps

## Install, migrate and serve on the embedded default (SQLite in DATA_DIR, in-process fan-out).
run: $(VENV)/.run-deps
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) $(BIN)/hipster-timer serve

## Install the dev dependencies and run the whole test suite.
test: $(VENV)/.dev-deps
	$(BIN)/python -m pytest

## Run the test suite under coverage.py (settings in setup.cfg) and print the report.
coverage: $(VENV)/.dev-deps
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage report

## Lint, format check, types, and the generated schema's freshness.
lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m schema.export --check

## Regenerate schema/generated/ from schema/.
schema: $(VENV)/.dev-deps
	$(BIN)/python -m schema.export

## Run the fan-out benchmark on both storage modes.
bench: $(VENV)/.dev-deps
	$(BIN)/python bench/ws_fanout.py --mode both

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
