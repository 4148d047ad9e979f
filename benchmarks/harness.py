"""Run one (scenario, runner) and collect its figures.

`run_one()` starts `python -m benchmarks.harness SCENARIO RUNNER [--size N]` in a fresh process,
which starts the sandbox in a process of its own (serve_in_process), runs the runner against it
and prints one JSON line. So the CPU seconds (getrusage(RUSAGE_SELF), user + sys, over the run)
and the peak RSS (ru_maxrss) are the runner's alone: not the sandbox's, not an earlier run's.
The request counts, 429s and duplicates are what the sandbox saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .baselines import BASELINES
from .scenarios import RUNNERS, SCENARIOS, Scenario, lower_bound

MARK = "BENCH-RESULT "  # prefixes the result line, so nothing else on stdout is taken for it
ROOT = Path(__file__).resolve().parent.parent
BENCH_KEY = "bench-key"
CONCURRENCY = 16  # batchavatars --concurrency, and the baselines' semaphore


def run_one(scenario: str, runner: str, size: int | None = None, *, timeout: float | None = None) -> dict[str, Any]:
    """Run one (scenario, runner) in a fresh subprocess; its figures, or `error` saying what went wrong."""
    spec = SCENARIOS[scenario]
    cmd = [sys.executable, "-m", "benchmarks.harness", scenario, runner]
    if size is not None:
        cmd += ["--size", str(size)]
    base: dict[str, Any] = {"scenario": scenario, "runner": runner, "size": size}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout or spec.wait_timeout)
    except subprocess.TimeoutExpired:
        return {**base, "error": f"timed out after {timeout or spec.wait_timeout:g} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {**base, "error": f"exit code {proc.returncode}: " + " | ".join(tail)}


# -- inside the subprocess ----------------------------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


class Stage:
    """Wall and CPU seconds of a block."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stage:
        self._wall, self._cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = _cpu() - self._cpu


async def _run_batchavatars(
    items: list[Any], url: str, rate: float, workdir: Path, stages: dict[str, Stage], ledger_url: str | None = None
) -> dict[str, Any]:
    """What `batchavatars run` does after loading the manifest (batchavatars/apply.py), with the
    options a user would give: --rate = the documented limit, --concurrency 16, defaults otherwise.
    `ledger_url`: the ledger in that PostgreSQL database (else SQLite, in `workdir`)."""
    from batchavatars.client import HeyGenClient
    from batchavatars.ledger import Ledger, LedgerStore, PostgresLedger
    from batchavatars.planner import build_plan
    from batchavatars.scheduler import Scheduler
    from batchavatars.settings import RunSettings

    book: LedgerStore = PostgresLedger(ledger_url, "bench") if ledger_url else Ledger(workdir / "bench.ledger.db")
    try:
        with book.exclusive():
            with Stage() as stages["plan"]:
                plan = build_plan(items, book.records())
            options = RunSettings(concurrency=CONCURRENCY, rate=rate)
            async with HeyGenClient(url, BENCH_KEY, max_connections=max(options.concurrency * 2, 16)) as client:
                with Stage() as stages["run"]:
                    result = await Scheduler(plan, book, client, options).run()
    finally:
        book.close()
    return {
        "exit_code": int(result.exit_code),
        "counts": result.counts,
        "stopped": result.stopped,
        "client_requests": result.requests,
        "client_429s": result.rate_limited,
        "creations": result.creations,
    }


def write_manifest(scenario: str, size: int | str, path: str) -> None:
    """The scenario's items as a batchavatars manifest (version 1: `avatars:` and `looks:` lists)."""
    import yaml

    avatars, looks = [], []
    for spec in SCENARIOS[scenario].build(int(size)):
        if spec.kind == "avatar":
            entry: dict[str, Any] = {"key": spec.key, "type": spec.type, "name": spec.name}
            if spec.parent:
                entry["group"] = spec.parent
            if spec.file is not None:
                entry["file"] = spec.file.value
            if spec.prompt is not None:
                entry["prompt"] = spec.prompt
            avatars.append(entry)
        else:
            looks.append({"key": spec.key, "avatar": spec.parent, "name": spec.name, "prompt": spec.prompt})
    doc = {"version": 1, "avatars": avatars, "looks": looks}
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), encoding="utf-8")


