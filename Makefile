# drgate: `make run` starts the embedded default, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= http://127.0.0.1:8000
USERS ?= 50
DURATION ?= 60s
P99_MS ?= 50
MAX_FAIL ?= 0.001
FUZZ_EXAMPLES ?= 1000

.PHONY: run test lint bench loadtest fuzz clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/drgate demo

test: $(BIN)/.installed
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# schemathesis against a gateway it starts (seeded store, API keys on): no 5xx, no answer off the
# schema. Against staging instead: $(BIN)/schemathesis run $(HOST)/openapi.json --checks all -H 'X-API-Key: …'
fuzz: $(BIN)/.installed
	DRGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/test_fuzz.py

clean:
	rm -rf $(VENV) var .pytest_cache
