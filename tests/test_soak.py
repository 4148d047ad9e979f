"""Exactly once under faults, crashes and interruptions: nothing made twice, nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchavatars.client import Timeouts
from batchavatars.exitcodes import ExitCode
from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve

from .runs import run_items
from .specs import avatar, look


def roster(n: int) -> list:
    items = []
    for i in range(n):
        items.append(avatar(f"a{i}", ("photo", "prompt", "digital_twin")[i % 3], name=f"Presenter {i}"))
        items.append(look(f"a{i}-x", f"a{i}", name=f"Presenter {i}, x"))
        if i % 4 == 0:
            items.append(look(f"a{i}-x-y", f"a{i}-x", name=f"Presenter {i}, x, y"))
    return items


def roster_yaml(n: int) -> str:
    lines = ["version: 1", "avatars:"]
    looks = ["looks:"]
    for i in range(n):
        kind = ("photo", "prompt", "digital_twin")[i % 3]
        lines += [f"  - key: a{i}", f"    type: {kind}", f"    name: Presenter {i}"]
        lines.append(
            f"    prompt: Presenter number {i}"
            if kind == "prompt"
            else f"    file: https://cdn.example.com/a{i}.{'mp4' if kind == 'digital_twin' else 'jpg'}"
        )
        looks += [f"  - key: a{i}-x", f"    avatar: a{i}", f"    name: Presenter {i}, x", "    prompt: Office"]
        if i % 4 == 0:
            looks += [
                f"  - key: a{i}-x-y",
                f"    avatar: a{i}-x",
                f"    name: Presenter {i}, x, y",
                "    prompt: Night",
            ]
    return "\n".join(lines + looks) + "\n"


FAULTS = dict(
    fault_5xx=0.04,
    fault_lost_response=0.04,
    fault_drop=0.03,
    fault_slow=0.02,
    slow_seconds=1.0,
    burst_429=0.03,
    retry_after_format="date",
)


@pytest.mark.anyio
@pytest.mark.slow
async def test_soak_with_every_kind_of_fault_ends_all_succeeded_and_no_duplicates(tmp_path):
    items = roster(50)  # 113 items
    assert len(items) >= 100
    cfg = SandboxConfig(
        training_seconds=0.05, consent_approval_seconds=0.05, rate_limit=None, latency=0.002, seed=11, **FAULTS
    )
    with serve(cfg) as sb:
        # a read timeout well under slow_seconds: slow answers become timeouts, retried with the same key
        result = await run_items(
            items, sb.url, tmp_path / "l.db", max_attempts=12, concurrency=16, timeouts=Timeouts(read=0.5, write=0.5)
        )
        stats = sb.stats()
    assert result.exit_code == ExitCode.OK, {r.key: r.error_message for r in result.records if r.status != "succeeded"}
    for kind in ("5xx", "lost_response", "drop", "slow"):
        assert stats["faults"][kind] > 0, kind
    assert stats["rate_limited"]["total"] > 0
    assert stats["duplicates"] == 0
    assert stats["created"]["looks"] == len(items)


def _run(manifest: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen(
        # paced at 40 requests/s, a whole run takes a few seconds: kills land mid-run, not after it
        [
            sys.executable,
            "-m",
            "batchavatars",
            "run",
            str(manifest),
            "--base-url",
            url,
            "--rate",
            "40",
            "--concurrency",
            "16",
            "--max-attempts",
            "12",
            "--log-format",
            "json",
            "-q",
        ],
        env={**os.environ, "HEYGEN_API_KEY": "soak-key"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_at_random_points_and_restarted_until_done_makes_nothing_twice(tmp_path, seed):
    manifest = tmp_path / "soak.yaml"
    manifest.write_text(roster_yaml(45))  # 102 items
    rng = random.Random(seed)
    cfg = SandboxConfig(
        training_seconds=0.1,
        consent_approval_seconds=0.1,
        rate_limit=None,
        latency=0.005,
        seed=seed,
        **{**FAULTS, "slow_seconds": 0.3},
    )
    kills = 0
    with serve(cfg) as sb:
        for _ in range(40):
            proc = _run(manifest, sb.url)
            try:
                code = proc.wait(timeout=rng.uniform(0.6, 1.6))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
            assert code == 0, proc.stderr.read().decode()[-2000:]
            break
        else:
            pytest.fail("never finished")
        stats = sb.stats()
    assert kills >= 2  # the runner really was killed mid-run
    assert stats["duplicates"] == 0
    assert stats["created"]["looks"] == 102
    records = Ledger(tmp_path / "soak.ledger.db", create=False).records()
    assert {r.status for r in records.values()} == {"succeeded"}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_new_work_records_everything_and_exits_130(tmp_path, signum):
    manifest = tmp_path / "int.yaml"
    manifest.write_text(roster_yaml(30))
    with serve(SandboxConfig(training_seconds=0.2, consent_approval_seconds=0.2, rate_limit=None, latency=0.02)) as sb:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batchavatars", "run", str(manifest), "--base-url", sb.url, "--rate", "20"],
            env={**os.environ, "HEYGEN_API_KEY": "k"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.5)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err.decode()[-2000:]
        assert b"Traceback" not in err
        records = Ledger(tmp_path / "int.ledger.db", create=False).records()
        statuses = {r.status for r in records.values()}
        assert "pending" in statuses  # stopped starting new work
        made = sb.stats()["created"]["looks"]
        assert made == sum(1 for r in records.values() if r.look_id)  # everything made is recorded
        again = subprocess.run(
            [sys.executable, "-m", "batchavatars", "run", str(manifest), "--base-url", sb.url, "--rate", "0"],
            env={**os.environ, "HEYGEN_API_KEY": "k"},
            capture_output=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr.decode()[-2000:]
        assert sb.stats()["duplicates"] == 0
