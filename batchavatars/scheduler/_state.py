"""An item's life as a table, with no I/O (in the spirit of h11's `_state.py`).

Two views of one item are kept in step: its `Status` in the ledger (what survives the process) and
its `Phase` in this run's memory (what the scheduler does with it next). The ledger's side changes
only through `EVENTS`, named transitions whose legal starting points are written down here, so an
impossible move (succeeding an item never sent, blocking one in training) fails loudly in tests
instead of writing a ledger that the next run misreads.
"""

from __future__ import annotations

from enum import StrEnum

from ..records import Status


class Phase(StrEnum):
    """What this run does with an item next."""

    WAITING = "waiting"  # for its parent (or for nothing yet: not ready)
    READY = "ready"  # queued for a worker
    RUNNING = "running"  # a worker is creating it
    WATCH = "watch"  # training or awaiting consent: the poller watches it
    DONE = "done"  # nothing more to do this run
    LEFT = "left"  # changed since made: not ours to touch without --replace


class Event(StrEnum):
    """What happened to an item, as the ledger records it."""

    SUBMIT = "submit"  # the intent (and its Idempotency-Key) is recorded; the POST is about to leave
    UNSEND = "unsend"  # the POST never left (the run stopped first): as if never tried
    ACCEPT = "accept"  # HeyGen answered 2xx: training on its side
    AWAIT_CONSENT = "await_consent"  # a twin's group waits for the person's consent
    CONSENT_GIVEN = "consent_given"  # the group no longer waits; training goes on
    SUCCEED = "succeed"  # the look is completed (and, for a twin, its group no longer waits)
    FAIL = "fail"  # a definitive answer: refused, or training failed
    NO_ANSWER = "no_answer"  # retries ran out without a definitive answer: same key next time
    BLOCK = "block"  # a parent failed: it can never be sent
    RESET = "reset"  # a new attempt from scratch (a fresh key), or back to pending to try again


_SENT = (Status.CREATING, Status.UNANSWERED)
_LIVE = (Status.TRAINING, Status.AWAITING_CONSENT)

# event -> (statuses it may start from, status it leads to); None: the status stays.
EVENTS: dict[Event, tuple[tuple[Status, ...], Status | None]] = {
    Event.SUBMIT: ((Status.PENDING, *_SENT), Status.CREATING),
    Event.UNSEND: ((Status.CREATING,), Status.PENDING),
    Event.ACCEPT: (_SENT, Status.TRAINING),
    Event.AWAIT_CONSENT: ((*_SENT, *_LIVE), Status.AWAITING_CONSENT),
    Event.CONSENT_GIVEN: ((Status.AWAITING_CONSENT,), Status.TRAINING),
    Event.SUCCEED: ((*_SENT, *_LIVE), Status.SUCCEEDED),
    Event.FAIL: ((Status.PENDING, *_SENT, *_LIVE), Status.FAILED),
    Event.NO_ANSWER: (_SENT, Status.UNANSWERED),
    Event.BLOCK: ((Status.PENDING, *_SENT, Status.FAILED, Status.BLOCKED), Status.BLOCKED),
    Event.RESET: (tuple(Status), Status.PENDING),
}


class IllegalTransition(RuntimeError):
    """A bug of ours: the scheduler asked for a move the table does not allow."""


def next_status(status: str, event: Event) -> Status:
    sources, target = EVENTS[event]
    if status not in sources:
        raise IllegalTransition(f"{event.value} from {status}: allowed from {', '.join(sources)}")
    return Status(status) if target is None else target
