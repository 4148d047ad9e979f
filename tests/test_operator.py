"""The operator's second look: one-line errors where tracebacks were, output that survives pipes,
odd encodings and read-only ledgers, links that cannot wait, and the pre-flight `check`.
Every test runs the CLI as a subprocess, against the sandbox over loopback where the API matters."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from batchavatars.commands.common import run_logs_json
from batchavatars.ledger import Ledger
from batchavatars.records import Record
from batchavatars.sandbox import SandboxConfig, serve

from .test_cli import GOOD, run_cli, write
from .test_terminal import plain_lines, run_on_a_terminal

TWIN = """\
version: 1
avatars:
  - {key: zoe, type: digital_twin, name: "Zoë Ångström", file: "https://cdn.example.com/zoe.mp4"}
  - {key: ava, type: photo, name: Ava, file: "https://cdn.example.com/ava.jpg"}
"""


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both and "internal error" not in both, both[-2000:]


def fast_sandbox(**changes: object) -> SandboxConfig:
    return SandboxConfig(**{"training_seconds": 0.05, "rate_limit": None, **changes})


# -- the key -----------------------------------------------------------------------------------


def test_an_empty_credentials_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "credentials").write_text("")
    env = {"HEYGEN_API_KEY": "", "HEYGEN_CONFIG_DIR": str(tmp_path)}
    proc = run_cli(["run", write(tmp_path, GOOD), "--base-url", "http://127.0.0.1:9"], env)
    assert proc.returncode == 2
    no_traceback(proc)
    assert "credentials: holds no api_key" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("source", ["env", "file"])
def test_a_non_ascii_key_is_named_as_such(tmp_path, source):
    key = "sk-“pasted”-0123"
    if source == "env":
        env = {"HEYGEN_API_KEY": key}
    else:
        (tmp_path / "credentials").write_text(json.dumps({"api_key": key}))
        env = {"HEYGEN_API_KEY": "", "HEYGEN_CONFIG_DIR": str(tmp_path)}
    with serve(fast_sandbox()) as sb:
        for args in (["run", write(tmp_path, GOOD), "--base-url", sb.url], ["check", write(tmp_path, GOOD)]):
            proc = run_cli(args, {**env, "HEYGEN_BASE_URL": sb.url})
            assert proc.returncode == 2, proc.stderr
            no_traceback(proc)
            assert "the key holds non-ASCII characters" in proc.stderr
            assert key not in proc.stderr  # the key is never printed, not even a bad one
        assert sb.stats()["requests_total"] == 0  # refused before the first request


# -- encodings and pipes --------------------------------------------------------------------------


@pytest.mark.slow
def test_an_ascii_only_stdout_still_gets_the_summary_with_accented_names(tmp_path):
    manifest = write(tmp_path, TWIN)
    with serve(fast_sandbox(consent_approval_seconds=None)) as sb:
        proc = run_cli(
            ["run", manifest, "--base-url", sb.url, "--log-format", "console", "--wait-timeout", "1"],
            {"HEYGEN_API_KEY": "k", "PYTHONIOENCODING": "ascii"},
        )
    no_traceback(proc)
    assert proc.returncode == 4  # the twin waits for consent
    assert "zoe (Zo? ?ngstr?m): http" in proc.stdout  # the consent line, the name as ASCII can show it


def many_records(path: Path, n: int) -> None:
    book = Ledger(path)
    book.put_many(
        [
            Record(
                key=f"item-{i:05d}",
                kind="avatar",
                type="photo",
                name=f"P{i}",
                parent=None,
                status="failed",
                spec_hash="h",
                error_code="invalid_parameter",
                error_message="bad photo",
                error_source="heygen",
            )
            for i in range(n)
        ]
    )
    book.close()


def output_to_a_closed_pipe(args: list[str], cwd: Path) -> tuple[int, str]:
    """`batchavatars ARGS | head -1` once head has gone: the pipe's reader is closed before the
    command writes, so its first write (or flush) meets the closed pipe, every time."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "batchavatars", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, "HEYGEN_API_KEY": "k"},
            timeout=120,
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [["plan"], ["plan", "--json"], ["export"], ["export", "--format", "csv"], ["status"], ["status", "--json"]],
    ids=" ".join,
)
def test_a_closed_pipe_ends_the_command_quietly(tmp_path, args):
    lines = ["version: 1", "avatars:"]
    lines += [
        f"  - {{key: item-{i:05d}, type: photo, name: P{i}, file: 'https://x.example/{i}.jpg'}}" for i in range(50)
    ]
    manifest = write(tmp_path, "\n".join(lines) + "\n")
    many_records(tmp_path / "m.ledger.db", 50)
    code, err = output_to_a_closed_pipe([args[0], manifest, *args[1:]], tmp_path)
    assert err == ""  # no "internal error", no "Exception ignored ... BrokenPipeError"
    assert code == 141  # as git and `yes | head -1` report a closed pipe


