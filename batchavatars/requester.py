"""The request layer: every request, under the shared limits and the retry policy.

One Requester owns the rate meter (every request), the training gate (creations) and the retry
policy (retry.py decides; this obeys). The scheduler, uploads, adoption, prune and the account
look-up all send through it. What a request ends in is one of three things: a result, ItemFailed
(the policy gave up on this item: its code, message and who said so), or Abandoned (the run is
stopping: leave the item as the ledger has it, resumable).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import anyio

from .apierrors import ApiError, HttpError, QuotaExceeded, Unreachable, describe, no_route
from .events import Reporter
from .meter import Meter, Slot, TrainingGate, Unlimited
from .records import ErrorSource, StopReason
from .retry import RetryPolicy, Verdict

T = TypeVar("T")


class ItemFailed(Exception):
    """The item cannot go on this run. `source` says whether HeyGen answered definitively."""

    def __init__(
        self,
        code: str,
        message: str,
        source: ErrorSource,
        *,
        status: int | None = None,
        param: str | None = None,
        doc_url: str | None = None,
        error: ApiError | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.source = code, message, source
        self.status = status  # the HTTP status, where HeyGen answered: 404s are told apart by it, not by code
        self.param, self.doc_url = param, doc_url
        self.error = error  # the answer it came from, if any: its kind (apierrors.py) says what it means

    @classmethod
    def of(cls, error: ApiError) -> ItemFailed:
        """The policy gave up on `error`; its kind says who spoke."""
        if isinstance(error, HttpError):
            return cls(
                error.code,
                error.message,
                error.source,
                status=error.status,
                param=error.param,
                doc_url=error.doc_url,
                error=error,
            )
        return cls(error.code, error.message, error.source, error=error)

    @property
    def envelope(self) -> dict[str, str | None]:
        return {"param": self.param, "doc_url": self.doc_url}


class Abandoned(Exception):
    """The run is stopping: leave the item as the ledger has it (resumable). `sent`: whether
    this request left at least once (its answer then may have been lost)."""

    def __init__(self, *, sent: bool = True) -> None:
        super().__init__("the run is stopping")
        self.sent = sent


class Control(Protocol):
    """The run's stop switch, as a request sees it."""

    @property
    def stopping(self) -> StopReason | None: ...

    def stop(self, reason: StopReason, message: str) -> None: ...


class Alone:
    """The control of a one-off call outside a run (adoption's listing): the policy alone decides."""

    def __init__(self) -> None:
        self.stopping: StopReason | None = None

    def stop(self, reason: StopReason, message: str) -> None:
        self.stopping = reason


class Requester:
    """Owns the meter, the gate and the retry policy: every request of a run passes through
    `call`, so limits and retries are applied in one place."""

    def __init__(
        self,
        meter: Meter,
        gate: TrainingGate,
        policy: RetryPolicy,
        control: Control,
        report: Reporter,
        rng: random.Random,
    ) -> None:
        self.meter = meter
        self.gate = gate
        self.policy = policy
        self._control = control
        self._report = report
        self._rng = rng
        self.answered = False  # has the API ever answered (any HTTP answer with HeyGen's envelope, or a 2xx)?
        self._dead = 0  # attempts in a row that never reached an API, while it never answered

    @property
    def stopping(self) -> StopReason | None:
        """Why the run is stopping, if it is: a wait outside a request (an asset processing) ends too."""
        return self._control.stopping

    @classmethod
    def alone(cls, policy: RetryPolicy, report: Reporter, meter: Meter | None = None) -> Requester:
        """For calls before a run starts: the same policy, paced by `meter` if given."""
        return cls(meter or Unlimited(), TrainingGate(), policy, Alone(), report, random.Random())

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        what: str,
        item: str | None = None,
        slot: Slot | None = None,
        background: bool = False,
    ) -> T:
        """One request under the meter and the retry policy; `slot` marks a creation, which
        gives its place under the training cap back while it waits out a 429."""
        attempt = 0
        while True:
            attempt += 1
            await self.meter.acquire(background=background)
            if self._control.stopping and slot is not None:
                raise Abandoned(sent=attempt > 1)  # stopped while waiting for a turn: this POST never leaves
            try:
                result = await fn()
            except ApiError as error:
                await self._after_error(error, attempt, what=what, item=item, slot=slot, background=background)
                continue
            self.meter.on_success()
            self.answered = True
            return result

    def _no_api(self, error: ApiError) -> bool:
        """A wrong --base-url or an API that is down is one problem, not one failure per item.
        True when nothing has ever answered and this attempt found no API either: it is retried
        (never failed) until DEAD_AFTER such attempts in a row stop the run as unreachable."""
        if self.answered or not _dead(error):
            if isinstance(error, HttpError) and not _dead(error):
                self.answered = True
            self._dead = 0
            return False
        self._dead += 1
        if self._dead >= DEAD_AFTER:
            self._control.stop(StopReason.UNREACHABLE, describe(error))
            # a connection never made sent nothing; a 404 from no API created nothing either
            raise Abandoned(sent=False)
        return True

    async def _after_error(
        self, error: ApiError, attempt: int, *, what: str, item: str | None, slot: Slot | None, background: bool
    ) -> None:
        """Return to retry; raise ItemFailed or Abandoned otherwise."""
        if self._no_api(error):
            await anyio.sleep(self.policy.backoff(attempt, self._rng))
            return
        decision = self.policy.decide(error, attempt, self._rng)
        self._report(
            "request_failed",
            key=item,
            what=what,
            attempt=attempt,
            error=describe(error),
            request_id=getattr(error, "request_id", None),
            verdict=decision.verdict.value,
            retry_in=round(decision.delay, 3),
        )
        if isinstance(error, QuotaExceeded):
            self._report("quota_exceeded", key=item, what=what, message=error.message, retry_in=round(decision.delay))
        if decision.rate_limited:
            self.meter.on_rate_limited(getattr(error, "retry_after", None))
            if slot is not None:
                self.gate.on_cap_hit()
        if decision.long_wait and slot is not None:
            slot.give_back()  # nobody's place while waiting out Retry-After or a quota
        if decision.verdict is Verdict.RETRY:
            if self._control.stopping and not background:
                raise Abandoned from None
            await self._pause(decision.delay)
            if slot is not None and not slot.held:
                await slot.take()  # queue for the cap again, behind the gate
            if self._control.stopping:
                raise Abandoned from None
            return
        if decision.verdict is Verdict.STOP_RUN:
            # The item records the 401/403 (so `status` shows its fix); the run stops.
            self._control.stop(StopReason.AUTH, describe(error))
        if decision.verdict is Verdict.STOP_NEW_WORK:
            self._control.stop(*_stop_for(error))
        raise ItemFailed.of(error) from None

    async def _pause(self, seconds: float) -> None:
        """Wait before a retry, but not past the moment the run starts stopping: a quota's wait is
        long, and Ctrl-C must not wait it out."""
        with anyio.move_on_after(seconds):
            while not self._control.stopping:
                await anyio.sleep(min(seconds, 1.0))


def _stop_for(error: ApiError) -> tuple[StopReason, str]:
    if isinstance(error, QuotaExceeded):
        return StopReason.QUOTA, f"{describe(error)}: HeyGen's usage quota is used up, no new work started"
    return StopReason.CREDIT, f"{describe(error)}: out of credits, no new work started"


DEAD_AFTER = 3  # attempts in a row that never reached an API before the run stops as unreachable


def _dead(error: ApiError) -> bool:
    return isinstance(error, Unreachable) or no_route(error)
