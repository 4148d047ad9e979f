"""What to retry and how long to wait, as data: the one policy. The kind of failure comes from
apierrors.py (which classifies every answer once); this says what to do about each kind, and the
request layer (requester.py) asks `decide()` and obeys.

- 429: wait Retry-After (seconds or HTTP date), and tell the rate meter so every worker slows down.
- 429 quota_exceeded: not a rate limit. A usage quota may not clear for hours: wait on a long,
  capped back-off (the meter is left alone), and once max_attempts run out stop starting new work.
- 409 request_in_progress: the same Idempotency-Key is still being processed: wait, same key.
- "not ready yet" (400 asset_not_available, a 409 from /complete): back off and send it again.
- 5xx, timeouts, dropped connections: exponential backoff with full jitter, up to max_attempts.
  Safe for POSTs only because every POST carries a stable Idempotency-Key.
- 400/404 (whatever its code), 403 resource_access_denied and other 4xx: the item is wrong; fail it
  now with HeyGen's code, message and the field it names.
- 402: out of credits: fail the item and stop starting new work.
- 401, and 403 other than resource_access_denied: the key is refused or lacks a permission; stop the run.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from .apierrors import (
    ApiError,
    AuthFailed,
    InProgress,
    NotReady,
    OutOfCredit,
    QuotaExceeded,
    RateLimited,
    ServerError,
    TransportError,
)


class Verdict(enum.Enum):
    RETRY = "retry"  # same request again after `delay`
    FAIL_ITEM = "fail_item"  # this item failed; others go on
    STOP_NEW_WORK = "stop_new_work"  # this item failed and nothing new should start (402, a quota used up)
    STOP_RUN = "stop_run"  # the key is rejected or not permitted (401/403)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0
    rate_limited: bool = False  # a 429: the meter must slow everyone down
    long_wait: bool = False  # a creation gives its place under the training cap back while it waits


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int  # attempts per request, the first included (settings.py has the default)
    initial: float = 0.5  # first backoff, seconds
    maximum: float = 30.0  # backoff ceiling
    multiplier: float = 2.0
    in_progress_wait: float = 1.0  # a 409 means "soon": poll the same key at this pace
    retry_after_default: float = 1.0  # 429 without a usable Retry-After
    retry_after_cap: float = 300.0  # a server asking for more than 5 min is treated as this
    # A used-up quota: a minute first, doubling, at most 15 min a wait; max_attempts attempts (6:
    # about half an hour in all) before new work stops and the next run takes over.
    quota_initial: float = 60.0
    quota_maximum: float = 900.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Equal jitter: uniform in [c/2, c], c = min(maximum, initial * multiplier**(n-1)); spreads
        retries out without ever coming straight back."""
        ceiling = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def decide(self, error: ApiError, attempt: int, rng: random.Random | None = None) -> Decision:
        """`attempt` is the number of the attempt that just failed (1 for the first)."""
        if isinstance(error, AuthFailed):
            return Decision(Verdict.STOP_RUN)
        if isinstance(error, OutOfCredit):
            return Decision(Verdict.STOP_NEW_WORK)
        if isinstance(error, QuotaExceeded):
            if attempt >= self.max_attempts:
                return Decision(Verdict.STOP_NEW_WORK)
            wait = self.quota_initial * self.multiplier ** (attempt - 1)
            wait = min(self.quota_maximum, max(wait, error.retry_after or 0.0))
            return Decision(Verdict.RETRY, wait, long_wait=True)
        if isinstance(error, RateLimited | InProgress | NotReady):
            return self._soon(error, attempt, rng)
        if isinstance(error, ServerError | TransportError):
            if attempt >= self.max_attempts:
                return Decision(Verdict.FAIL_ITEM)
            return Decision(Verdict.RETRY, self.backoff(attempt, rng))
        return Decision(Verdict.FAIL_ITEM)  # Rejected, NotFound: the item is wrong

    def _soon(self, error: RateLimited | InProgress | NotReady, attempt: int, rng: random.Random | None) -> Decision:
        """Answers that did no work and will likely pass soon: they do not spend an attempt's worth
        of patience quickly, but still count, so that a server that only ever says so ends the item."""
        if attempt >= self.max_attempts * 4:
            return Decision(Verdict.FAIL_ITEM)
        if isinstance(error, RateLimited):
            after = error.retry_after if error.retry_after is not None else self.retry_after_default
            return Decision(Verdict.RETRY, min(after, self.retry_after_cap), rate_limited=True, long_wait=True)
        if isinstance(error, InProgress):
            return Decision(Verdict.RETRY, self.in_progress_wait)
        # an asset still processing, an upload not visible yet: soon, but not at once
        return Decision(Verdict.RETRY, self.backoff(min(attempt, 4), rng))
