"""Structured logs through structlog: readable on a terminal, one JSON object per line elsewhere.
Secrets are redacted here, whatever the caller logged: auth headers by name, and the key's value
wherever it appears in a string."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from ..events import Event, Reporter
from .summary import advice_for

_SECRET_NAMES = {"x-api-key", "api_key", "apikey", "authorization", "x_api_key", "token", "password", "data"}
REDACTED = "[redacted]"


class Redactor:
    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: (REDACTED if str(k).lower() in _SECRET_NAMES else self.scrub(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.scrub(v) for v in value)
        return value

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        scrubbed: MutableMapping[str, Any] = self.scrub(dict(event_dict))
        return scrubbed


def configure(*, fmt: str, verbosity: int, secrets: list[str], stream: Any = None) -> structlog.BoundLogger:
    """fmt: 'auto' (console on a terminal, JSON otherwise), 'console' or 'json'.
    verbosity: -1 quiet (warnings), 0 normal, 1 debug."""
    stream = stream or _CurrentStderr()
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            Redactor(secrets),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logger: structlog.BoundLogger = structlog.get_logger("batchavatars")
    return logger


class _CurrentStderr:
    """Writes to whatever sys.stderr is now, so a live progress display can redirect log lines above it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


_LEVELS: dict[Event, str] = {
    "item_failed": "warning",
    "item_blocked": "warning",
    "request_failed": "info",
    "quota_exceeded": "warning",  # not a rate limit: it may take hours to clear, a person should know
    "run_stopping": "warning",
    "changed_left_alone": "warning",
    "rename_failed": "warning",
    "consent_failed": "warning",
    "consent_requested": "warning",  # a link a person must send: kept under -q, shown at once
    "polled": "debug",
    "item_submitting": "debug",
    "poll_failed": "info",
}


def log_reporter(logger: structlog.BoundLogger) -> Reporter:
    """Scheduler events as log lines: each carries the item key, the event, attempt and request id."""

    def report(event: Event, /, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        if event == "item_failed" and "fix" not in fields:
            fields["fix"] = advice_for(fields.get("error_code"), fields.get("source"))
        if event == "request_failed" and fields.get("verdict") != "retry":
            level = "warning"
        else:
            level = _LEVELS.get(event, "info")
        getattr(logger, level)(event, **fields)

    return report
