"""Secrets never reach the logs, whatever the caller logs; JSON lines off a terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from batchavatars.presentation.logs import REDACTED, configure

KEY = "sk-live-abcdef0123456789"


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_a_logged_header_dict_and_the_keys_value_anywhere_are_redacted():
    out = Pipe()
    log = configure(fmt="auto", verbosity=0, secrets=[KEY], stream=out)
    log.info(
        "request",
        headers={"X-Api-Key": KEY, "Authorization": f"Bearer {KEY}", "Accept": "json"},
        url=f"https://api.heygen.com/v3/avatars?api_key={KEY}",
        note=f"sent {KEY} twice {KEY}",
    )
    log.info("upload", body={"file": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo" * 100}})
    text = out.getvalue()
    assert KEY not in text and "iVBORw0KGgo" not in text
    first, second = (json.loads(line) for line in text.splitlines())  # one JSON object per line off a terminal
    assert first["headers"]["X-Api-Key"] == REDACTED and first["headers"]["Accept"] == "json"
    assert first["note"] == f"sent {REDACTED} twice {REDACTED}"
    assert second["body"]["file"]["data"] == REDACTED


def test_quiet_keeps_warnings_only_and_verbose_adds_debug():
    out = Pipe()
    log = configure(fmt="json", verbosity=-1, secrets=[], stream=out)
    log.info("hidden")
    log.warning("shown")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["shown"]
    out = Pipe()
    log = configure(fmt="json", verbosity=1, secrets=[], stream=out)
    log.debug("polled")
    assert json.loads(out.getvalue())["event"] == "polled"


def test_shell_completion_script_is_generated():
    proc = subprocess.run(
        [sys.executable, "-m", "batchavatars"],
        capture_output=True,
        text=True,
        env={**os.environ, "_BATCHAVATARS_COMPLETE": "bash_source"},
    )
    assert proc.returncode == 0 and "complete" in proc.stdout and "_BATCHAVATARS_COMPLETE" in proc.stdout
