"""The command line as a user meets it: exit codes, messages, no tracebacks, nothing leaked."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.sandbox import SandboxConfig, serve

GOOD = """\
version: 1
avatars:
  - key: ava
    type: photo
    name: Ava Reyes
    file: https://cdn.example.com/ava.jpg
looks:
  - key: ava-office
    avatar: ava
    name: Ava, office
    prompt: Business casual in a bright office
"""

SECRET = "sk-test-very-secret-0123456789"


def invoke(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def write(tmp_path: Path, text: str | bytes, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def corrupt_ledger(tmp_path: Path) -> list[str]:
    manifest = write(tmp_path, GOOD)
    (tmp_path / "m.ledger.db").write_bytes(b"garbage" * 100)
    return ["plan", manifest]


def newer_ledger(tmp_path: Path) -> list[str]:
    manifest = write(tmp_path, GOOD)
    db = sqlite3.connect(tmp_path / "m.ledger.db")
    db.execute("PRAGMA user_version=7")
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    return ["plan", manifest]


# Each row: how to set it up → the exit code and what the message must say.
BAD_INPUT = [
    ("not yaml", lambda t: ["validate", write(t, "version: 1\navatars: [\n  - key: x\n")], 2, "m.yaml:"),
    ("not a mapping", lambda t: ["validate", write(t, "- just\n- a list\n")], 2, "mapping"),
    ("wrong type", lambda t: ["validate", write(t, GOOD.replace("name: Ava Reyes", "name: [1, 2]"))], 2, "m.yaml:5"),
    ("unknown version", lambda t: ["validate", write(t, GOOD.replace("version: 1", "version: 9"))], 2, "version"),
    ("deeply nested", lambda t: ["validate", write(t, "version: 1\nx: " + "[" * 200 + "]" * 200 + "\n")], 2, "m.yaml"),
    ("huge", lambda t: ["validate", write(t, b"version: 1\n#" + b"x" * (65 * 1024 * 1024))], 2, "the limit is 64 MiB"),
    ("missing file", lambda t: ["validate", str(t / "nope.yaml")], 2, "nope.yaml"),
    ("a directory", lambda t: ["validate", str(t)], 2, ""),
    ("not utf-8", lambda t: ["validate", write(t, b"version: 1\nname: \xff\xfe\n")], 2, "UTF-8"),
    ("path through a file", lambda t: ["validate", write(t, GOOD) + "/inner.yaml"], 2, "inner.yaml"),
    ("corrupt ledger", corrupt_ledger, 2, "not a ledger"),
    ("newer ledger", newer_ledger, 2, "newer batchavatars"),
    (
        "base url not http",
        lambda t: ["run", write(t, GOOD), "--base-url", "ftp://example.com"],
        2,
        "not an http(s) URL",
    ),
    ("no key", lambda t: ["run", write(t, GOOD), "--base-url", "http://127.0.0.1:9"], 2, "HEYGEN_API_KEY"),
    ("bad option", lambda t: ["run", write(t, GOOD), "--concurrency", "0"], 2, "concurrency"),
]


@pytest.mark.parametrize("case,setup,code,says", BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_gets_a_clear_message_and_its_exit_code(tmp_path, case, setup, code, says, monkeypatch):
    monkeypatch.setenv("HEYGEN_CONFIG_DIR", str(tmp_path / "no-config"))
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    result = invoke(*setup(tmp_path))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert says in result.output


def test_validate_and_plan_json_list_every_item(tmp_path):
    manifest = write(tmp_path, GOOD)
    assert invoke("validate", manifest).exit_code == 0
    result = invoke("plan", manifest, "--json")
    assert result.exit_code == 0
    plan = json.loads(result.output)
    assert [(i["key"], i["action"]) for i in plan["items"]] == [("ava", "create"), ("ava-office", "create")]
    assert not (tmp_path / "m.ledger.db").exists()  # plan makes no ledger and no call


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "batchavatars", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.slow
def test_run_status_export_against_a_server_and_the_key_never_leaks(tmp_path):
    manifest = write(tmp_path, GOOD)
    with serve(SandboxConfig(api_key=SECRET, training_seconds=0.05, rate_limit=None)) as sb:
        proc = run_cli(
            ["run", manifest, "--base-url", sb.url, "-v", "--json-summary", str(tmp_path / "s.json")],
            {"HEYGEN_API_KEY": SECRET},
        )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]  # JSON lines off a terminal
    assert {line["event"] for line in lines} >= {"item_created", "item_succeeded"}
    assert all("key" in line and "attempt" in line for line in lines if line["event"].startswith("item_"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["exit_code"] == 0 and summary["counts"]["succeeded"] == 2 and summary["creations"] == 2

    status = run_cli(["status", manifest], {})
    assert status.returncode == 0 and "succeeded" in status.stdout
    export = run_cli(["export", manifest, "--format", "csv", "-o", str(tmp_path / "out.csv")], {})
    assert export.returncode == 0
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0].startswith("key,kind,type,name,parent,status,look_id,group_id,") and len(rows) == 3
    everything = proc.stdout + proc.stderr + (tmp_path / "out.csv").read_text() + (tmp_path / "s.json").read_text()
    everything += (tmp_path / "m.ledger.db").read_bytes().decode("latin-1")
    assert SECRET not in everything


def test_a_rejected_key_exits_3(tmp_path):
    manifest = write(tmp_path, GOOD)
    with serve(SandboxConfig(api_key="the-right-key", rate_limit=None)) as sb:
        proc = run_cli(["run", manifest, "--base-url", sb.url], {"HEYGEN_API_KEY": "a-wrong-key"})
    assert proc.returncode == 3, proc.stderr
    assert "unauthorized" in proc.stdout + proc.stderr


def test_credentials_file_of_the_official_cli_is_read(tmp_path):
    manifest = write(tmp_path, GOOD)
    config = tmp_path / "heygen"
    config.mkdir()
    (config / "credentials").write_text(json.dumps({"api_key": SECRET}))
    with serve(SandboxConfig(api_key=SECRET, training_seconds=0.05, rate_limit=None)) as sb:
        proc = run_cli(
            ["run", manifest, "--base-url", sb.url], {"HEYGEN_API_KEY": "", "HEYGEN_CONFIG_DIR": str(config)}
        )
    assert proc.returncode == 0, proc.stderr


def test_second_concurrent_run_on_one_ledger_exits_2_naming_the_holder(tmp_path):
    from batchavatars.ledger import Ledger

    manifest = write(tmp_path, GOOD)
    with Ledger(tmp_path / "m.sandbox.ledger.db").exclusive():  # a sandbox trial keeps its own ledger
        proc = run_cli(["run", manifest, "--sandbox"], {})
    assert proc.returncode == 2
    assert f"pid {os.getpid()}" in proc.stderr


def test_init_writes_a_starter_that_validates(tmp_path):
    target = tmp_path / "team.yaml"
    assert invoke("init", str(target)).exit_code == 0
    assert invoke("validate", str(target)).exit_code == 0
    assert invoke("init", str(target)).exit_code == 2  # never overwrites without --force


def test_every_command_has_help_with_an_example():
    for command in ("validate", "plan", "run", "status", "export", "sandbox", "schema", "init"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example" in result.output, command


def test_a_ledger_that_cannot_be_created_is_a_clear_usage_error(tmp_path):
    manifest = write(tmp_path, GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("run", manifest, "--sandbox", "--ledger", str(blocker / "sub" / "l.db"))
    assert result.exit_code == 2 and "cannot create the ledger" in result.output


async def _malformed_server(scope, receive, send):
    """Any server that answers 200 with something that is not the documented shape."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"data": {"unexpected": true}}'})