# -- output paths, checked before any work --------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "target", "problem"),
    [
        ("--json-summary", "missing/s.json", "folder"),
        ("--json-summary", ".", "is a directory"),
        ("--report", "m.yaml/r.html", "is not a folder"),  # missing folders it makes; a file in the way, no
        ("--report", ".", "is a directory"),
    ],
)
def test_run_output_paths_are_checked_before_anything_is_sent(tmp_path, option, target, problem):
    manifest = write(tmp_path, GOOD)
    with serve(fast_sandbox()) as sb:
        proc = run_cli(["run", manifest, "--base-url", sb.url, option, str(tmp_path / target)], {"HEYGEN_API_KEY": "k"})
        sent = sb.stats()["requests_total"]
    assert proc.returncode == 2
    no_traceback(proc)
    assert option in proc.stderr and str(tmp_path / target) in proc.stderr and problem in proc.stderr
    assert not (tmp_path / "m.ledger.db").exists()  # nothing was started
    assert sent == 0


def test_export_output_path_is_checked_before_reading(tmp_path):
    manifest = write(tmp_path, GOOD)
    many_records(tmp_path / "m.ledger.db", 2)
    proc = run_cli(["export", manifest, "-o", str(tmp_path / "nope" / "out.csv")], {})
    assert proc.returncode == 2 and "-o/--output" in proc.stderr and "nope" in proc.stderr
    no_traceback(proc)


# -- the ledger ------------------------------------------------------------------------------------

DROP = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"] if os.geteuid() == 0 else []


