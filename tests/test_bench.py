"""The benchmark harness reports complete, sensible figures. Not how fast anything is."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import plan_runs, postgres_versus_sqlite, timing_table, versus_best_baseline
from benchmarks.harness import run_one
from benchmarks.scenarios import SCENARIOS, chains, critical_path, lower_bound, presenters

FIELDS = (
    "items",
    "succeeded",
    "makespan_s",
    "lower_bound_s",
    "ratio",
    "requests",
    "rate_limited",
    "duplicates",
    "cpu_s",
    "peak_rss_mb",
)


@pytest.fixture(scope="module")
def tiny_rows() -> list[dict]:
    return [run_one("tiny", runner, timeout=90) for runner in ("batchavatars", "gather", "bucket", "batchavatars-pg")]


@pytest.mark.slow
def test_each_runner_creates_every_item_and_reports_every_figure(tiny_rows):
    for row in tiny_rows:
        assert "error" not in row, row
        for name in FIELDS:
            assert row[name] is not None, (row["runner"], name)
        assert row["items"] == 10
        assert row["succeeded"] == 10  # verified on the server, not taken from the runner
        assert row["created_looks"] >= 10
        assert row["duplicates"] == 0  # no faults in this scenario
        assert row["requests"] >= 10  # at least one POST per item
        assert row["requests_by_route"]["POST /v3/avatars"] >= 10
        assert row["rate_limited"] >= 0
        assert row["lower_bound_s"] > 0
        assert row["makespan_s"] > 0
        assert row["ratio"] == pytest.approx(row["makespan_s"] / row["lower_bound_s"], rel=0.01)
        assert row["cpu_s"] > 0
        assert row["peak_rss_mb"] > 1
    for ours in (tiny_rows[0], tiny_rows[3]):  # the ledger in SQLite, then in PostgreSQL
        assert ours["batchavatars"]["counts"] == {"succeeded": 10}
        assert set(ours["stages"]) == {"plan", "run"}


@pytest.mark.slow
def test_the_table_has_a_row_per_run_and_the_baseline_ratio(tiny_rows):
    lines = timing_table(tiny_rows)
    assert len(lines) == 2 + len(tiny_rows)
    assert all("ERROR" not in line for line in lines)
    assert "batchavatars makespan / best baseline" in versus_best_baseline(tiny_rows, "tiny")
    assert "(gather)" in versus_best_baseline(tiny_rows, "tiny") or "(bucket)" in versus_best_baseline(
        tiny_rows, "tiny"
    )
    [shared] = postgres_versus_sqlite(tiny_rows)
    assert shared.startswith("tiny: PostgreSQL ledger / SQLite ledger: makespan ")


def test_a_run_that_fails_is_reported_as_an_error_row_not_raised():
    row = run_one("tiny", "no-such-runner", timeout=60)
    assert row["runner"] == "no-such-runner" and "exit code" in row["error"]


def test_lower_bound_takes_the_largest_of_rate_cap_and_critical_path():
    account = dict(rate_limit=20.0, max_concurrent_training=40, training_seconds=1.0, latency=0.05)
    assert lower_bound(presenters(100, 3), account) == pytest.approx(20.0)  # 400 / 20 req/s
    assert lower_bound(presenters(100, 3), dict(account, rate_limit=None)) == pytest.approx(10.0)  # 400 * 1 / 40
    assert critical_path(chains(20, 5), 0.05, 1.0) == pytest.approx(6 * 1.05)  # 6 levels
    assert lower_bound(chains(20, 5), account) == pytest.approx(6.3)
    assert (
        lower_bound(
            presenters(10, 1), dict(rate_limit=None, max_concurrent_training=None, training_seconds=0.0, latency=0.0)
        )
        == 0.0
    )


def test_quick_caps_the_scaled_scenario_and_scenario_selects():
    full = plan_runs(["scale-100k"], ["batchavatars", "gather"], quick=False)
    assert [size for _, _, size in full] == list(SCENARIOS["scale-100k"].sizes)
    assert all(runner == "batchavatars" for _, runner, _ in full)
    assert [size for _, _, size in plan_runs(["scale-100k"], ["batchavatars"], quick=True)] == [1_000, 10_000]
    assert plan_runs(["flaky"], ["gather"], quick=True) == [("flaky", "gather", None)]
    assert "tiny" not in {name for name, _, _ in plan_runs([], ["batchavatars"], quick=True)}
