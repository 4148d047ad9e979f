"""`python -m benchmarks` (what `make bench` runs): every scenario with every runner, each in a fresh
process against its own sandbox; prints a table and writes benchmarks/results.json.

    python -m benchmarks                      # all scenarios (scale-100k up to 100,000 items: minutes)
    python -m benchmarks --quick              # scale-100k capped at 10,000 items
    python -m benchmarks --scenario flaky     # one scenario (repeatable)

One run on one machine: the figures are for comparing runners on the same machine, not absolute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import run_one
from .scenarios import QUICK_MAX_ITEMS, RUNNERS, SCENARIOS, default_scenarios

RESULTS = Path(__file__).resolve().parent / "results.json"
SCALED_RUNNERS = ("batchavatars", "batchavatars-pg")  # overhead at 100k items is batchavatars' own question
# The shared ledger's cost is asked of the onboarding scenario and of CPU per item up to 10,000 items.
PG_SCENARIOS = ("onboarding-300",)
PG_MAX_ITEMS = 10_000


def machine() -> dict[str, Any]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": model,
        "cores": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def plan_runs(names: list[str], runners: list[str], quick: bool) -> list[tuple[str, str, int | None]]:
    runs: list[tuple[str, str, int | None]] = []
    scenarios = [SCENARIOS[n] for n in names] if names else default_scenarios()
    for scenario in scenarios:
        if scenario.scaled:
            sizes = [n for n in scenario.sizes if not quick or n <= QUICK_MAX_ITEMS]
            runs += [(scenario.name, r, n) for n in sizes for r in runners if r in SCALED_RUNNERS and _pg_ok(r, n)]
        else:
            runs += [
                (scenario.name, r, None) for r in runners if r != "batchavatars-pg" or scenario.name in PG_SCENARIOS
            ]
    return runs


def _pg_ok(runner: str, size: int) -> bool:
    return runner != "batchavatars-pg" or size <= PG_MAX_ITEMS


def postgres_versus_sqlite(rows: list[dict[str, Any]]) -> list[str]:
    """The shared ledger's cost: makespan and CPU per item, PostgreSQL over SQLite, in one run."""
    lines = []
    for scenario, size in {(r["scenario"], r.get("size")) for r in rows if r["runner"] == "batchavatars-pg"}:
        pair = {
            r["runner"]: r
            for r in rows
            if r["scenario"] == scenario
            and r.get("size") == size
            and "error" not in r
            and r["runner"].startswith("batchavatars")
        }
        if len(pair) < 2:
            continue
        pg, sqlite = pair["batchavatars-pg"], pair["batchavatars"]
        label = f"{scenario}" + (f" at {size:,} items" if size else "")
        lines.append(
            f"{label}: PostgreSQL ledger / SQLite ledger: makespan {pg['makespan_s']:.2f} / {sqlite['makespan_s']:.2f} = "
            f"{pg['makespan_s'] / sqlite['makespan_s']:.2f}, CPU ms/item {_cpu_per_item(pg):.3f} / "
            f"{_cpu_per_item(sqlite):.3f} = {_cpu_per_item(pg) / _cpu_per_item(sqlite):.2f}"
        )
    return sorted(lines)


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def timing_table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'scenario':<15} {'runner':<15} {'done':>9} {'makespan s':>10} {'bound s':>8} {'ratio':>6} "
        f"{'requests':>8} {'429s':>6} {'dups':>5} {'CPU s':>7} {'RSS MB':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['scenario']:<15} {r['runner']:<15} ERROR {r['error']}")
            continue
        done = f"{r['succeeded']}/{r['items']}"
        lines.append(
            f"{r['scenario']:<15} {r['runner']:<15} {done:>9} {r['makespan_s']:>10.2f} {r['lower_bound_s']:>8.2f} "
            f"{_num(r['ratio'], '.2f'):>6} {r['requests']:>8} {r['rate_limited']:>6} {r['duplicates']:>5} "
            f"{r['cpu_s']:>7.2f} {r['peak_rss_mb']:>7.1f}"
        )
    return lines


def _ledger(row: dict[str, Any]) -> str:
    return "postgres" if row["runner"] == "batchavatars-pg" else "sqlite"


