"""Instrumentation kept apart from the core: the scheduler reports what happens through a
Reporter; logs, the progress display and tests subscribe. The core never formats output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Reporter(Protocol):
    def __call__(self, event: str, /, **fields: Any) -> None: ...


def silent(event: str, /, **fields: Any) -> None:
    """The default reporter."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a run stands, for a display to read without reaching into the scheduler."""

    statuses: dict[str, int]
    requests: int
    rate_limited: int
