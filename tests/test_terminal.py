"""On a terminal (a real pseudo-terminal), the progress display updates and ends with the summary;
at 80 columns nothing is wider than the terminal, with failures, consent links and a stopping run."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from batchavatars.sandbox import SandboxConfig, serve


def run_on_a_terminal(
    args: list[str], url: str, columns: int, *, cwd: Path | None = None, argv: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], bytes]:
    """`batchavatars run ARGS` (or `argv`) with a pseudo-terminal of `columns` x 50 for stdin, stdout
    and stderr; all it wrote."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        argv or [sys.executable, "-m", "batchavatars", "run", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
        cwd=cwd,
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


class Screen:
    """Just enough of a terminal for what rich writes: text, CR, LF, cursor up, erase line, colours
    (ignored). A line written past the last column wraps, as a terminal's would, and is noted in
    `wrapped`: at 80 columns nothing should ever rely on that. Every character is one column wide
    (true of what is written here: box drawing, the bar, `…`, `·`, ASCII)."""

    def __init__(self, out: bytes, columns: int) -> None:
        self.columns = columns
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0
        self.wrapped: list[str] = []
        for token in re.split(r"(\x1b\[[0-9;?]*[A-Za-z]|\r|\n)", out.decode(errors="replace")):
            self._feed(token)

    def _feed(self, token: str) -> None:
        if token == "\r":
            self.col = 0
        elif token == "\n":
            self._down()
        elif token.startswith("\x1b["):
            self._control(token)
        else:
            for char in token:
                self._put(char)

    def _control(self, seq: str) -> None:
        final, arg = seq[-1], seq[2:-1]
        if final == "A":
            self.row = max(0, self.row - int(arg or 1))
        elif final == "K":
            assert arg in ("2", ""), seq
            del self.rows[self.row][self.col if arg == "" else 0 :]
        else:
            assert final in "mhl", f"a control sequence this screen does not know: {seq!r}"

    def _down(self) -> None:
        self.row += 1
        if self.row == len(self.rows):
            self.rows.append([])

    def _put(self, char: str) -> None:
        if self.col == self.columns:  # the terminal wraps: the line was wider than the screen
            self.wrapped.append("".join(self.rows[self.row]))
            self._down()
            self.col = 0
        line = self.rows[self.row]
        line += [" "] * (self.col + 1 - len(line))
        line[self.col] = char
        self.col += 1

    @property
    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.rows]


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


STATUS_WORDS = "pending|creating|unanswered|training|awaiting_consent|succeeded|failed|blocked"
COUNTS_LINE = re.compile(rf"(?:{STATUS_WORDS}) [\d,]+(?: · (?:{STATUS_WORDS}) [\d,]+)*")


def counts_runs(lines: list[str]) -> list[list[str]]:
    """The counts lines of every frame, each frame's together."""
    runs: list[list[str]] = []
    previous_was_counts = False
    for line in lines:
        is_counts = bool(re.match(rf"(?:{STATUS_WORDS}) \d", line))
        if is_counts:
            if previous_was_counts:
                runs[-1].append(line)
            else:
                runs.append([line])
        previous_was_counts = is_counts
    return runs


def last_frame(lines: list[str]) -> list[str]:
    """The live display as it was left on the screen: from its last bar to the blank line before the summary."""
    summary = next(i for i, line in enumerate(lines) if line.startswith("Run of "))
    bar = max(i for i, line in enumerate(lines[:summary]) if " done · ETA " in line)
    start = bar - 1 if lines[bar - 1].startswith("stopping (") else bar
    return lines[start:summary]


