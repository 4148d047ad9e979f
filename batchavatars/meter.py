"""Shared limits on what we ask of HeyGen, on anyio primitives.

RateMeter paces every request (creations and polls alike) to one learned rate: additive increase
while answers come back, multiplicative decrease on a 429, and a hold for everyone until the
Retry-After has passed, so one 429 slows all workers, not one task. Polls ask as `background`:
they take only the budget creations leave unused, so polling never delays a creation.

TrainingGate holds creations back while our jobs in training reach the server's cap on concurrent
jobs, instead of collecting 429s for them. The cap is given (--max-training) or learned from 429s
to creations, and probed upward so that a 429 misread as the cap does not throttle us forever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import anyio


class Meter(Protocol):
    """What every request passes: wait for a turn, then report how the answer went."""

    async def acquire(self, *, background: bool = False) -> None: ...
    def on_success(self) -> None: ...
    def on_rate_limited(self, retry_after: float | None) -> None: ...


class Unlimited:
    """--rate 0: no pacing, the same three methods (so no caller asks `if meter is not None`)."""

    async def acquire(self, *, background: bool = False) -> None:
        return None

    def on_success(self) -> None:
        return None

    def on_rate_limited(self, retry_after: float | None) -> None:
        return None


class RateMeter:
    """Paces every request to one learned rate (AIMD); a 429 holds everyone for Retry-After.
    Background requests (polls) take only the budget foreground ones leave."""

    def __init__(
        self,
        rate: float,
        *,
        min_rate: float = 0.2,
        decrease: float = 0.7,
        increase: float = 0.5,  # req/s gained per second of clean answers
        starve_after: float = 2.0,  # a background request waits at most this long behind foreground ones
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        self.max_rate = rate
        self.rate = rate
        self.min_rate = min(min_rate, rate)
        self._decrease = decrease
        self._increase = increase
        self._starve_after = starve_after
        self._clock = clock
        self._next = 0.0  # earliest time the next request may go
        self._hold_until = 0.0  # Retry-After: nobody sends before this
        self._epoch = 0  # bumped by every 429, so reserved slots are re-checked
        self._last_decrease = -1e9
        self._foreground_waiting = 0

    async def acquire(self, *, background: bool = False) -> None:
        waited_since = self._clock()
        while True:
            now = self._clock()
            if background and self._foreground_waiting and now - waited_since < self._starve_after:
                await anyio.sleep(1.0 / self.rate)
                continue
            slot = max(now, self._next, self._hold_until)
            self._next = slot + 1.0 / self.rate
            if slot <= now:
                return
            epoch = self._epoch
            if not background:
                self._foreground_waiting += 1
            try:
                await anyio.sleep(slot - now)
            finally:
                if not background:
                    self._foreground_waiting -= 1
            if epoch == self._epoch:
                return
            # a 429 arrived while we slept: take a fresh slot behind the hold

    def on_success(self) -> None:
        if self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate + self._increase / self.rate)

    def on_rate_limited(self, retry_after: float | None) -> None:
        now = self._clock()
        if retry_after:
            self._hold_until = max(self._hold_until, now + retry_after)
        self._epoch += 1
        # Many 429s answer requests sent before the first one was seen: decrease once per window.
        if now - self._last_decrease >= max(1.0, retry_after or 0.0):
            self.rate = max(self.min_rate, self.rate * self._decrease)
            self._last_decrease = now


class TrainingGate:
    """Admission of creations under the cap on concurrent training jobs. A creation reserves its
    slot when admitted, so a poll that sees many completions at once lets in as many creations as
    there are free slots, not every waiter."""

    def __init__(
        self, cap: int | None = None, *, probe_every: float = 2.0, clock: Callable[[], float] = anyio.current_time
    ) -> None:
        self.cap = cap
        self._learned = cap is None
        self.training = 0  # our jobs training, as far as polls have told us
        self._reserved = 0  # creations admitted and not answered yet
        self._changed = anyio.Event()
        self._probe_every = probe_every
        self._last_probe = -1e9
        self._clock = clock
        self._released = False
        self._probing = False  # a creation let through over the learned cap, to test it

    def _open(self) -> bool:
        return self._released or self.cap is None or self.training + self._reserved < self.cap

    def open_for_stop(self) -> None:
        """The run is stopping: let every waiter through (it will see the stop and give up)."""
        self._released = True
        self._notify()

    async def slot(self) -> Slot:
        """Wait for a slot (or to be the periodic probe of a learned cap) and hold it."""
        held = Slot(self)
        await held.take()
        return held

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Slot]:
        """One creation's place, from admission until HeyGen answered (or it gave up)."""
        held = await self.slot()
        try:
            yield held
        finally:
            held.give_back()

    async def _admit(self) -> None:
        while not self._open():
            now = self._clock()
            if self._learned and now - self._last_probe >= self._probe_every:
                self._last_probe = now
                self._probing = True
                break
            with anyio.move_on_after(self._probe_every if self._learned else None):
                await self._changed.wait()
        self._reserved += 1

    def _unreserve(self) -> None:
        self._reserved -= 1
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def started(self) -> None:
        self.training += 1
        if self._probing and self.cap is not None and self.training > self.cap:
            self.cap = self.training  # the probe was accepted: the cap is higher than we thought
        self._probing = False

    def finished(self, n: int = 1) -> None:
        self.training = max(0, self.training - n)
        self._notify()

    def on_cap_hit(self) -> None:
        """A creation got 429 while jobs of ours were training: that many is the cap, for now."""
        self._probing = False
        if self._learned and self.training > 0:
            self.cap = self.training


class Slot:
    """One creation's place under the training cap, from admission until HeyGen answers. A 429
    gives it back while the creation waits out Retry-After, and the retry queues for it again."""

    def __init__(self, gate: TrainingGate) -> None:
        self._gate = gate
        self.held = False

    async def take(self) -> None:
        await self._gate._admit()
        self.held = True

    def give_back(self) -> None:
        if self.held:  # idempotent: every path out of a creation may call it
            self.held = False
            self._gate._unreserve()
