"""Instrumentation kept apart from the core: the scheduler reports what happens through a
Reporter; logs, the progress display and tests subscribe. The core never formats output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

# Everything a run reports, in the order an item meets them; the fields each carries are in the
# README's "Logs" section. A new event is added here first, so mypy finds every subscriber.
Event = Literal[
    "note",
    "run_started",
    "adopted",
    "adopt_ambiguous",
    "adopt_done",
    "item_submitting",
    "request_failed",
    "quota_exceeded",
    "item_created",
    "consent_requested",
    "consent_failed",
    "consent_approved",
    "polled",
    "poll_failed",
    "item_succeeded",
    "item_failed",
    "item_unanswered",
    "item_blocked",
    "item_renamed",
    "rename_failed",
    "changed_left_alone",
    "look_deleted",
    "run_stopping",
]


# Request logging, kept apart from the request path: the client calls it as
# on_response(method, route, HTTP status, milliseconds, request id) after each answered request.
ResponseHook = Callable[[str, str, int, float, str | None], None]


class Reporter(Protocol):
    def __call__(self, event: Event, /, **fields: Any) -> None: ...


def silent(event: Event, /, **fields: Any) -> None:
    """The default reporter."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a run stands, for a display to read without reaching into the scheduler."""

    statuses: dict[str, int]
    requests: int
    rate_limited: int
