"""Nothing is created twice, in the ordinary situations that used to break it: retries that ran
out, keys older than HeyGen's replay window, a sandbox trial before the real run, a fixed parent,
a definitive failure, --no-wait crons. Each over real loopback HTTP, asserting what the server saw."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import batchavatars
from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve

from .test_cli import run_cli

pytestmark = pytest.mark.anyio

FAST = dict(rate=0, api_key="test-key")


def roster(n: int, *, photo: str = "https://cdn.example.com/{i}.jpg", fail: tuple[int, ...] = ()) -> str:
    """n photo presenters with one look each."""
    lines = ["version: 1", "avatars:"]
    for i in range(n):
        name = f"Presenter {i}" + (" [fail]" if i in fail else "")
        lines.append(f'  - {{key: p{i}, type: photo, name: "{name}", file: "{photo.format(i=i)}"}}')
    lines.append("looks:")
    lines += [f"  - {{key: p{i}-office, avatar: p{i}, name: Office {i}, prompt: In an office}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def posts(sb) -> int:
    return sb.stats()["requests"].get("POST /v3/avatars", 0)


@pytest.mark.slow
async def test_retries_that_run_out_resume_with_the_same_key_until_done_without_duplicates(tmp_path):
    manifest = write(tmp_path, roster(10))
    faults = SandboxConfig(training_seconds=0.05, rate_limit=None, seed=7, fault_5xx=0.5, fault_lost_response=0.33)
    with serve(faults) as sb:
        for _ in range(40):
            result = await batchavatars.arun(manifest, base_url=sb.url, max_attempts=2, **FAST)
            if result.exit_code == 0:
                break
            assert result.counts.get("failed", 0) == 0  # nothing ambiguous is ever called a definitive failure
        stats = sb.stats()
    assert result.exit_code == 0, result.counts
    assert stats["duplicates"] == 0 and stats["created"]["looks"] == 20
    assert stats["faults"]  # the faults did happen


async def test_a_run_killed_with_creations_unanswered_resumed_after_the_replay_window_makes_no_duplicate(tmp_path):
    manifest = write(tmp_path, roster(3))
    cfg = SandboxConfig(
        training_seconds=0.05, rate_limit=None, fault_lost_response=1.0, fault_routes=["POST /v3/avatars"]
    )
    with serve(cfg) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, max_attempts=1, **FAST)
        assert first.counts == {"unanswered": 3, "blocked": 3}  # sent, answers lost: the avatars exist
        assert sb.stats()["created"]["looks"] == 3
        # Two days later: HeyGen no longer replays those keys (here: a window of 0 s on both sides).
        sb.configure(fault_lost_response=0.0, replay_window_seconds=0.0)
        second = await batchavatars.arun(manifest, base_url=sb.url, replay_window=0.0, **FAST)
        stats = sb.stats()
    assert second.exit_code == 0, second.counts
    assert stats["duplicates"] == 0 and stats["created"]["looks"] == 6  # 3 avatars adopted, 3 looks made


async def test_keys_not_found_on_the_account_after_the_window_are_sent_again_under_a_new_key(tmp_path):
    manifest = write(tmp_path, roster(2))
    cfg = SandboxConfig(training_seconds=0.05, rate_limit=None, fault_5xx=1.0, fault_routes=["POST /v3/avatars"])
    with serve(cfg) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, max_attempts=1, **FAST)
        assert first.counts["unanswered"] == 2 and sb.stats()["created"]["looks"] == 0
        keys = {r.key: r.idempotency_key for r in first.records}
        sb.configure(fault_5xx=0.0)
        second = await batchavatars.arun(manifest, base_url=sb.url, replay_window=0.0, **FAST)
        stats = sb.stats()
    assert second.exit_code == 0 and stats["created"]["looks"] == 4 and stats["duplicates"] == 0
    after = {r.key: r for r in second.records}
    assert after["p0"].idempotency_key != keys["p0"] and after["p0"].generation == 1


@pytest.mark.slow
def test_a_sandbox_trial_keeps_its_own_ledger_and_a_ledger_keeps_its_api(tmp_path):
    manifest = str(write(tmp_path, roster(2)))
    trial = run_cli(["run", manifest, "--sandbox", "--rate", "0", "--wait-timeout", "30"], {})
    assert trial.returncode == 0, trial.stderr[-2000:]
    assert (tmp_path / "team.sandbox.ledger.db").exists() and not (tmp_path / "team.ledger.db").exists()
    env = {"HEYGEN_API_KEY": "real-key"}
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as real:
        proc = run_cli(["run", manifest, "--base-url", real.url, "--rate", "0"], env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert posts(real) == 4  # everything created on the real server, nothing skipped
    with serve(SandboxConfig(rate_limit=None)) as other:
        proc = run_cli(["run", manifest, "--base-url", other.url], env)
        assert proc.returncode == 2 and posts(other) == 0
    assert real.url.split("//")[1] in proc.stderr and "Fix:" in proc.stderr  # names the API it was made with
    status = run_cli(["status", manifest, "--sandbox", "--json"], {})
    assert status.returncode == 0 and '"succeeded": 4' in status.stdout


@pytest.mark.slow
async def test_a_fixed_parent_with_a_fresh_ledger_gets_its_looks_in_its_own_group(tmp_path):
    manifest = write(tmp_path, roster(3, photo="https://cdn.example.com/old-{i}.jpg"))
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        old_groups = {r.group_id for r in first.records}
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"team.ledger.db{suffix}").unlink(missing_ok=True)
        write(tmp_path, roster(3, photo="https://cdn.example.com/new-{i}.jpg"))
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    records = {r.key: r for r in second.records}
    assert second.exit_code == 0 and stats["created"]["looks"] == 12  # the looks were made again, not replayed
    for i in range(3):
        assert records[f"p{i}-office"].group_id == records[f"p{i}"].group_id
        assert records[f"p{i}"].group_id not in old_groups


async def test_a_definitive_failure_is_not_billed_again_unless_asked(tmp_path):
    manifest = write(tmp_path, roster(2, fail=(1,)))
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        assert first.exit_code == 1 and posts(sb) == 3  # p1 failed training; its look is blocked
        again = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        assert posts(sb) == 3 and again.exit_code == 1  # a plain rerun sends nothing
        states = {r.key: r.status for r in again.records}
        assert states == {"p0": "succeeded", "p1": "failed", "p0-office": "succeeded", "p1-office": "blocked"}
        plan = batchavatars.plan(manifest)
        assert plan.steps["p1"].action == "skip" and "--retry-failed" in plan.steps["p1"].reason
        await batchavatars.arun(manifest, base_url=sb.url, retry_failed=True, **FAST)
        assert posts(sb) == 4  # once more, as asked


@pytest.mark.slow
def test_no_wait_runs_a_while_apart_finish_what_trains_between_them(tmp_path):
    manifest = str(write(tmp_path, roster(3)))
    env = {"HEYGEN_API_KEY": "k"}
    codes = []
    with serve(SandboxConfig(training_seconds=1.0, rate_limit=None)) as sb:
        for _ in range(6):
            proc = run_cli(["run", manifest, "--base-url", sb.url, "--rate", "0", "--no-wait"], env)
            codes.append(proc.returncode)
            if proc.returncode == 0:
                break
            time.sleep(1.5)  # the cron's interval: a real wait on the sandbox's training clock
        stats = sb.stats()
    assert codes[-1] == 0 and set(codes[:-1]) <= {4}, codes
    assert stats["created"]["looks"] == 6 and stats["duplicates"] == 0
    records = Ledger(tmp_path / "team.ledger.db", create=False).records()
    assert {r.status for r in records.values()} == {"succeeded"}


async def test_out_of_credits_leaves_nothing_half_sent_and_the_next_run_goes_on(tmp_path):
    manifest = write(tmp_path, roster(4))
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None, credits=3)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, concurrency=1, **FAST)
        states = {r.key: r.status for r in first.records}
        assert "creating" not in states.values()  # a POST that never left is not an intent
        assert sum(s == "succeeded" for s in states.values()) == 3 and first.creations == 3
        refused = [r for r in first.records if r.status == "failed"]
        assert [r.error_code for r in refused] == ["insufficient_credit"]
        sb.configure(credits=10)  # topped up
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        stats = sb.stats()
    assert second.exit_code == 0 and stats["created"]["looks"] == 8 and stats["duplicates"] == 0


async def test_a_replayed_creation_is_not_counted_as_credits_spent(tmp_path):
    manifest = write(tmp_path, roster(1))
    cfg = SandboxConfig(
        training_seconds=0.05, rate_limit=None, fault_lost_response=1.0, fault_routes=["POST /v3/avatars"]
    )
    with serve(cfg) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, max_attempts=1, **FAST)
        assert first.creations == 0 and sb.stats()["created"]["looks"] == 1  # made, answer lost
        sb.configure(fault_lost_response=0.0)
        second = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        replays = sb.stats()["idempotent_replays"]
    assert replays == 1
    assert second.creations == 1  # the look only; the avatar's answer was a replay


async def test_a_local_photo_replaced_in_place_is_a_change(tmp_path):
    from .media import png_bytes

    (tmp_path / "ava.png").write_bytes(png_bytes(shade=10))
    manifest = write(tmp_path, "version: 1\navatars:\n  - {key: ava, type: photo, name: Ava, file: ./ava.png}\n")
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        first = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        assert first.exit_code == 0 and batchavatars.plan(manifest).steps["ava"].action == "skip"
        (tmp_path / "ava.png").write_bytes(png_bytes(shade=200))  # a new photo, same path
        assert batchavatars.plan(manifest).steps["ava"].action == "changed"
        again = await batchavatars.arun(manifest, base_url=sb.url, **FAST)
        assert posts(sb) == 1 and again.exit_code == 0  # reported, not silently replaced


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_an_unreachable_api_is_one_line_not_a_failure_per_item(tmp_path):
    manifest = str(write(tmp_path, roster(20)))  # 40 items
    proc = run_cli(
        ["run", manifest, "--base-url", f"http://127.0.0.1:{_free_port()}", "--no-report"], {"HEYGEN_API_KEY": "k"}
    )
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 6 and len(lines) < 15, lines  # the one exit code for an API not there
    assert "cannot reach the API at http://127.0.0.1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "team.ledger.db").exists()  # a run that reached nothing leaves no ledger behind
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:  # the URL put right
        fixed = run_cli(["run", manifest, "--base-url", sb.url, "--rate", "0", "--no-report"], {"HEYGEN_API_KEY": "k"})
    assert fixed.returncode == 0, fixed.stderr


@pytest.mark.slow
def test_a_base_url_answering_404_everywhere_is_named_not_blamed_on_the_manifest(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Nothing(BaseHTTPRequestHandler):
        def _404(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _404

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Nothing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manifest = str(write(tmp_path, roster(5)))
        url = f"http://127.0.0.1:{server.server_address[1]}/v2"
        proc = run_cli(["run", manifest, "--base-url", url, "--no-report"], {"HEYGEN_API_KEY": "k"})
    finally:
        server.shutdown()
    assert proc.returncode == 6 and "nothing answered there" in proc.stderr and "--base-url" in proc.stderr
