# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check fmt bench install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -f manifests/example.sandbox.ledger.db*  # the ledger, its WAL, its lock and the sandbox world beside it
	$(BIN)/batchavatars run manifests/example.yaml --sandbox

# The house style: one formatter, a modest lint rule set, strict types, no function (or class)
# above 15 by radon's cyclomatic count (stricter than ruff's) and no merge-conflict marker (tests/house.py).
check: $(STAMP)
	$(BIN)/ruff format --check batchavatars tests benchmarks
	$(BIN)/ruff check batchavatars tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m tests.house

fmt: $(STAMP)
	$(BIN)/ruff format batchavatars tests benchmarks
	$(BIN)/ruff check --fix batchavatars tests benchmarks

# The report's browser tests render in Debian's chromium: installed here when missing, so a fresh
# machine runs them too. Only where it cannot be had (no apt, not root) do they skip, said plainly.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1; } \
	  || echo "NOTE: chromium could not be installed here: the report's browser tests will skip"

# Everything, the slow soak and kill tests included (a plain `pytest` skips those).
test: check browser
	$(BIN)/python -m pytest -m "slow or not slow"; status=$$?; \
	command -v chromium >/dev/null 2>&1 || echo "NOTE: chromium not found, so the report's browser tests were skipped (apt-get install -y chromium)"; \
	exit $$status

# The scheduler against two baselines, then the operator-facing budgets: validate and plan of
# 100,000 items (5 s; 10 s and 400 MB) and a 10,000-item report (5 s, a few MB).
bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.validate
	$(BIN)/python -m benchmarks.plan_output
	$(BIN)/python -m benchmarks.report_size

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
