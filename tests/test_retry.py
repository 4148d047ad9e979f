"""Retry classification: what a user sees is which failures are retried and which end the item."""

import random

import pytest

from batchavatars.apierrors import (
    AuthFailed,
    InProgress,
    NotReady,
    OutOfCredit,
    QuotaExceeded,
    RateLimited,
    Rejected,
    RequestTimeout,
    ServerError,
    TransportError,
    classify,
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


def test_a_used_up_quota_is_no_rate_limit_it_waits_long_and_then_stops_new_work():
    quota = http(QuotaExceeded, 429, "quota_exceeded", retry_after=1)
    policy = RetryPolicy(max_attempts=6)
    decisions = [policy.decide(quota, n) for n in range(1, 7)]
    assert [d.delay for d in decisions[:5]] == [60, 120, 240, 480, 900]  # long, capped at 15 min
    assert not any(d.rate_limited for d in decisions)  # the meter does not slow everyone for it
    assert all(d.long_wait for d in decisions[:5])  # a creation's place under the cap is given back meanwhile
    assert decisions[5].verdict is Verdict.STOP_NEW_WORK  # after ~30 min: no new work; the next run goes on
    assert policy.decide(http(QuotaExceeded, 429, "quota_exceeded", retry_after=1200), 1).delay == 900


def test_an_answer_is_classified_by_status_and_the_few_codes_that_change_its_meaning():
    assert classify(429, "quota_exceeded") is QuotaExceeded and classify(429, "rate_limit_exceeded") is RateLimited
    assert classify(403, "resource_access_denied") is Rejected and classify(403, "forbidden") is AuthFailed
    assert classify(409, "request_in_progress") is InProgress and classify(409, "x") is Rejected
    assert classify(409, "x", conflict_means_not_ready=True) is NotReady  # /complete's "not there yet"
    assert classify(400, "asset_not_available") is NotReady and classify(502, "") is ServerError
