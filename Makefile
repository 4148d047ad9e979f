# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check fmt bench install browser postgres clean

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

# The PostgreSQL ledger's tests start a throwaway cluster of their own from the server's binaries
# (initdb, pg_ctl): installed here when missing, as chromium is; where they cannot be had, they skip.
HAVE_INITDB := { ls /usr/lib/postgresql/*/bin/initdb || test -x "$$(pg_config --bindir 2>/dev/null)/initdb" \
  || command -v initdb; } >/dev/null 2>&1
postgres:
	@$(HAVE_INITDB) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq postgresql) >/dev/null 2>&1; } \
	  || echo "NOTE: PostgreSQL's server could not be installed here: the PostgreSQL ledger's tests will skip"

# Everything, the slow soak and kill tests included (a plain `pytest` skips those).
test: check browser postgres
	$(BIN)/python -m pytest -m "slow or not slow"; status=$$?; \
	command -v chromium >/dev/null 2>&1 || echo "NOTE: chromium not found, so the report's browser tests were skipped (apt-get install -y chromium)"; \
	$(HAVE_INITDB) || echo "NOTE: PostgreSQL's initdb not found, so the PostgreSQL ledger's tests were skipped (apt-get install -y postgresql)"; \
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
