"""What both ledger backends share: their timestamps, and how a run lock's holder and its refusal
read, so a second run is told the same whichever backend keeps its ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

# Both backends wait for a held lock by trying again; PostgreSQL's try is a round trip, so less often.
LOCK_RETRY_SQLITE = 0.1
LOCK_RETRY_POSTGRES = 0.2


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def describe_holder(pid: object, host: object, command: object, since: object) -> str:
    """`pid 4242 on build-1, running batchavatars run team.yaml, since 2025-...`"""
    running = f", running {command}" if command else ""
    return f"pid {pid} on {host}{running}, since {since}"


def lock_fix() -> str:
    return "Fix: wait for it to finish (or --lock-timeout SECONDS), or stop it; a killed run's lock frees itself"


def keep_trying(attempt: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Call `attempt` until it returns True or `timeout` seconds have passed (once at least, and once
    more at the deadline); True if it succeeded."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        if attempt():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(interval, left))
