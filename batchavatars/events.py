"""Instrumentation kept apart from the core: the scheduler reports what happens through a
Reporter; logs, the progress display and tests subscribe. The core never formats output."""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def __call__(self, event: str, /, **fields: Any) -> None: ...


def silent(event: str, /, **fields: Any) -> None:
    """The default reporter."""


class Fanout:
    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = list(reporters)

    def __call__(self, event: str, /, **fields: Any) -> None:
        for reporter in self.reporters:
            reporter(event, **fields)
