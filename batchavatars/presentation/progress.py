"""Live progress on a terminal: a bar with done/total and the ETA, counts by status on their own
line, requests per second and 429s, and under them the consent links waiting for a person (pinned,
so they do not scroll away). It only reads a snapshot of the run; off a terminal it is never
started (no control characters). Laid out to fit 80 columns."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..events import Snapshot
from ..records import STATUSES, TERMINAL

MAX_LINKS = 5  # pinned consent links; the rest are counted (all of them are in the summary)


class ProgressView:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        consent_links: Sequence[tuple[str, str]] = (),
    ) -> None:
        from rich.live import Live

        self._snapshot = snapshot
        self._clock = clock
        self._started = clock()
        self._done_at_start: int | None = None
        self._links = consent_links  # (key, url), appended to by the CLI as links arrive
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
        # The bar gets what the text beside it leaves; a grid keeps a gap between them.
        head = Table.grid(padding=(0, 1), expand=True)
        head.add_column(ratio=1, min_width=10)
        head.add_column(no_wrap=True)
        head.add_row(
            _Bar(total=max(total, 1), completed=done),
            Text(f"{done:,}/{total:,} done · ETA {eta}"),
        )
        counts = Text(" · ".join(f"{s} {snap.statuses[s]:,}" for s in STATUSES if snap.statuses.get(s)))
        stats = Text(f"{snap.requests / elapsed:.1f} req/s · {snap.rate_limited} × 429 · {elapsed:.0f} s", style="dim")
        parts: list[Text | Table] = [head, counts, stats]
        links = list(self._links)
        if links:
            parts.append(Text("Consent links to send (each to the person depicted):", style="bold"))
            parts += [Text(f"  {key}: {url}", no_wrap=False) for key, url in links[:MAX_LINKS]]
            if len(links) > MAX_LINKS:
                parts.append(Text(f"  …and {len(links) - MAX_LINKS} more (all in the summary)"))
        return Group(*parts)

    def __enter__(self) -> ProgressView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)  # type: ignore[arg-type]
        self.console.print()  # a blank line between the last frame and the summary


class _Bar:
    """A progress bar as wide as its cell."""

    def __init__(self, total: int, completed: int) -> None:
        self.total = total
        self.completed = completed

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield ProgressBar(total=self.total, completed=self.completed, width=options.max_width)