@pytest.mark.slow
def test_at_80_columns_failures_and_consent_fit_the_screen_and_the_summary_keeps_keys_whole(tmp_path):
    long_key = "presenter-with-a-long-key-01"
    lines = ["version: 1", "avatars:"]
    for key in ("ava", "ben", "cat", long_key):
        lines += [f"  - {{key: {key}, type: photo, name: '[fail] {key}', file: 'https://cdn.example.com/{key}.jpg'}}"]
    for i in range(8):
        lines += [f"  - {{key: ok{i}, type: photo, name: P{i}, file: 'https://cdn.example.com/{i}.jpg'}}"]
    lines += ["  - {key: twin, type: digital_twin, name: Twin, file: 'https://cdn.example.com/t.mp4'}", "looks:"]
    lines += [f"  - {{key: ava-look-{i}, avatar: ava, name: L{i}, prompt: p}}" for i in range(3)]
    (tmp_path / "tty.yaml").write_text("\n".join(lines) + "\n")
    config = SandboxConfig(training_seconds=1.0, rate_limit=None, latency=0.05, consent_approval_seconds=2.5)
    with serve(config) as sb:
        proc, out = run_on_a_terminal(["tty.yaml", "--rate", "6"], sb.url, columns=80, cwd=tmp_path)
    raw = plain_lines(out)
    assert proc.returncode == 1, "\n".join(raw[-60:])  # the four failed, the looks of ava are blocked
    screen = Screen(out, columns=80)
    shown = screen.lines
    # nothing relied on the terminal to wrap it, at any moment of the run: every line was laid out to fit,
    # but for the ledger's and the report's paths, printed whole on purpose so that they copy whole
    assert [line for line in screen.wrapped if not line.startswith(("Ledger: /", "Report: /"))] == []
    # each frame's counts: whole `status N` items; a second line only when one would not fit 80 columns
    runs = counts_runs(raw)
    assert runs and all(COUNTS_LINE.fullmatch(line) and len(line) <= 80 for run in runs for line in run), runs
    assert all(len(run) == 1 or len(" · ".join(run)) > 80 for run in runs), runs
    assert any("failed" in line for run in runs for line in run)  # the counts were checked with failures in them
    # the twin's link was pinned while it waited, and is gone once the person approved
    assert any(re.match(r"  twin: https://\S+/consent/", line) for line in raw)
    frame = last_frame(shown)
    assert not [line for line in frame if "twin: https://" in line or "Consent links" in line], frame
    # the summary: the failures that share a fix are one row naming their keys, whole; the fix once
    summary = shown[shown.index("Run of tty.yaml") :]
    text = "\n".join(summary)
    assert any(long_key in line for line in summary), text
    assert "│ ava, ben, cat," in text and "…and 3 looks blocked by `ava`" in text
    assert text.count("HeyGen could not train from this input") == 1, text
    joined = "".join(summary)  # the paths, as the terminal wrapped them, read whole again
    assert joined.endswith(f"Ledger: {tmp_path}/tty.ledger.dbReport: {tmp_path}/tty.report.html"), summary[-5:]


# A display driven by hand: the events a stopping run reports (with `in_flight`, which the scheduler
# is only now gaining), through the CLI's own hooks and log lines, under a pseudo-terminal.
STOPPING = """
import time
from batchavatars.commands.run_cmd import Shown, _Hooks
from batchavatars.events import Snapshot
from batchavatars.presentation.logs import configure, log_reporter

shown = Shown(log_format="auto", verbose=0, quiet=False, progress=None, json_summary=None,
              credit_price=1.0, report_path=None, no_report=True)
assert shown.live and shown.verbosity == -1, "a terminal: the live display, only warnings above it"
logger = configure(fmt="console", verbosity=shown.verbosity, secrets=[])
hooks = _Hooks(shown, log_reporter(logger), logger, sandbox=True)
counts = {"pending": 1234, "creating": 12, "unanswered": 3, "training": 400, "awaiting_consent": 2,
          "succeeded": 654321, "failed": 999999, "blocked": 100000}
url = "https://sandbox.heygen.local/consent/one-link-for-the-group"
with hooks.display(lambda: Snapshot(counts, 2000000, 17)):
    for key in ("twin-a", "twin-b"):
        hooks.on_event("consent_requested", key=key, consent_url=url)
    time.sleep(0.6)
    hooks.on_event("consent_approved", key="twin-a")
    hooks.on_event("run_stopping", reason="interrupted", message="received SIGINT", in_flight=3)
    time.sleep(0.6)
print("Run of the end")
"""


def test_at_80_columns_a_stopping_run_says_what_it_finishes_and_drops_an_approved_link():
    proc, out = run_on_a_terminal([], "http://127.0.0.1:9", columns=80, argv=[sys.executable, "-c", STOPPING])
    screen = Screen(out, columns=80)
    shown = screen.lines
    assert proc.returncode == 0, "\n".join(shown)
    assert screen.wrapped == [], screen.wrapped
    frame = last_frame(shown)
    assert frame[0] == "stopping (SIGINT): finishing 3 requests in flight; the ledger stays consistent", frame
    counts = [line for line in frame if re.match(rf"(?:{STATUS_WORDS}) \d", line)]
    assert counts == [
        "pending 1,234 · creating 12 · unanswered 3 · training 400 · awaiting_consent 2",
        "succeeded 654,321 · failed 999,999 · blocked 100,000",
    ]
    pinned = frame[frame.index("Consent links to send (each to the person depicted):") + 1 :]
    assert [line for line in pinned if line.strip()] == [
        "  twin-b: https://sandbox.heygen.local/consent/one-link-for-the-group"
    ]
    # the warning is logged above the display without -v, with the number in flight
    logged = shown[: shown.index(frame[0])]
    assert any("run_stopping" in line for line in logged) and "in_flight=3" in "".join(logged), logged
