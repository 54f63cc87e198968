# The two commands of the README: `make up` (local stack + Airflow + the example job) and `make test` (all tests).
# Both create/refresh the virtual environment at .venv from the committed lock file first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock-py3.11.txt
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv up down test lint bench

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade uv

# Re-sync only when the lock or pyproject changes.
$(VENV)/.synced: $(BIN)/uv $(LOCK) pyproject.toml
	$(BIN)/uv pip sync --python $(BIN)/python -q $(LOCK)
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	touch $@

venv: $(VENV)/.synced

# Stack up, then the example DAG `capillaries_shop_orders` end to end through the real scheduler and triggerer.
up: venv
	$(BIN)/capillaries services up
	$(BIN)/capillaries airflow up
	$(BIN)/capillaries airflow trigger capillaries_shop_orders --wait

down:
	-$(BIN)/capillaries airflow down
	-$(BIN)/capillaries services down

lint: venv
	$(BIN)/ruff check capillaries_provider tests dags bench docker examples
	$(BIN)/ruff format --check capillaries_provider tests dags bench docker examples
	$(BIN)/mypy

# The remote-file tests talk S3 to a loopback server only: the AWS SDK must never probe the EC2 metadata address.
test: venv lint
	$(BIN)/capillaries services up
	AWS_EC2_METADATA_DISABLED=true $(BIN)/pytest -q -p no:cacheprovider --durations=30

bench: venv
	$(BIN)/capillaries services up
	AWS_EC2_METADATA_DISABLED=true $(BIN)/python -m bench.run
