"""On a terminal (a real pseudo-terminal), the progress display updates and ends with the summary."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from batchavatars.sandbox import SandboxConfig, serve


def run_on_a_terminal(args: list[str], url: str, columns: int) -> tuple[subprocess.Popen[bytes], bytes]:
    """`batchavatars run ARGS` with a pseudo-terminal for stdin, stdout and stderr; all it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchavatars", "run", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
        env={**os.environ, "HEYGEN_API_KEY": "k", "HEYGEN_BASE_URL": url, "COLUMNS": str(columns), "TERM": "xterm"},
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(leader)
    return proc, out


def plain_lines(out: bytes) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace"))
    return [line for chunk in text.split("\n") for line in chunk.split("\r")]


@pytest.mark.slow
def test_at_80_columns_the_display_keeps_bar_and_counts_apart_and_pins_consent_links(tmp_path):
    lines = ["version: 1", "avatars:"]
    for i in range(12):
        lines += [f"  - {{key: a{i}, type: photo, name: P{i}, file: 'https://cdn.example.com/{i}.jpg'}}"]
    lines += ["  - {key: twin, type: digital_twin, name: Twin, file: 'https://cdn.example.com/t.mp4'}"]
    manifest = tmp_path / "tty.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    config = SandboxConfig(training_seconds=1.0, rate_limit=None, latency=0.05, consent_approval_seconds=2.5)
    with serve(config) as sb:
        proc, out = run_on_a_terminal([str(manifest), "--rate", "4"], sb.url, columns=80)
    shown = plain_lines(out)
    assert proc.returncode == 0, "\n".join(shown[-40:])
    bars = [line for line in shown if re.search(r"\d+/13 done", line)]
    assert bars and all(re.search(r"[━╸╺] \d+/13 done · ETA", line) for line in bars), bars[:5]
    assert all(len(line) <= 80 for line in bars)
    counts = [line for line in shown if re.match(r"(pending|creating|training|awaiting_consent|succeeded) \d", line)]
    assert counts and all("━" not in line and len(line) <= 80 for line in counts)
    # the link, logged above the display and pinned beneath the bar while the twin waits
    assert any("Consent links to send" in line for line in shown)
    assert any(re.match(r"  twin: https://\S+/consent/", line) for line in shown)
    # per-item info lines are for -v: only what needs a person is logged above the display
    text = "\n".join(shown)
    assert "consent_requested" in text and "item_created" not in text and "item_succeeded" not in text


@pytest.mark.slow
def test_progress_display_updates_under_a_pty_and_ends_with_the_summary(tmp_path):
    lines = ["version: 1", "avatars:"]
    for i in range(12):
        lines += [f"  - {{key: a{i}, type: photo, name: P{i}, file: 'https://cdn.example.com/{i}.jpg'}}"]
    manifest = tmp_path / "tty.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    with serve(SandboxConfig(training_seconds=1.0, rate_limit=None, latency=0.05)) as sb:
        proc, out = run_on_a_terminal([str(manifest), "--rate", "4", "-q"], sb.url, columns=120)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    frames = re.findall(r"(\d+)/12 done", text)
    assert len(set(frames)) >= 3, frames  # the display moved on as items finished
    assert "\x1b[" in text  # a live display redraws with control sequences on a terminal
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    # ends with the summary, the ledger and the report
    assert "tty.ledger.db" in plain and plain.rstrip().endswith("tty.report.html") and "Run of" in plain