def run_unprivileged(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """As a user whom file permissions bind (root ignores them)."""
    return subprocess.run(
        [*DROP, sys.executable, "-m", "batchavatars", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


@pytest.fixture
def read_only_project(tmp_path):
    """A manifest run once, then its ledger file and folder made read-only."""
    folder = tmp_path / "ro"
    folder.mkdir()
    manifest = write(folder, GOOD)
    with serve(fast_sandbox()) as sb:
        done = run_cli(["run", manifest, "--base-url", sb.url, "--no-report"], {"HEYGEN_API_KEY": "k"})
    assert done.returncode == 0, done.stderr
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "m.ledger.db").chmod(0o444)
    folder.chmod(0o555)
    yield folder, manifest, before
    folder.chmod(0o755)


def test_read_only_commands_work_on_a_read_only_ledger_and_change_nothing(read_only_project, tmp_path):
    folder, manifest, before = read_only_project
    plan = run_unprivileged(["plan", manifest], {})
    assert plan.returncode == 0 and "2 skip" in plan.stdout, plan.stderr
    status = run_unprivileged(["status", manifest, "--json"], {})
    assert status.returncode == 0 and json.loads(status.stdout)["counts"]["succeeded"] == 2, status.stderr
    export = run_unprivileged(["export", manifest, "--format", "jsonl"], {})
    assert export.returncode == 0 and len(export.stdout.splitlines()) == 2, export.stderr
    report = run_unprivileged(["report", manifest, "-o", str(tmp_path / "r.html")], {})
    assert report.returncode == 0, report.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_run_on_a_read_only_ledger_says_read_only_never_corrupt(read_only_project):
    folder, manifest, before = read_only_project
    with serve(fast_sandbox()) as sb:
        proc = run_unprivileged(["run", manifest, "--base-url", sb.url, "--no-report"], {"HEYGEN_API_KEY": "k"})
    assert proc.returncode == 2
    no_traceback(proc)
    message = proc.stderr.lower()
    assert "read-only" in message and "fix:" in message
    assert "corrupt" not in message and "--adopt" not in message and "not a usable" not in message


@pytest.mark.slow
def test_a_ledger_of_another_manifest_is_refused_untouched(tmp_path):
    first = write(tmp_path, GOOD, "first.yaml")
    second = write(tmp_path, GOOD.replace("key: ava-office", "key: ava-home"), "second.yaml")
    shared = tmp_path / "shared.ledger.db"
    with serve(fast_sandbox()) as sb:
        made = run_cli(["run", first, "--base-url", sb.url, "--ledger", str(shared)], {"HEYGEN_API_KEY": "k"})
        assert made.returncode == 0, made.stderr
        before = shared.read_bytes()
        for args in (["run", second, "--base-url", sb.url], ["plan", second]):
            proc = run_cli([*args, "--ledger", str(shared)], {"HEYGEN_API_KEY": "k"})
            assert proc.returncode == 2, proc.stderr
            no_traceback(proc)
            assert "first.yaml" in proc.stderr and "second.yaml" in proc.stderr and "--ledger" in proc.stderr
    assert shared.read_bytes() == before


@pytest.mark.parametrize(
    "tables", [["CREATE TABLE users (id, email)"], ["CREATE TABLE items (key)", "CREATE TABLE orders (id)"]]
)
def test_an_sqlite_file_that_is_not_a_ledger_is_refused_untouched(tmp_path, tables):
    manifest = write(tmp_path, GOOD)
    app = tmp_path / "app.db"
    db = sqlite3.connect(app)
    for sql in tables:
        db.execute(sql)
    db.commit()
    db.close()
    before = app.read_bytes()
    with serve(fast_sandbox()) as sb:
        for args in (["run", manifest, "--base-url", sb.url], ["plan", manifest], ["status"]):
            proc = run_cli([*args, "--ledger", str(app)], {"HEYGEN_API_KEY": "k"})
            assert proc.returncode == 2, proc.stdout + proc.stderr
            no_traceback(proc)
            assert "not a batchavatars ledger" in proc.stderr and "--ledger" in proc.stderr
    assert app.read_bytes() == before and not Path(str(app) + "-wal").exists()


# -- output ----------------------------------------------------------------------------------------


def test_off_a_terminal_nothing_is_wrapped_and_blocked_descendants_are_collapsed(tmp_path):
    long_key = "a-very-long-avatar-key-that-would-not-fit-in-eighty-columns-anyway-x"[:64]
    lines = [
        "version: 1",
        "avatars:",
        f"  - {{key: {long_key}, type: photo, name: '[fail] P', file: 'https://x.example/p.jpg'}}",
        "looks:",
    ]
    lines += [f"  - {{key: look-{i}, avatar: {long_key}, name: L{i}, prompt: p}}" for i in range(12)]
    lines += ["  - {key: look-of-look, avatar: look-0, name: LL, prompt: p}"]
    deep = tmp_path / ("folder-" + "x" * 80)
    deep.mkdir()
    manifest = write(deep, "\n".join(lines) + "\n")
    with serve(fast_sandbox()) as sb:
        proc = run_cli(["run", manifest, "--base-url", sb.url, "--log-format", "console"], {"HEYGEN_API_KEY": "k"})
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert f"Ledger: {deep}/m.ledger.db" in out  # the path whole on one line
    assert long_key in out  # the key whole, not folded
    assert "…and 13 looks blocked by `" + long_key + "`" in out
    assert "look-7" not in out  # the descendants are counted, not listed
    assert "1 creation ≈" in out and "0 uploads" in out  # plurals


def test_verbose_logs_every_request_with_route_status_time_and_request_id(tmp_path):
    manifest = write(tmp_path, GOOD)
    with serve(fast_sandbox()) as sb:
        proc = run_cli(["run", manifest, "--base-url", sb.url, "-v", "--no-report"], {"HEYGEN_API_KEY": "k"})
        sent = sb.stats()["requests_total"]
    assert proc.returncode == 0, proc.stderr
    requests = [line for line in map(json.loads, proc.stderr.splitlines()) if line["event"] == "request"]
    creates = [r for r in requests if r["method"] == "POST" and r["route"] == "/v3/avatars"]
    assert len(creates) == 2 and all(r["status"] == 200 and r["ms"] >= 0 for r in creates)
    assert any(r["route"] == "/v3/users/me" for r in requests)
    assert len(requests) == sent  # every request the server saw, one line each


@pytest.mark.slow
def test_json_logs_make_every_line_json_with_one_run_summary(tmp_path):
    manifest = write(tmp_path, TWIN)
    with serve(fast_sandbox(consent_approval_seconds=None)) as sb:
        proc = run_cli(
            ["run", manifest, "--base-url", sb.url, "--log-format", "json", "--wait-timeout", "1"],
            {"HEYGEN_API_KEY": "k"},
        )
    assert proc.returncode == 4, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    err = [json.loads(line) for line in proc.stderr.splitlines()]
    assert [line["event"] for line in out] == ["run_summary"]
    summary = out[0]
    assert summary["counts"]["awaiting_consent"] == 1 and summary["awaiting_consent"][0]["consent_url"]
    assert summary["ledger"].endswith("m.ledger.db") and summary["report"].endswith("m.report.html")
    assert {"requests", "creations", "credits", "elapsed_seconds", "exit_code"} <= set(summary)
    assert all("event" in line and "level" in line for line in err)


@pytest.mark.parametrize("log_format", ["json", "console"])
@pytest.mark.slow
def test_under_q_the_consent_link_comes_while_the_run_still_waits(tmp_path, log_format):
    manifest = write(tmp_path, TWIN)
    with serve(fast_sandbox(consent_approval_seconds=None)) as sb:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "batchavatars",
                "run",
                manifest,
                "--base-url",
                sb.url,
                "-q",
                "--log-format",
                log_format,
                "--wait-timeout",
                "3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream: the order is the order it was written in
            text=True,
            env={**os.environ, "HEYGEN_API_KEY": "k", "PYTHONUNBUFFERED": "1"},
            timeout=120,
        )
    assert proc.returncode == 4, proc.stdout
    lines = proc.stdout.splitlines()
    link_line = next(i for i, ln in enumerate(lines) if "consent_requested" in ln and "http" in ln)
    summary_line = next(i for i, ln in enumerate(lines) if "run_summary" in ln or "Run of" in ln)
    assert link_line < summary_line


# -- usage errors ----------------------------------------------------------------------------------

USAGE_ERRORS = [
    (["--rate", "-1"], "Invalid value for '--rate': -1.0 is not in the range x>=0."),
    (["--nosuch"], "No such option '--nosuch'."),
    ([], "Missing argument 'MANIFEST'."),
    (["--rate"], "Option '--rate' requires an argument."),  # click's parser gives this one no context
]


def one_json_error(stderr: str) -> dict:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = json.loads(lines[0])
    assert line["event"] == "error" and line["level"] == "error" and line["exit_code"] == 2 and line["timestamp"]
    assert line["usage"] == "batchavatars run [OPTIONS] MANIFEST (see batchavatars run --help)"
    return line


@pytest.mark.parametrize("log_format", [[], ["--log-format", "json"], ["--log-format=json"]])
@pytest.mark.parametrize("args,says", USAGE_ERRORS, ids=["bad value", "no such option", "no manifest", "no value"])
def test_off_a_terminal_a_usage_error_of_run_is_one_json_error_line(tmp_path, args, says, log_format):
    manifest = [] if not args else [write(tmp_path, GOOD)]
    proc = run_cli(["run", *manifest, *log_format, *args], {})  # stderr a pipe
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_json_error(proc.stderr)["message"] == f"error: {says}"


def test_a_usage_error_stays_click_text_under_console_logs_and_for_other_commands(tmp_path):
    manifest = write(tmp_path, GOOD)
    console = run_cli(["run", manifest, "--log-format", "console", "--rate", "-1"], {})
    assert console.returncode == 2
    assert console.stderr.startswith("Usage: batchavatars run [OPTIONS] MANIFEST\n")
    assert "Error: Invalid value for '--rate': -1.0 is not in the range x>=0." in console.stderr
    for args in (["plan", "--nosuch"], ["status", manifest, "--nosuch"], ["runn"]):
        proc = run_cli(args, {})
        assert proc.returncode == 2 and "Error: No such" in proc.stderr and not proc.stderr.startswith("{"), args


def test_on_a_terminal_a_usage_error_of_run_is_json_only_under_log_format_json(tmp_path):
    proc, out = run_on_a_terminal(["--nosuch", "--log-format", "json"], "http://127.0.0.1:9", columns=100)
    assert proc.returncode == 2
    assert one_json_error(out.decode().strip())["message"] == "error: No such option '--nosuch'."
    proc, out = run_on_a_terminal(["--nosuch"], "http://127.0.0.1:9", columns=100)
    assert proc.returncode == 2
    shown = plain_lines(out)
    assert "Usage: batchavatars run [OPTIONS] MANIFEST" in shown and "Error: No such option '--nosuch'." in shown


@pytest.mark.parametrize(
    "args,tty,json_lines",
    [
        ([], False, True),
        ([], True, False),
        (["--log-format", "console"], False, False),
        (["--log-format", "json"], True, True),
        (["--log-format=json"], True, True),
        (["--log-format", "json", "--log-format", "console"], False, False),  # the last one, as click takes it
        (["--log-format", "xml"], False, True),  # a bad value is not `console`: auto
        (["--", "--log-format", "json"], True, False),  # after `--`, an argument
        (["--log-format"], True, False),
    ],
)
def test_whether_run_logs_json_is_read_from_its_raw_arguments(monkeypatch, args, tty, json_lines):
    class Stderr:
        def isatty(self) -> bool:
            return tty

    monkeypatch.setattr(sys, "stderr", Stderr())
    assert run_logs_json(args) is json_lines


# -- check -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("billing", ["wallet", "subscription", "usage_based"])
def test_check_reports_the_account_and_whether_its_credits_cover_the_plan(tmp_path, billing):
    manifest = write(tmp_path, GOOD)  # two creations
    with serve(fast_sandbox(credits=5, billing_type=billing)) as sb:
        enough = run_cli(["check", manifest, "--base-url", sb.url], {"HEYGEN_API_KEY": "k"})
        sb.configure(credits=1)
        short = run_cli(["check", manifest, "--base-url", sb.url, "--json"], {"HEYGEN_API_KEY": "k"})
    assert enough.returncode == 0, enough.stdout + enough.stderr
    assert "sandy.box" in enough.stdout and "5 credits remaining" in enough.stdout
    assert "2 creations" in enough.stdout
    assert short.returncode == 1, short.stdout + short.stderr
    found = json.loads(short.stdout)
    assert found["creations"] == 2 and found["credits_remaining"] == 1 and found["enough"] is False


def test_check_counts_only_what_the_ledger_still_needs(tmp_path):
    manifest = write(tmp_path, GOOD)
    with serve(fast_sandbox(credits=3)) as sb:
        assert run_cli(["run", manifest, "--base-url", sb.url], {"HEYGEN_API_KEY": "k"}).returncode == 0
        again = run_cli(["check", manifest, "--base-url", sb.url, "--json"], {"HEYGEN_API_KEY": "k"})
    assert again.returncode == 0 and json.loads(again.stdout)["creations"] == 0


@pytest.mark.slow
def test_check_exit_codes_for_a_refused_key_an_unreachable_api_and_a_bad_manifest(tmp_path):
    manifest = write(tmp_path, GOOD)
    with serve(fast_sandbox(api_key="the-right-key")) as sb:
        refused = run_cli(["check", manifest, "--base-url", sb.url], {"HEYGEN_API_KEY": "wrong-key"})
    assert refused.returncode == 3 and "refused" in refused.stderr and "HEYGEN_API_KEY" in refused.stderr
    gone = run_cli(["check", manifest, "--base-url", "http://127.0.0.1:9"], {"HEYGEN_API_KEY": "k"})
    assert gone.returncode == 6 and "cannot reach" in gone.stderr
    bad = run_cli(["check", write(tmp_path, "version: 1\navatars: 3\n", "bad.yaml")], {"HEYGEN_API_KEY": "k"})
    assert bad.returncode == 2 and "bad.yaml" in bad.stderr
    for proc in (refused, gone, bad):
        no_traceback(proc)
    sandbox = run_cli(["check", manifest, "--sandbox"], {})
    assert sandbox.returncode == 0, sandbox.stderr


def test_plan_prints_counts_then_one_plain_line_per_item_off_a_terminal(tmp_path):
    manifest = write(tmp_path, GOOD)
    proc = run_cli(["plan", manifest], {})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].endswith(": 2 create")
    assert lines[1].startswith("create  ava (avatar): ") and lines[2].startswith("create  ava-office (look of ava): ")


