"""Live progress on a terminal: counts by status, requests per second, 429s, an ETA.
It only reads a snapshot of the run; off a terminal it is never started (no control characters)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .events import Snapshot
from .records import STATUSES, TERMINAL


class ProgressView:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._clock = clock
        self._started = clock()
        self._done_at_start: int | None = None
        self.console = console or Console(stderr=True)
        self.live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4, transient=False)

    def render(self) -> Group:
        snap = self._snapshot()
        total = sum(snap.statuses.values())
        done = sum(n for s, n in snap.statuses.items() if s in TERMINAL)
        if self._done_at_start is None:
            self._done_at_start = done
        elapsed = max(1e-6, self._clock() - self._started)
        rate = (done - self._done_at_start) / elapsed
        eta = f"{(total - done) / rate:,.0f} s" if rate > 0 and done < total else "–"
        line = Table.grid(padding=(0, 2))
        for status in STATUSES:
            if snap.statuses.get(status):
                line.add_column()
        line.add_row(*[Text(f"{s} {snap.statuses[s]}") for s in STATUSES if snap.statuses.get(s)])
        stats = Text(
            f"{done}/{total} done · {snap.requests / elapsed:.1f} req/s · {snap.rate_limited} × 429 · "
            f"ETA {eta} · {elapsed:.0f} s"
        )
        return Group(ProgressBar(total=max(total, 1), completed=done, width=50), line, stats)

    def __enter__(self) -> ProgressView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)  # type: ignore[arg-type]