@pytest.mark.anyio
async def test_a_server_answering_nonsense_fails_items_instead_of_crashing(tmp_path):
    import httpx

    from batchavatars.client import HeyGenClient
    from batchavatars.ledger import Ledger
    from batchavatars.planner import build_plan
    from batchavatars.scheduler import Scheduler
    from batchavatars.settings import RunSettings

    from .specs import avatar

    book = Ledger(tmp_path / "l.db")
    async with HeyGenClient("http://test", "k", transport=httpx.ASGITransport(app=_malformed_server)) as client:
        scheduler = Scheduler(build_plan([avatar("a")], {}), book, client, RunSettings(rate=0, max_attempts=2, seed=1))
        result = await scheduler.run()
    # A 200 means the work may be done: never a new key, the same request next run.
    assert result.counts == {"unanswered": 1} and result.exit_code == 1
    assert "avatar_item" in result.records[0].error_message


def test_the_sandbox_command_serves_on_loopback_and_prints_its_url(tmp_path):
    import signal

    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "batchavatars", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_sandbox/stats", timeout=10).json()["requests_total"] == 0
        manifest = write(tmp_path, GOOD)
        run = run_cli(["run", manifest, "--base-url", url, "--no-wait"], {"HEYGEN_API_KEY": "k"})
        assert run.returncode in (0, 4), run.stderr
        assert httpx.get(f"{url}/_sandbox/stats", timeout=10).json()["created"]["looks"] >= 1
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_plan_exit_code_is_5_when_the_plan_has_work_and_plain_plan_exits_0(tmp_path):
    manifest = write(tmp_path, GOOD)
    assert invoke("plan", manifest).exit_code == 0  # without --exit-code: 0, as ever
    flagged = invoke("plan", manifest, "--exit-code")
    assert flagged.exit_code == 5 and "2 create" in flagged.output
    as_json = invoke("plan", manifest, "--exit-code", "--json")
    assert as_json.exit_code == 5 and json.loads(as_json.output)["counts"] == {"create": 2}
