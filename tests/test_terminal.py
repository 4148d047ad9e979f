"""On a terminal (a real pseudo-terminal), the progress display updates and ends with the summary."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from batchavatars.sandbox import SandboxConfig, serve


def test_progress_display_updates_under_a_pty_and_ends_with_the_summary(tmp_path):
    lines = ["version: 1", "avatars:"]
    for i in range(12):
        lines += [f"  - {{key: a{i}, type: photo, name: P{i}, file: 'https://cdn.example.com/{i}.jpg'}}"]
    manifest = tmp_path / "tty.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    with serve(SandboxConfig(training_seconds=1.0, rate_limit=None, latency=0.05)) as sb:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "batchavatars", "run", str(manifest), "--rate", "4", "-q"],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            close_fds=True,
            env={**os.environ, "HEYGEN_API_KEY": "k", "HEYGEN_BASE_URL": sb.url, "COLUMNS": "120", "TERM": "xterm"},
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
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    frames = re.findall(r"(\d+)/12 done", text)
    assert len(set(frames)) >= 3, frames  # the display moved on as items finished
    assert "\x1b[" in text  # a live display redraws with control sequences on a terminal
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    # ends with the summary, the ledger and the report
    assert "tty.ledger.db" in plain and plain.rstrip().endswith("tty.report.html") and "Run of" in plain