def _load_manifest(scenario: Scenario, size: int | None, workdir: Path, stages: dict[str, Stage]) -> list[Any]:
    """The items of a generated YAML manifest, loaded (parsed + validated) as `batchavatars run` does.

    The YAML is written by a child process, so building it costs this process no memory: the peak
    RSS is then batchavatars' own (imports, manifest, plan, run)."""
    from batchavatars.manifest import load_manifest

    path = workdir / "bench.yaml"
    code = "import sys; from benchmarks.harness import write_manifest; write_manifest(*sys.argv[1:])"
    subprocess.run([sys.executable, "-c", code, scenario.name, str(size or 0), str(path)], cwd=ROOT, check=True)
    with Stage() as stages["validate"]:
        loaded = load_manifest(str(path))
    return list(loaded.items)


def _verify(url: str, items: list[Any]) -> int:
    """How many items exist on the account as completed looks (by their unique names)."""
    wanted = {spec.name for spec in items}
    done: set[str] = set()
    token = None
    with httpx.Client(base_url=url, headers={"X-Api-Key": BENCH_KEY}, timeout=60.0, trust_env=False) as http:
        while True:
            params: dict[str, Any] = {"limit": 50, "ownership": "private"}
            if token:
                params["token"] = token
            body = http.get("/v3/avatars/looks", params=params).raise_for_status().json()
            done.update(
                look["name"]
                for look in body["data"]
                if look.get("status") == "completed" and look.get("name") in wanted
            )
            token = body.get("next_token") if body.get("has_more") else None
            if not token:
                return len(done)


@contextlib.contextmanager
def _ledger_server(runner: str) -> Iterator[str | None]:
    """For batchavatars-pg, a PostgreSQL server of its own (started before the clock does); its CPU
    is the server's, not the runner's."""
    if runner != "batchavatars-pg":
        yield None
        return
    from tests.pg import Cluster, server_bindir

    bindir = server_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL's server (initdb, pg_ctl) not found: apt-get install -y postgresql")
    cluster = Cluster(bindir, durable=True)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def measure(scenario: Scenario, runner: str, size: int | None = None) -> dict[str, Any]:
    from batchavatars.sandbox import SandboxConfig, serve_in_process

    out: dict[str, Any] = {"scenario": scenario.name, "runner": runner, "size": size}
    stages: dict[str, Stage] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, serve_in_process(SandboxConfig(**scenario.sandbox)) as sb:
        workdir = Path(tmp)
        if scenario.scaled and runner.startswith("batchavatars"):
            items = _load_manifest(scenario, size, workdir, stages)
        else:
            items = scenario.build(size)
        bound = lower_bound(items, scenario.sandbox)
        out.update(items=len(items), lower_bound_s=round(bound, 3), rss_before_run_mb=round(_rss_mb(), 1))
        with _ledger_server(runner) as ledger_url, Stage() as total:
            if runner.startswith("batchavatars"):
                run = _run_batchavatars(items, sb.url, scenario.rate, workdir, stages, ledger_url)
                out["batchavatars"] = asyncio.run(run)
            else:
                asyncio.run(BASELINES[runner](items, sb.url, scenario.rate))
        out["peak_rss_mb"] = round(_rss_mb(), 1)
        stats = sb.stats()
        # Count what exists without limits or faults in the way (the run's figures are taken).
        sb.configure(
            rate_limit=None,
            latency=0.0,
            fault_5xx=0.0,
            fault_lost_response=0.0,
            fault_drop=0.0,
            fault_slow=0.0,
            burst_429=0.0,
        )
        out["succeeded"] = _verify(sb.url, items)
    out.update(
        makespan_s=round(total.wall, 3),
        ratio=round(total.wall / bound, 3) if bound > 0 else None,
        cpu_s=round(total.cpu, 3),
        cpu_ms_per_item=round(1000 * total.cpu / len(items), 4),
        requests=stats["requests_total"],
        requests_by_route=stats["requests"],
        rate_limited=stats["rate_limited"]["total"],
        rate_limited_by_cause={k: v for k, v in stats["rate_limited"].items() if k != "total"},
        duplicates=stats["duplicates"],
        created_looks=stats["created"]["looks"],
        faults=stats["faults"],
        idempotent_replays=stats.get("idempotent_replays", 0),
        training_peak=stats.get("training_peak"),
        stages={name: {"wall_s": round(s.wall, 3), "cpu_s": round(s.cpu, 3)} for name, s in stages.items()},
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("runner", choices=RUNNERS)
    parser.add_argument("--size", type=int, default=None, help="items, for a scaled scenario")
    args = parser.parse_args(argv)
    try:
        result = measure(SCENARIOS[args.scenario], args.runner, args.size)
    except Exception as exc:  # reported in the table, not as a crash of the whole benchmark
        traceback.print_exc()
        result = {
            "scenario": args.scenario,
            "runner": args.runner,
            "size": args.size,
            "error": f"{type(exc).__name__}: {exc}",
        }
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":  # spawn (serve_in_process) re-imports this module: keep the guard
    main()
