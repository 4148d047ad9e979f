"""Plans that can be saved, reviewed and applied exactly: `plan -o FILE`, then `run --plan FILE`.
Over real loopback HTTP against the sandbox, asserting what the server saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchavatars.sandbox import SandboxConfig, serve

from .test_cli import run_cli

ENV = {"HEYGEN_API_KEY": "test-key"}
MANIFEST = """\
version: 1
avatars:
  - {key: ava, type: photo, name: Ava, file: "https://cdn.example.com/ava.jpg"}
  - {key: ben, type: photo, name: Ben, file: "https://cdn.example.com/ben.jpg"}
looks:
  - {key: ava-office, avatar: ava, name: Ava office, prompt: "@PROMPT"}
"""


def write(tmp_path: Path, prompt: str = "In an office") -> str:
    path = tmp_path / "team.yaml"
    path.write_text(MANIFEST.replace("@PROMPT", prompt), encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_a_saved_plan_is_applied_exactly_with_its_options(tmp_path):
    manifest, saved = write(tmp_path), tmp_path / "plans" / "p.json"
    made = run_cli(["plan", manifest, "--only", "ava-office", "-o", str(saved)], ENV)
    assert made.returncode == 0, made.stderr
    document = json.loads(saved.read_text())
    assert {i["key"]: i["action"] for i in document["items"]} == {"ava": "create", "ava-office": "create"}
    assert document["options"]["only"] == ["ava-office"] and document["manifest_digest"]
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        run = run_cli(["run", manifest, "--base-url", sb.url, "--plan", str(saved), "--rate", "0", "--no-report"], ENV)
        posts = sb.stats()["requests"].get("POST /v3/avatars", 0)
    assert run.returncode == 0, run.stderr
    assert posts == 2  # ava and its look: ben was not in the plan (its --only came with it)


@pytest.mark.slow
def test_a_stale_saved_plan_is_refused_naming_what_moved_and_nothing_is_sent(tmp_path):
    manifest, saved = write(tmp_path), tmp_path / "p.json"
    assert run_cli(["plan", manifest, "-o", str(saved)], ENV).returncode == 0
    write(tmp_path, prompt="In a garden")  # the manifest edited after the review
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        edited = run_cli(["run", manifest, "--base-url", sb.url, "--plan", str(saved), "--no-report"], ENV)
        sent = sb.stats()["requests_total"]
        write(tmp_path)  # back as it was; then the ledger moves: another run makes everything
        assert run_cli(["run", manifest, "--base-url", sb.url, "--rate", "0", "--no-report"], ENV).returncode == 0
        moved = run_cli(["run", manifest, "--base-url", sb.url, "--plan", str(saved), "--no-report"], ENV)
    assert edited.returncode == 2 and sent == 0
    assert "the plan no longer holds, nothing was sent: the manifest: changed ava-office" in edited.stderr
    assert moved.returncode == 2 and "the ledger: added ava, ava-office, ben" in moved.stderr


def test_a_file_that_is_no_saved_plan_is_one_line(tmp_path):
    manifest = write(tmp_path)
    bogus = tmp_path / "p.json"
    bogus.write_text('{"items": []}')
    proc = run_cli(["run", manifest, "--sandbox", "--plan", str(bogus), "--no-report"], {})
    assert proc.returncode == 2 and "not a saved plan of batchavatars" in proc.stderr and "Traceback" not in proc.stderr
