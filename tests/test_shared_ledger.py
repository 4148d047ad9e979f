"""The ledger a team shares: PostgreSQL (a throwaway cluster of the session's own, tests/pg.py),
against the sandbox over loopback, asserting what the server saw. Two folders at once, kill -9
mid-run, a copy from SQLite, a saved plan gone stale, a workspace per manifest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

import batchavatars
from batchavatars.ledger import PostgresLedger
from batchavatars.sandbox import SandboxConfig, serve

from .test_cli import run_cli

pytestmark = pytest.mark.slow


def roster(n: int, looks: bool = True) -> str:
    lines = ["version: 1", "avatars:"]
    lines += [f'  - {{key: p{i}, type: photo, name: P{i}, file: "https://cdn.example.com/{i}.jpg"}}' for i in range(n)]
    if looks:
        lines.append("looks:")
        lines += [f"  - {{key: p{i}-office, avatar: p{i}, name: P{i} office, prompt: Office}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def folder(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).mkdir()
    path = tmp_path / name / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def ledger(postgres_url: str) -> dict[str, str]:
    """The environment that points a run at the PostgreSQL ledger, a workspace of this test's own."""
    return {"BATCHAVATARS_LEDGER": postgres_url, "BATCHAVATARS_WORKSPACE": f"team-{uuid.uuid4().hex[:8]}"}


def test_two_folders_at_once_share_one_workspace_and_make_each_item_once(tmp_path, ledger):
    here, there = folder(tmp_path, "laptop", roster(8)), folder(tmp_path, "nightly", roster(8))
    env = {**os.environ, **ledger, "HEYGEN_API_KEY": "k"}
    with serve(SandboxConfig(training_seconds=0.3, rate_limit=None)) as sb:
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "batchavatars", "run", where, "--base-url", sb.url, "--no-report"]
                + ["--lock-timeout", "60"],  # both patient: whichever takes the lock first, the other waits
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for where in (here, there)
        ]
        done = [(proc.wait(timeout=180), proc.stderr.read()) for proc in runs]
        stats = sb.stats()
    assert [code for code, _ in done] == [0, 0], done
    assert stats["created"]["looks"] == 16 and stats["duplicates"] == 0  # each item once
    assert stats["requests"]["POST /v3/avatars"] == 16  # the second run waited, then found nothing to send


