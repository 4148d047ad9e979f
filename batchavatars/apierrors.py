"""Kinds of failure of one API call, shaped for the retry policy to classify (see retry.py).

Transport failures (no HTTP answer) are kept apart from HeyGen's answers: only the latter carry
HeyGen's error code, and the ledger records which of the two ended an item.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass


class ApiError(Exception):
    """Anything an API call raised."""


class TransportError(ApiError):
    """No usable HTTP answer: timeout, refused or dropped connection, truncated body."""

    code = "transport_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestTimeout(TransportError):
    code = "timeout"


class Unreachable(TransportError):
    """The connection was never made (refused, no route, DNS, connect timeout): the request did not
    reach the server, so it did no work."""

    code = "unreachable"


@dataclass(eq=False)
class HttpError(ApiError):
    """HeyGen answered with an error status and (usually) its envelope."""

    status: int
    code: str
    message: str
    request_id: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    param: str | None = None  # the envelope's `param`: the field HeyGen objected to
    doc_url: str | None = None  # the envelope's `doc_url`

    def __post_init__(self) -> None:
        super().__init__(f"HTTP {self.status} {self.code}: {self.message}")


class Rejected(HttpError):
    """400/404/409-conflict/422: this item is wrong; retrying cannot help."""


class NotFound(Rejected):
    """404, whatever its code (`not_found`, `avatar_not_found`, `resource_not_found` are all in use)."""


class NotReady(HttpError):
    """The request is right but a resource it names is not ready yet (an asset still processing,
    an uploaded object not visible yet): wait, then send it again."""


class InProgress(HttpError):
    """409 request_in_progress: the same Idempotency-Key is still being processed."""


class RateLimited(HttpError):
    """429: too many requests or too many concurrent training jobs."""


class ServerError(HttpError):
    """5xx: HeyGen's side; retry."""


class OutOfCredit(HttpError):
    """402: stop starting new work; what is in flight finishes."""


class AuthFailed(HttpError):
    """401/403: the key is rejected or the account tier lacks avatar creation; stop the run."""


# Codes that name a resource that will be ready soon, not a mistake in the request.
NOT_READY_CODES = frozenset({"asset_not_available", "upload_not_found"})


def error_for(status: int, code: str) -> type[HttpError]:
    """Classified by HTTP status, refined by the few codes whose meaning differs within a status."""
    if status == 409 and code == "request_in_progress":
        return InProgress
    if code in NOT_READY_CODES and status in (400, 404, 409):
        return NotReady
    if status == 403 and code == "resource_access_denied":
        return Rejected  # this key may not touch *that* resource: the item's problem, not the run's
    if status == 404:
        return NotFound
    return error_for_status(status)


def error_for_status(status: int) -> type[HttpError]:
    if status == 429:
        return RateLimited
    if status in (401, 403):
        return AuthFailed
    if status == 402:
        return OutOfCredit
    if status >= 500:
        return ServerError
    return Rejected


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)
