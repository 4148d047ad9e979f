"""`batchavatars sandbox`: its settings reach the running sandbox, and bad ones are one line and exit 2."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from batchavatars.cli import main


def test_the_help_example_runs_against_the_sandbox_with_a_ledger_of_its_own() -> None:
    """The example's fake ids must not land in manifests/example.ledger.db, the real run's ledger."""
    shown = CliRunner().invoke(main, ["sandbox", "--help"]).output
    example = shown[shown.index("Example:") :].split("Options:")[0].replace("\\\n", " ")
    runs = [line.split() for line in example.splitlines() if " run " in line]
    assert runs and all("--base-url" in words for words in runs), example
    for words in runs:
        assert "--ledger" in words, example
        ledger = words[words.index("--ledger") + 1]
        assert ledger.endswith(".ledger.db") and ledger != "manifests/example.ledger.db"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--training-seconds", "-1"], "--training-seconds"),
        (["--training-seconds", "soon"], "--training-seconds"),
        (["--port", "70000"], "--port"),
        (["--consent-seconds", "-3"], "--consent-seconds"),
        (["--consent-signal", "person"], "--consent-signal"),
        (["--not-found-code", "gone"], "--not-found-code"),
        (["--complete-conflicts", "1.5"], "--complete-conflicts"),
        (["--set", "no_such_field=1"], "no_such_field"),
        (["--set", "foreign_groups=group_x"], "foreign_groups"),
        (["--set", "failed_assets=bad.mp4"], "failed_assets"),
        (["--set", "upload_headers_content_type=maybe"], "upload_headers_content_type"),
        (["--set", "just-a-word"], "FIELD=VALUE"),
    ],
)
def test_bad_sandbox_settings_are_one_line_and_exit_2(args: list[str], named: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", *args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0]
    assert "Traceback" not in result.output


def test_sandbox_options_and_set_reach_the_running_sandbox() -> None:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "batchavatars", "sandbox", "--port", "0"),
            *("--consent-signal", "group", "--list-status", "omit", "--not-found-code", "resource_not_found"),
            *("--asset-processing-seconds", "2.5", "--complete-conflicts", "1", "--consent-seconds", "null"),
            *("--rate-limit", "0", "--set", 'foreign_groups=["group_theirs"]', "--set", "billing_type=subscription"),
            *("--set", "upload_headers_content_type=false", "--set", 'failed_assets=["bad.mp4"]'),
            *("--set", 'lost_assets=["gone.png", "gone.mp4"]'),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        config = httpx.get(f"{url}/_sandbox/config", timeout=10).json()
        missing = httpx.get(f"{url}/v3/avatars/looks/look_nope", headers={"X-Api-Key": "k"}, timeout=10)
        body = {"filename": "bad.mp4", "content_type": "video/mp4", "size_bytes": 10}
        upload = httpx.post(f"{url}/v3/assets/direct-uploads", json=body, headers={"X-Api-Key": "k"}, timeout=10)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert {k: config[k] for k in ("consent_signal", "list_status", "not_found_code", "billing_type")} == {
        "consent_signal": "group",
        "list_status": "omit",
        "not_found_code": "resource_not_found",
        "billing_type": "subscription",
    }
    assert config["asset_processing_seconds"] == 2.5 and config["complete_conflicts"] == 1
    assert config["consent_approval_seconds"] is None and config["rate_limit"] is None
    assert config["foreign_groups"] == ["group_theirs"]
    assert config["upload_headers_content_type"] is False
    assert "Content-Type" not in upload.json()["data"]["upload_headers"]
    assert config["failed_assets"] == ["bad.mp4"] and config["lost_assets"] == ["gone.png", "gone.mp4"]
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_not_found"