@pytest.mark.slow
def test_sigterm_while_the_account_is_checked_ends_with_130_and_a_summary(tmp_path):
    import signal
    import time

    manifest = write(tmp_path, GOOD)
    with serve(fast_sandbox(latency=5.0)) as sb:  # GET /v3/users/me takes 5 s to answer
        proc = subprocess.Popen(
            [sys.executable, "-m", "batchavatars", "run", manifest, "--base-url", sb.url, "--no-report"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HEYGEN_API_KEY": "k"},
        )
        time.sleep(2.0)  # well inside the account check
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        creations = sb.stats()["requests"].get("POST /v3/avatars", 0)
    assert proc.returncode == 130, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["event"] == "run_summary" and summary["exit_code"] == 130 and summary["stopped"] == "interrupted"
    assert creations == 0 and "Traceback" not in err


def test_sandbox_and_a_base_url_together_are_a_usage_error(tmp_path):
    proc = run_cli(["run", write(tmp_path, GOOD), "--sandbox", "--base-url", "http://127.0.0.1:9"], {})
    assert proc.returncode == 2 and "--sandbox" in proc.stderr and "--base-url" in proc.stderr
    assert not (tmp_path / "m.sandbox.ledger.db").exists() and not (tmp_path / "m.ledger.db").exists()
