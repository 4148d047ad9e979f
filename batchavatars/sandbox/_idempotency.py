"""Idempotency-Key bookkeeping: what was answered under a key, and which keys are in flight.

Scope is (method, path, key): the same key on another route or resource is independent.
A recorded answer replays for the replay window (read when looked up, so shrinking the
setting ages every entry at once); after it the key acts as new.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from ._records import Record, compact

KEY_PATTERN = re.compile(r"[A-Za-z0-9_:.-]{1,255}")

Scope = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Recorded:
    status: int
    body: bytes
    media_type: str
    recorded_at: float


class InFlight:
    """Marker for a key whose first request has not answered yet."""


IN_FLIGHT = InFlight()


class IdempotencyStore:
    def __init__(self) -> None:
        self._entries: dict[Scope, Recorded | InFlight] = {}
        self._order: deque[tuple[float, Scope]] = deque()  # recording order = age order
        self._saved: dict[tuple[float, Scope], bytes] = {}  # each answer's world-file JSON, once made

    def lookup(self, scope: Scope, now: float, window: float) -> Recorded | InFlight | None:
        self._expire(now - window)
        return self._entries.get(scope)

    def reserve(self, scope: Scope) -> None:
        self._entries[scope] = IN_FLIGHT

    def release(self, scope: Scope) -> None:
        if self._entries.get(scope) is IN_FLIGHT:
            del self._entries[scope]

    def record(self, scope: Scope, status: int, body: bytes, media_type: str, now: float) -> None:
        self._entries[scope] = Recorded(status, body, media_type, now)
        self._order.append((now, scope))

    def _expire(self, cutoff: float) -> None:
        """Forget answers recorded at or before `cutoff`."""
        order = self._order
        while order and order[0][0] <= cutoff:
            recorded_at, scope = order.popleft()
            entry = self._entries.get(scope)
            self._saved.pop((recorded_at, scope), None)
            if isinstance(entry, Recorded) and entry.recorded_at == recorded_at:
                del self._entries[scope]

    def world_json(self, now: float, window: float) -> bytes:
        """For a world file: the answers still within the replay window, oldest first. Keys in
        flight are left out: their request never answered, so a retry must do the work."""
        self._expire(now - window)
        parts = []
        for recorded_at, scope in self._order:
            entry = self._entries.get(scope)
            if isinstance(entry, Recorded) and entry.recorded_at == recorded_at:
                saved = self._saved.get((recorded_at, scope))
                if saved is None:  # an answer never changes: encoded once
                    saved = self._saved[recorded_at, scope] = compact(_answer_record(scope, entry))
                parts.append(saved)
        return b"[" + b",".join(parts) + b"]"

    @classmethod
    def from_records(cls, saved: list[Record]) -> IdempotencyStore:
        store = cls()
        for record in saved:
            scope = (record.text("method"), record.text("path"), record.text("key"))
            body = record.text("body").encode("utf-8", "surrogateescape")
            recorded_at = record.number("recorded_at")
            store.record(scope, record.whole("status"), body, record.text("media_type"), recorded_at)
        return store


def _answer_record(scope: Scope, entry: Recorded) -> dict[str, Any]:
    method, path, key = scope
    return {
        "method": method,
        "path": path,
        "key": key,
        "status": entry.status,
        # The sandbox's own JSON as text; surrogateescape keeps any other byte all the same.
        "body": entry.body.decode("utf-8", "surrogateescape"),
        "media_type": entry.media_type,
        "recorded_at": entry.recorded_at,
    }
