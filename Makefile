# drgate: `make run` starts the embedded default, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= http://127.0.0.1:8000
USERS ?= 50
DURATION ?= 60s
P99_MS ?= 50
MAX_FAIL ?= 0.001
PROFILE ?= constant
OUT ?= var/loadtest
STEP_USERS ?= 10
STEPS ?= 5
STEP_SECONDS ?= 30
FUZZ_EXAMPLES ?= 1000

.PHONY: run test lint bench bench-quick loadtest fuzz clean

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

# The four designs side by side (floor, naive, SQL, drgate) on the machine's Redis (prefix
# drgate-bench) and PostgreSQL (database drgate_bench), then the 1,000,000-physician figures;
# results in BENCHMARKS.md. wrk is used when installed (apt-get install wrk), else a Python generator.
BENCH_ARGS ?= --scale
bench: $(BIN)/.installed
	DRGATE_REDIS_URL=$${DRGATE_REDIS_URL:-redis://127.0.0.1:6379/0} $(BIN)/python -m bench.run $(BENCH_ARGS)

bench-quick: $(BIN)/.installed
	$(BIN)/python -m bench.run --rounds 1 --duration 3 --physicians 50000

# Locust, headless, against HOST (a staging gateway seeded with `drgate seed --physicians N`; the
# count is read from its /readyz); reports in var/loadtest/. Locust's exit code (0 gate passed,
# 1 past P99_MS or MAX_FAIL, 2 could not start) is printed and kept in var/loadtest/exit_code:
# make itself exits 2 whenever a recipe fails. PROFILE=step: ramp STEP_USERS a stage for STEPS
# stages of STEP_SECONDS, plateau, spike to twice the top; the knee in var/loadtest/drgate_steps.csv.
ifeq ($(PROFILE),step)
LOCUST_RUN := -f loadtests/locustfile.py,loadtests/steps.py
else
LOCUST_RUN := -f loadtests/locustfile.py --users $(USERS) --spawn-rate $(USERS) --run-time $(DURATION)
endif
loadtest: $(BIN)/.installed
	mkdir -p $(OUT)
	LOADTEST_PROFILE=$(PROFILE) LOADTEST_P99_MS=$(P99_MS) LOADTEST_MAX_FAIL=$(MAX_FAIL) \
	LOADTEST_STEP_USERS=$(STEP_USERS) LOADTEST_STEPS=$(STEPS) LOADTEST_STEP_SECONDS=$(STEP_SECONDS) \
		$(BIN)/locust $(LOCUST_RUN) --headless --host $(HOST) --only-summary \
		--csv $(OUT)/drgate --html $(OUT)/report.html; \
	code=$$?; echo $$code > $(OUT)/exit_code; echo "locust exit code $$code"; exit $$code
# schemathesis against a gateway it starts (seeded store, API keys on): no 5xx, no answer off the
# schema. Against staging instead: $(BIN)/schemathesis run $(HOST)/openapi.json --checks all -H 'X-API-Key: …'
fuzz: $(BIN)/.installed
	DRGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/test_fuzz.py

clean:
	rm -rf $(VENV) var .pytest_cache
