"""When to poll and how, with no I/O: the training-time estimate, the backoff, and the cheapest
way to learn the state of the looks being watched."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

LOOKS_PAGE = 50  # the list endpoints' maximum page size
POLL_EACH_MAX = 3  # up to this many watched looks, single GETs are as cheap as a list
POLL_FLOOR = 0.2  # never two poll cycles closer than this, whatever the predictions say
BACKOFF = 1.5  # while nothing changes, each poll waits this much longer than the last

PollHow = Literal["each", "group", "scan"]


class TrainingClock:
    """How long training takes, bracketed by what polls saw: done by `hi`, not done at `lo`.

    A poll that sees a look done says its training took at most now - since, and more than
    checked - since (an earlier poll still saw it training). Predictions aim at the middle of
    the bracket first (a bisection, so they tighten), then at its end."""

    def __init__(self) -> None:
        self.lo = 0.0
        self.hi: float | None = None

    def learn(self, *, since: float, checked: float, now: float) -> None:
        done_by, not_at = now - since, checked - since
        self.hi = done_by if self.hi is None else min(self.hi, done_by)
        self.lo = max(self.lo, not_at)
        if self.lo >= self.hi:  # times vary: start the bracket again from this item
            self.lo, self.hi = not_at, done_by

    def next_expected(self, started: Iterable[float], *, after: float) -> float | None:
        """The soonest moment after `after` at which a look that started training at one of
        `started` is predicted done; None while no training time has been seen."""
        hi = self.hi
        if hi is None:
            return None
        mid = (self.lo + hi) / 2
        soonest: float | None = None
        for since in started:
            for guess in (since + mid, since + hi):
                if guess > after:
                    if soonest is None or guess < soonest:
                        soonest = guess
                    break
        return soonest


@dataclass(frozen=True, slots=True)
class PollTiming:
    poll_min: float
    poll_max: float

    def next_interval(self, interval: float, *, changed: bool) -> float:
        """Back to the minimum after a change, else back off."""
        return self.poll_min if changed else min(self.poll_max, interval * BACKOFF)

    @staticmethod
    def due(last: float, interval: float, expected: float | None, deadline: float | None) -> float:
        """When the next poll cycle starts: after the backoff or at the predicted completion,
        whichever is sooner, never within POLL_FLOOR of the last, and in time for `deadline`
        (when --wait-timeout runs out) even when the backoff has grown long."""
        due = last + interval
        if expected is not None:
            due = min(due, expected)
        due = max(due, last + POLL_FLOOR)
        if deadline is not None:
            due = min(due, deadline)
        return due


def choose_poll(watched: int, groups: Mapping[str, int], all_grouped: bool, scan_pages: int) -> PollHow:
    """The fewest requests: one GET per look (a few looks), a list per group (looks filtered by
    group, 50 a page), or a scan of every private look (as many pages as the last scan took)."""
    per_group = sum(math.ceil(n / LOOKS_PAGE) for n in groups.values()) if all_grouped else math.inf
    costs: dict[PollHow, float] = {
        "each": watched if watched <= POLL_EACH_MAX else math.inf,
        "group": per_group,
        "scan": scan_pages,
    }
    return min(costs, key=lambda how: costs[how])