def test_a_second_writer_without_patience_is_refused_naming_the_holder(tmp_path, ledger):
    here, there = folder(tmp_path, "a", roster(2)), folder(tmp_path, "b", roster(2))
    env = {**os.environ, **ledger, "HEYGEN_API_KEY": "k"}
    with serve(SandboxConfig(training_seconds=5.0, rate_limit=None)) as sb:
        first = subprocess.Popen(
            [sys.executable, "-m", "batchavatars", "run", here, "--base-url", sb.url, "--no-report"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(2.0)  # it holds the workspace while its avatars train
        second = run_cli(
            ["run", there, "--base-url", sb.url, "--no-report", "--log-format", "console"],
            ledger | {"HEYGEN_API_KEY": "k"},
        )
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
    assert second.returncode == 2
    assert "another run holds this workspace" in second.stderr and f"pid {first.pid}" in second.stderr
    assert "batchavatars run team.yaml" in second.stderr  # what the holder is running


def test_a_run_killed_with_minus_9_resumes_from_postgres_without_a_duplicate(tmp_path, ledger):
    manifest = folder(tmp_path, "team", roster(20))
    env = {**os.environ, **ledger, "HEYGEN_API_KEY": "k"}
    with serve(SandboxConfig(training_seconds=0.5, rate_limit=20)) as sb:
        command = [sys.executable, "-m", "batchavatars", "run", manifest, "--base-url", sb.url, "--no-report"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while sb.stats()["created"]["looks"] < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # halfway: avatars made, looks on their way
        proc.wait(timeout=10)
        again = subprocess.run([*command, "--log-format", "json"], capture_output=True, text=True, env=env, timeout=180)
        stats = sb.stats()
    assert proc.returncode == -signal.SIGKILL
    assert again.returncode == 0, again.stderr[-2000:]
    assert stats["duplicates"] == 0 and stats["created"]["looks"] == 40


def test_a_look_deleted_on_the_account_is_found_and_made_again_with_the_ledger_in_postgres(tmp_path, ledger):
    manifest = folder(tmp_path, "team", roster(2, looks=False))
    env = ledger | {"HEYGEN_API_KEY": "k"}
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        url = ["--base-url", sb.url]
        assert run_cli(["run", manifest, *url, "--no-report"], env).returncode == 0
        gone = batchavatars.status(manifest, ledger=env["BATCHAVATARS_LEDGER"], workspace=env["BATCHAVATARS_WORKSPACE"])
        look = {r.key: r.look_id for r in gone.records}["p1"]
        httpx.delete(f"{sb.url}/v3/avatars/looks/{look}", headers={"X-Api-Key": "k"}).raise_for_status()
        found = run_cli(["plan", manifest, *url, "--refresh", "--json"], env)
        rows = {row["key"]: row for row in json.loads(found.stdout)["items"]}
        alert = run_cli(["plan", manifest, *url, "--refresh", "--exit-code"], env)
        posts = sb.stats()["requests"]["POST /v3/avatars"]
        mended = run_cli(["run", manifest, *url, "--refresh", "--no-report"], env)
        made = sb.stats()["requests"]["POST /v3/avatars"] - posts
        quiet = run_cli(["plan", manifest, "--exit-code"], env)
    assert (rows["p1"]["action"], rows["p0"]["action"]) == ("create", "skip")
    assert rows["p1"]["reason"].startswith(f"deleted on the account (look {look})")
    assert alert.returncode == 5 and mended.returncode == 0, mended.stderr[-2000:]
    assert made == 1 and quiet.returncode == 0, quiet.stdout


def test_a_sqlite_ledger_copied_into_postgres_runs_on_with_no_creation(tmp_path, postgres_url):
    manifest = folder(tmp_path, "team", roster(3))
    workspace = f"team-{uuid.uuid4().hex[:8]}"
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = batchavatars.run(manifest, base_url=sb.url, api_key="k", rate=0)
        assert first.exit_code == 0
        copied = run_cli(
            ["ledger", "copy", str(Path(manifest).with_name("team.ledger.db")), f"{postgres_url}#{workspace}"], {}
        )
        assert copied.returncode == 0, copied.stderr
        posts = sb.stats()["requests"]["POST /v3/avatars"]
        again = batchavatars.run(
            manifest, base_url=sb.url, api_key="k", rate=0, ledger=postgres_url, workspace=workspace
        )
        assert sb.stats()["requests"]["POST /v3/avatars"] == posts  # 0 creations on the copy
    assert again.exit_code == 0 and again.counts == {"succeeded": 6}
    book = PostgresLedger(postgres_url, workspace, readonly=True)
    assert book.meta("base_url") is not None and book.meta("manifest") == "team.yaml"  # the bindings came along
    book.close()
    refused = run_cli(
        ["ledger", "copy", str(Path(manifest).with_name("team.ledger.db")), f"{postgres_url}#{workspace}"], {}
    )
    assert refused.returncode == 2 and "never overwrites" in refused.stderr


def test_a_saved_plan_against_postgres_goes_stale_when_the_manifest_moves(tmp_path, ledger):
    manifest, saved = folder(tmp_path, "team", roster(2)), tmp_path / "p.json"
    assert run_cli(["plan", manifest, "-o", str(saved)], ledger).returncode == 0
    Path(manifest).write_text(roster(3), encoding="utf-8")
    with serve(SandboxConfig(rate_limit=None)) as sb:
        proc = run_cli(
            ["run", manifest, "--base-url", sb.url, "--plan", str(saved), "--no-report"],
            ledger | {"HEYGEN_API_KEY": "k"},
        )
        sent = sb.stats()["requests_total"]
    assert proc.returncode == 2 and "the manifest: added p2, p2-office" in proc.stderr and sent == 0


def test_the_workspace_is_the_manifests_name_and_a_sandbox_trial_keeps_its_own(tmp_path, postgres_url):
    manifest = folder(tmp_path, "team", roster(1, looks=False))
    trial = batchavatars.run(manifest, sandbox=True, rate=0, ledger=postgres_url)
    assert trial.exit_code == 0 and trial.ledger_name is not None and trial.ledger_name.endswith("#team.sandbox")
    assert batchavatars.status(manifest, ledger=postgres_url, sandbox=True).records[0].status == "succeeded"
    real = batchavatars.plan(manifest, ledger=postgres_url)
    assert real.counts() == {"create": 1}  # the real workspace knows nothing of the trial's fake ids
