"""Live progress on a terminal: a bar with done/total and the ETA, counts by status on their own
line (two when they do not fit: what is under way, then what has ended), requests per second and
429s, and under them the consent links waiting for a person (pinned, so they do not scroll away;
dropped once the person approved). Once the run stops, a line above the bar says what it is
finishing. It only reads a snapshot of the run; off a terminal it is never started (no control
characters). Laid out to fit 80 columns, whatever the counts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..events import Snapshot
from ..records import STATUSES, TERMINAL, StopReason
from .summary import plural

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
        self._links = consent_links  # (key, url): the CLI adds a link as it arrives, drops it once approved
        self._stopping: str | None = None
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
        stats = Text(f"{snap.requests / elapsed:.1f} req/s · {snap.rate_limited} × 429 · {elapsed:.0f} s", style="dim")
        parts: list[Text | Table | _Counts] = [head, _Counts(snap.statuses), stats]
        if self._stopping:
            parts.insert(0, Text(self._stopping, style="bold yellow"))
        links = list(self._links)
        if links:
            parts.append(Text("Consent links to send (each to the person depicted):", style="bold"))
            parts += [Text(f"  {key}: {url}", no_wrap=False) for key, url in links[:MAX_LINKS]]
            if len(links) > MAX_LINKS:
                parts.append(Text(f"  …and {len(links) - MAX_LINKS} more (all in the summary)"))
        return Group(*parts)

    def stopping(self, fields: Mapping[str, Any]) -> None:
        """The run is stopping (its `run_stopping` event): say so above the bar until it ends."""
        self._stopping = stopping_line(fields)

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


SEPARATOR = " · "


def counts_lines(statuses: Mapping[str, int], width: int) -> list[str]:
    """The counts by status (those above zero), never broken inside a `status N`: one line if it fits
    `width`, else what is under way on one line and what has ended on the next, else packed."""
    shown = [(s, f"{s} {statuses[s]:,}") for s in STATUSES if statuses.get(s)]
    items = [text for _, text in shown]
    if len(SEPARATOR.join(items)) <= width:
        return [SEPARATOR.join(items)] if items else []
    under_way = SEPARATOR.join(text for s, text in shown if s not in TERMINAL)
    ended = SEPARATOR.join(text for s, text in shown if s in TERMINAL)
    halves = [half for half in (under_way, ended) if half]
    return halves if all(len(half) <= width for half in halves) else _packed(items, width)


def _packed(items: list[str], width: int) -> list[str]:
    lines = [""]
    for text in items:
        if lines[-1] and len(lines[-1]) + len(SEPARATOR) + len(text) > width:
            lines.append("")
        lines[-1] += (SEPARATOR if lines[-1] else "") + text
    return lines


class _Counts:
    """The counts, laid out to the width the display has."""

    def __init__(self, statuses: Mapping[str, int]) -> None:
        self.statuses = statuses

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in counts_lines(self.statuses, options.max_width):
            yield Text(line, no_wrap=True, overflow="crop")


_WHY: dict[str, str] = {
    StopReason.CREDIT: "out of credits",
    StopReason.QUOTA: "usage quota used up",
    StopReason.AUTH: "the key was refused",
    StopReason.UNREACHABLE: "the API cannot be reached",
}


def stopping_line(fields: Mapping[str, Any]) -> str:
    """What the display says once the run stops: why, and what it still finishes (the number of
    requests in flight when the event carries it)."""
    reason = str(fields.get("reason") or "")
    message = str(fields.get("message") or "")
    if reason == StopReason.INTERRUPTED:
        why = message.removeprefix("received ") or "interrupted"  # "received SIGINT": SIGINT
    else:
        why = _WHY.get(reason) or message or reason or "asked to"
    verb = "cancelling" if reason == StopReason.AUTH else "finishing"
    in_flight = fields.get("in_flight")
    if type(in_flight) is not int:  # the field is new: a scheduler without it says nothing of a number
        doing = f"{verb} the requests in flight"
    elif in_flight == 0:
        doing = "no requests in flight"
    else:
        doing = f"{verb} {plural(in_flight, 'request')} in flight"
    if reason in (StopReason.CREDIT, StopReason.QUOTA):
        doing += ", still watching what trains"  # these drain: no new work, but training is followed to its end
    return f"stopping ({why}): {doing}; the ledger stays consistent"
