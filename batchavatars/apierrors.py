"""Kinds of failure of one API call: the one place an answer is classified (`classify`, by HTTP
status, refined by the few codes whose meaning differs within a status). The tree says what kind
of failure it is, and each kind says who spoke (`source`: whether HeyGen answered definitively,
about the item or about the account); the retry policy (retry.py) says what to do about each kind.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import ClassVar

from .records import ErrorSource


class ApiError(Exception):
    """Anything an API call raised."""

    code: str
    message: str
    # Who ended the attempt, as the ledger records it: only a definitive answer ends a key.
    source: ClassVar[ErrorSource] = ErrorSource.TRANSPORT


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
    code: str  # HeyGen's code
    message: str
    request_id: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    param: str | None = None  # the envelope's `param`: the field HeyGen objected to
    doc_url: str | None = None  # the envelope's `doc_url`

    def __post_init__(self) -> None:
        super().__init__(f"HTTP {self.status} {self.code}: {self.message}")


class Rejected(HttpError):
    """400/404/409-conflict/422: this item is wrong; retrying cannot help."""

    source = ErrorSource.HEYGEN


class NotFound(Rejected):
    """404, whatever its code (`not_found`, `avatar_not_found`, `resource_not_found` are all in use)."""


class NotReady(HttpError):
    """The request is right but a resource it names is not ready yet (an asset still processing,
    an uploaded object not visible yet): wait, then send it again. Like a 5xx, a 409 in progress or
    a 429, it may have done the work (or not), so the same key must be sent again."""


class InProgress(HttpError):
    """409 request_in_progress: the same Idempotency-Key is still being processed."""


class RateLimited(HttpError):
    """429: too many requests or too many concurrent training jobs."""


class QuotaExceeded(RateLimited):
    """429 quota_exceeded: the account's usage quota is used up. Not a rate limit: it may not clear
    for hours, so it is waited out on a long back-off and named as such, and it slows no one down."""


class ServerError(HttpError):
    """5xx: HeyGen's side; retry."""


class OutOfCredit(HttpError):
    """402: stop starting new work; what is in flight finishes."""

    source = ErrorSource.ACCOUNT


class AuthFailed(HttpError):
    """401/403: the key is rejected or the account tier lacks avatar creation; stop the run."""

    source = ErrorSource.ACCOUNT


# Codes that name a resource that will be ready soon, not a mistake in the request.
NOT_READY_CODES = frozenset({"asset_not_available", "upload_not_found"})


# Where a code changes what its status means; every other answer is known by its status alone.
_BY_CODE: dict[tuple[int, str], type[HttpError]] = {
    (409, "request_in_progress"): InProgress,
    # this key may not touch *that* resource: the item's problem, not the run's
    (403, "resource_access_denied"): Rejected,
    (429, "quota_exceeded"): QuotaExceeded,
    **{(status, code): NotReady for status in (400, 404, 409) for code in NOT_READY_CODES},
}
_BY_STATUS: dict[int, type[HttpError]] = {
    401: AuthFailed,
    402: OutOfCredit,
    403: AuthFailed,
    404: NotFound,
    429: RateLimited,
}


def classify(status: int, code: str, *, conflict_means_not_ready: bool = False) -> type[HttpError]:
    """The kind of an error answer. `conflict_means_not_ready`: a route whose 409 says the resource
    is not there yet (/complete: "uploaded object not found yet"), never that the item is wrong."""
    if status == 409 and conflict_means_not_ready:
        return NotReady
    kind = _BY_CODE.get((status, code)) or _BY_STATUS.get(status)
    if kind is not None:
        return kind
    return ServerError if status >= 500 else Rejected


def no_route(error: ApiError) -> bool:
    """A 404 without HeyGen's error body: no API there (a wrong base URL or path), not a missing resource."""
    return isinstance(error, NotFound) and error.code == f"http_{error.status}"


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


def describe(error: ApiError) -> str:
    if isinstance(error, HttpError):
        return f"HTTP {error.status} {error.code}: {error.message}"
    return str(error)
