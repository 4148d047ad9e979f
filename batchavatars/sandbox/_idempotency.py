"""Idempotency-Key bookkeeping: what was answered under a key, and which keys are in flight.

Scope is (method, path, key): the same key on another route or resource is independent.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

TTL_SECONDS = 24 * 3600
KEY_PATTERN = re.compile(r"[A-Za-z0-9_:.-]{1,255}")

Scope = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Recorded:
    status: int
    body: bytes
    media_type: str
    expires_at: float


class InFlight:
    """Marker for a key whose first request has not answered yet."""


IN_FLIGHT = InFlight()


class IdempotencyStore:
    def __init__(self) -> None:
        self._entries: dict[Scope, Recorded | InFlight] = {}
        self._expiry: deque[tuple[float, Scope]] = deque()  # recording order = expiry order

    def lookup(self, scope: Scope, now: float) -> Recorded | InFlight | None:
        self._expire(now)
        return self._entries.get(scope)

    def reserve(self, scope: Scope) -> None:
        self._entries[scope] = IN_FLIGHT

    def release(self, scope: Scope) -> None:
        if self._entries.get(scope) is IN_FLIGHT:
            del self._entries[scope]

    def record(self, scope: Scope, status: int, body: bytes, media_type: str, now: float) -> None:
        self._entries[scope] = Recorded(status, body, media_type, now + TTL_SECONDS)
        self._expiry.append((now + TTL_SECONDS, scope))

    def _expire(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, scope = expiry.popleft()
            entry = self._entries.get(scope)
            if isinstance(entry, Recorded) and entry.expires_at <= now:
                del self._entries[scope]
