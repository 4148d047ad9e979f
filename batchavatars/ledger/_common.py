"""What both ledger backends share: their timestamps, and how a run lock's holder and its refusal
read, so a second run is told the same whichever backend keeps its ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..records import Record

# Both backends wait for a held lock by trying again; PostgreSQL's try is a round trip, so less often.
LOCK_RETRY_SQLITE = 0.1
LOCK_RETRY_POSTGRES = 0.2


@dataclass(slots=True)
class Contents:
    """Everything a ledger holds, as `ledger copy` moves it between backends: its records (with
    their timestamps), assets, history rows and what it was made against."""

    records: list[Record]
    assets: list[tuple[str, str, int, str]]  # sha256, asset id, size in bytes, uploaded at
    history: list[dict[str, object]]
    meta: dict[str, str]

    def empty(self) -> bool:
        return not (self.records or self.assets or self.history)


HISTORY_FIELDS = ("key", "name", "look_id", "group_id", "origin", "why", "at", "deleted_at")


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