def _cpu_per_item(row: dict[str, Any]) -> float:
    """The run's own CPU per item (the scaled scenarios time validation and planning apart)."""
    run = row.get("stages", {}).get("run")
    return float(1000 * run["cpu_s"] / row["items"]) if run else float(row["cpu_ms_per_item"])


def scale_table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'scenario':<11} {'ledger':<8} {'items':>7} {'validate s':>10} {'plan s':>7} {'run s':>8} {'run CPU s':>9} "
        f"{'CPU ms/item':>11} {'requests':>8} {'dups':>5} {'peak RSS MB':>11} {'done':>13}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['scenario']:<11} {_ledger(r):<8} {_num(r.get('size'), 'd'):>7} ERROR {r['error']}")
            continue
        stages = r.get("stages", {})
        validate = stages.get("validate", {}).get("wall_s")
        run = stages.get("run", {})
        cpu_item = 1000 * run["cpu_s"] / r["items"] if run else None
        lines.append(
            f"{r['scenario']:<11} {_ledger(r):<8} {r['items']:>7} {_num(validate, '.2f'):>10} "
            f"{_num(stages.get('plan', {}).get('wall_s'), '.3f'):>7} {_num(run.get('wall_s'), '.2f'):>8} "
            f"{_num(run.get('cpu_s'), '.2f'):>9} {_num(cpu_item, '.3f'):>11} {r['requests']:>8} "
            f"{r['duplicates']:>5} {r['peak_rss_mb']:>11.1f} {str(r['succeeded']) + '/' + str(r['items']):>13}"
        )
    return lines


def versus_best_baseline(rows: list[dict[str, Any]], scenario: str) -> str | None:
    ours = [r for r in rows if r["scenario"] == scenario and r["runner"] == "batchavatars" and "error" not in r]
    theirs = [
        r for r in rows if r["scenario"] == scenario and not r["runner"].startswith("batchavatars") and "error" not in r
    ]
    if not ours or not theirs:
        return None
    best = min(theirs, key=lambda r: r["makespan_s"])
    ratio = ours[0]["makespan_s"] / best["makespan_s"]
    return (
        f"{scenario}: batchavatars makespan / best baseline ({best['runner']}) makespan = "
        f"{ours[0]['makespan_s']:.2f} / {best['makespan_s']:.2f} = {ratio:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"cap scale-100k at {QUICK_MAX_ITEMS:,} items")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--runner", action="append", default=[], choices=RUNNERS, help="run only this runner (repeatable)"
    )
    args = parser.parse_args(argv)

    host = machine()
    rows: list[dict[str, Any]] = []
    for scenario, runner, size in plan_runs(args.scenario, args.runner or list(RUNNERS), args.quick):
        label = f"{scenario} / {runner}" + (f" / {size:,} items" if size else "")
        print(f"running {label} ...", file=sys.stderr, flush=True)
        row = run_one(scenario, runner, size)
        rows.append(row)
        if "error" in row:
            print(f"  {label}: ERROR {row['error']}", file=sys.stderr, flush=True)
        else:
            print(
                f"  {label}: {row['makespan_s']:.2f} s, {row['succeeded']}/{row['items']} done",
                file=sys.stderr,
                flush=True,
            )

    timed = [r for r in rows if not SCENARIOS[r["scenario"]].scaled]
    scaled = [r for r in rows if SCENARIOS[r["scenario"]].scaled]
    out = [
        f"machine: {host['platform']}, {host['cpu']}, {host['cores']} cores, Python {host['python']}; {host['date']}"
    ]
    if timed:
        out += ["", *timing_table(timed)]
        out.append(
            "bound = max(creations/rate limit, creations*training/training cap, critical path); "
            "ratio = makespan/bound; done = items completed on the server"
        )
        line = versus_best_baseline(timed, "onboarding-300")
        if line:
            out.append(line)
    if scaled:
        out += ["", *scale_table(scaled)]
    shared = postgres_versus_sqlite(rows)
    if shared:
        out += ["", *shared]
    print("\n".join(out))
    RESULTS.write_text(
        json.dumps({"machine": host, "quick": args.quick, "results": rows}, indent=2) + "\n", encoding="utf-8"
    )
    print(f"\nresults: {RESULTS}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
