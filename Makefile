# Every target bootstraps .venv itself; the install step reruns only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench snapshots conformance clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m agent.cli demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m schemas.snapshot --check

bench: $(STAMP)
	$(BIN)/python -m bench

snapshots: $(STAMP)
	$(BIN)/python -m schemas.snapshot --write

# The hub's MCP client against the official conformance suite's client scenarios (npm package,
# Node >= 22 from the dev extra); network on first use, so it is not part of `make test`.
conformance: $(STAMP)
	TOOLWIRE_CONFORMANCE=1 $(BIN)/python -m pytest tests/interop/test_conformance.py -v

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis bench/.data
