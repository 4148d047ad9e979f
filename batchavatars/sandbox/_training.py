"""How many looks are training right now, without a task or a scan per look.

Each look trains over a window [start, end). Windows wait in a heap by start until their
start passes, then sit in a heap by end; moving clock events through the two heaps in time
order keeps the count (and its peak) exact in O(log n) per window.
"""

from __future__ import annotations

import heapq
import itertools


class Window:
    __slots__ = ("start", "end", "alive", "active")

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.alive = True  # False once its look is deleted
        self.active = False  # counted in TrainingTracker.count


class TrainingTracker:
    def __init__(self) -> None:
        self._seq = itertools.count()  # tie-breaker so heaps never compare windows
        self._pending: list[tuple[float, int, Window]] = []  # by start
        self._active: list[tuple[float, int, Window]] = []  # by end
        self._count = 0
        self.peak = 0

    def add(self, start: float, end: float) -> Window:
        window = Window(start, end)
        if end > start:  # an empty window never trains
            heapq.heappush(self._pending, (start, next(self._seq), window))
        return window

    def cancel(self, window: Window) -> None:
        if window.alive:
            window.alive = False
            if window.active:
                self._count -= 1

    def count(self, now: float) -> int:
        self._advance(now)
        return self._count

    def next_end(self, now: float) -> float | None:
        """When the earliest current job ends (for a Retry-After), or None if none runs."""
        self._advance(now)
        while self._active and not self._active[0][2].alive:
            heapq.heappop(self._active)
        return self._active[0][0] if self._active else None

    def _advance(self, now: float) -> None:
        pending, active = self._pending, self._active
        inf = float("inf")
        while True:
            next_start = pending[0][0] if pending else inf
            next_end = active[0][0] if active else inf
            if min(next_start, next_end) > now:
                return
            if next_end <= next_start:  # [start, end): an end at t frees its slot before a start at t
                window = heapq.heappop(active)[2]
                window.active = False
                if window.alive:
                    self._count -= 1
            else:
                window = heapq.heappop(pending)[2]
                if window.alive:
                    window.active = True
                    heapq.heappush(active, (window.end, next(self._seq), window))
                    self._count += 1
                    if self._count > self.peak:
                        self.peak = self._count
