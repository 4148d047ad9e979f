"""--adopt after a lost ledger: nothing that exists is created again; ambiguity is reported, not guessed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from batchavatars.ledger import Ledger
from batchavatars.sandbox import SandboxConfig, serve

from .test_soak import roster_yaml


def run(manifest, url, *extra):
    return subprocess.run(
        [sys.executable, "-m", "batchavatars", "run", str(manifest), "--rate", "0", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HEYGEN_API_KEY": "k", "HEYGEN_BASE_URL": url},
    )


@pytest.mark.slow
def test_deleting_the_ledger_and_running_with_adopt_recreates_nothing(tmp_path):
    manifest = tmp_path / "team.yaml"
    manifest.write_text(roster_yaml(30))  # avatars of all types, looks, looks of looks, 68 items
    with serve(SandboxConfig(training_seconds=0.05, consent_approval_seconds=0.05, rate_limit=None)) as sb:
        assert run(manifest, sb.url).returncode == 0
        made = sb.stats()["created"]["looks"]
        before = {r.key: r.look_id for r in Ledger(tmp_path / "team.ledger.db", create=False).records().values()}
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"team.ledger.db{suffix}").unlink(missing_ok=True)
        again = run(manifest, sb.url, "--adopt")
        assert again.returncode == 0, again.stderr[-2000:]
        assert sb.stats()["created"]["looks"] == made  # adopted, not created again
    after = {r.key: r.look_id for r in Ledger(tmp_path / "team.ledger.db", create=False).records().values()}
    assert after == before


@pytest.mark.slow
def test_ambiguous_matches_are_reported_and_not_adopted(tmp_path):
    manifest = tmp_path / "twice.yaml"
    manifest.write_text(
        "version: 1\navatars:\n  - {key: ava, type: photo, name: Ava, file: 'https://x.example/a.jpg'}\n"
    )
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\navatars:\n  - {key: ava2, type: photo, name: Ava, file: 'https://x.example/b.jpg'}\n")
    with serve(SandboxConfig(training_seconds=0.05, rate_limit=None)) as sb:
        assert run(manifest, sb.url).returncode == 0
        assert run(other, sb.url).returncode == 0  # a second "Ava" on the account
        (tmp_path / "twice.ledger.db").unlink()
        again = run(manifest, sb.url, "--adopt", "--log-format", "json", "--json-summary", str(tmp_path / "s.json"))
        assert "adopt_ambiguous" in again.stderr
        failed = json.loads((tmp_path / "s.json").read_text())["failed"]
        assert again.returncode == 1 and failed[0]["key"] == "ava" and "delete the extras" in failed[0]["fix"]
        assert sb.stats()["requests"]["POST /v3/avatars"] == 2  # held back: no guess, no request
