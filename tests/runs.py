"""Run the scheduler end to end against a server, for tests: manifest items in, result out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batchavatars.client import HeyGenClient, Timeouts
from batchavatars.ledger import Ledger
from batchavatars.planner import build_plan
from batchavatars.records import RunResult
from batchavatars.scheduler import Scheduler
from batchavatars.settings import RunSettings

FAST = dict(rate=0, concurrency=8, poll_min=0.05, poll_max=0.3, seed=1)


async def run_items(
    items: list[Any],
    url: str,
    ledger_path: Path,
    *,
    key: str = "test-key",
    events: list | None = None,
    recreate: tuple[str, ...] = (),
    timeouts: Timeouts | None = None,
    **options: Any,
) -> RunResult:
    opts = {**FAST, **options}
    book = Ledger(ledger_path)
    try:
        plan = build_plan(items, book.records(), recreate=recreate)
        async with HeyGenClient(url, key, timeouts=timeouts or Timeouts()) as client:
            if events is not None:
                opts["on_event"] = lambda event, **fields: events.append((event, fields))
            scheduler = Scheduler(plan, book, client, RunSettings(**opts))
            return await scheduler.run()
    finally:
        book.close()
