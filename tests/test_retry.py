"""Retry classification: what a user sees is which failures are retried and which end the item."""

import random

import pytest

from batchavatars.apierrors import (
    AuthFailed,
    InProgress,
    OutOfCredit,
    RateLimited,
    Rejected,
    RequestTimeout,
    ServerError,
    TransportError,
    parse_retry_after,
)
from batchavatars.retry import RetryPolicy, Verdict

P = RetryPolicy(max_attempts=3, initial=0.5, maximum=4.0)


def http(cls, status, code="x", retry_after=None):
    return cls(status=status, code=code, message="m", retry_after=retry_after)


@pytest.mark.parametrize(
    "error,verdict",
    [
        (http(ServerError, 503), Verdict.RETRY),
        (RequestTimeout("slow"), Verdict.RETRY),
        (TransportError("dropped"), Verdict.RETRY),
        (http(RateLimited, 429, retry_after=7), Verdict.RETRY),
        (http(InProgress, 409, "request_in_progress"), Verdict.RETRY),
        (http(Rejected, 400, "invalid_parameter"), Verdict.FAIL_ITEM),
        (http(Rejected, 404, "not_found"), Verdict.FAIL_ITEM),
        (http(OutOfCredit, 402, "insufficient_credit"), Verdict.STOP_NEW_WORK),
        (http(AuthFailed, 401, "unauthorized"), Verdict.STOP_RUN),
        (http(AuthFailed, 403, "forbidden"), Verdict.STOP_RUN),
    ],
)
def test_classification(error, verdict):
    assert P.decide(error, 1).verdict is verdict


def test_429_waits_retry_after_and_slows_everyone():
    d = P.decide(http(RateLimited, 429, retry_after=7), 1)
    assert d.delay == 7 and d.rate_limited


def test_5xx_gives_up_after_max_attempts():
    assert P.decide(http(ServerError, 500), 2).verdict is Verdict.RETRY
    assert P.decide(http(ServerError, 500), 3).verdict is Verdict.FAIL_ITEM


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(1)
    delays = [P.backoff(n, rng) for n in range(1, 8)]
    assert 0.25 <= delays[0] <= 0.5
    assert delays[2] >= 1.0 and delays[2] <= 2.0
    assert all(d <= 4.0 for d in delays) and delays[-1] >= 2.0


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("3") == 3
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 5) == pytest.approx(5)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 + 5) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
