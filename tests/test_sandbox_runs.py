"""`run --sandbox` again and again, as a new user does: the sandbox keeps its world beside its ledger,
so a second, third or interrupted trial continues exactly as a run against HeyGen would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import batchavatars

ONE = 'version: 1\navatars:\n  - {key: ava, type: photo, name: Ava, file: "https://cdn.example.com/ava.jpg"}\n'
LOOK = "looks:\n  - {key: ava-office, avatar: ava, name: Ava office, prompt: In an office}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_look_added_to_an_avatar_of_an_earlier_trial_succeeds(tmp_path):
    manifest = write(tmp_path, ONE)
    first = batchavatars.run(manifest, sandbox=True, rate=0)
    assert first.exit_code == 0
    write(tmp_path, ONE + LOOK)
    second = batchavatars.run(manifest, sandbox=True, rate=0)
    assert second.exit_code == 0, [(r.key, r.status, r.error_code) for r in second.records]
    assert {r.key: r.status for r in second.records} == {"ava": "succeeded", "ava-office": "succeeded"}
    assert (tmp_path / "team.sandbox.ledger.db.world").exists()


@pytest.mark.slow
def test_a_sandbox_ledger_whose_world_is_gone_starts_afresh_in_one_line(tmp_path):
    manifest = write(tmp_path, ONE + LOOK)
    assert batchavatars.run(manifest, sandbox=True, rate=0).exit_code == 0
    (tmp_path / "team.sandbox.ledger.db.world").unlink()  # e.g. deleted by hand
    notes: list[str] = []
    again = batchavatars.run(
        manifest,
        sandbox=True,
        rate=0,
        on_event=lambda event, **f: notes.append(f["note"]) if event == "note" else None,
    )
    assert again.exit_code == 0 and again.creations == 2  # made anew in the new world, never failed
    assert [n for n in notes if "world of this trial is gone" in n] and len(notes) == 1


@pytest.mark.slow
def test_a_big_sandbox_trial_interrupted_by_sigint_finishes_on_the_next_run(tmp_path):
    lines = ["version: 1", "avatars:"]
    lines += [f'  - {{key: p{i}, type: photo, name: P{i}, file: "https://cdn.example.com/{i}.jpg"}}' for i in range(50)]
    lines.append("looks:")
    lines += [f"  - {{key: p{i}-office, avatar: p{i}, name: P{i} office, prompt: Office}}" for i in range(50)]
    manifest = write(tmp_path, "\n".join(lines) + "\n")
    command = [sys.executable, "-m", "batchavatars", "run", str(manifest), "--sandbox", "--no-report"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    time.sleep(4.0)  # well into the run: avatars created, looks waiting on their training
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    again = subprocess.run([*command, "--log-format", "json"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    records = batchavatars.status(manifest, sandbox=True).records
    assert len(records) == 100 and {r.status for r in records} == {"succeeded"}
