"""Watching training and consent: one poller for the whole run, in bulk, on the request budget
creations leave unused (polls ask the meter as background). When to poll and which way is
cheapest are decided in _timing.py; this module does the requests and applies the answers."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from ..records import Status
from ._graph import Node
from ._requester import Abandoned, ItemFailed
from ._state import Phase
from ._timing import LOOKS_PAGE, PollTiming, TrainingClock, choose_poll

if TYPE_CHECKING:
    from ._core import Scheduler


class Poller:
    """The run's one poller: owns the training-time estimate and the cost of the last full scan;
    changes items only through the scheduler's reactions (observe, fail)."""

    def __init__(self, run: Scheduler) -> None:
        self._run = run
        self.clock = TrainingClock()
        self._timing = PollTiming(run.options.poll_min, run.options.poll_max)
        self._soon = False
        self._scan_pages = 1
        self.cycles = 0  # a run decides nothing about watched items before it has looked once

    def soon(self) -> None:
        """Something new is watched: poll again at the minimum interval."""
        self._soon = True

    async def run(self) -> None:
        """Poll when a look is expected to be done, else on a backoff that grows while nothing changes."""
        run, options = self._run, self._run.options
        interval = options.poll_min
        last = anyio.current_time()
        while not run.finished.is_set():
            if not run.watch:
                await run.wait_change()
                continue
            started = (n.since for n in run.watch.values() if n.record.status == Status.TRAINING)
            expected = self.clock.next_expected(started, after=last)
            deadline = None
            if run.idle_since is not None and not options.no_wait:
                deadline = run.idle_since + options.wait_timeout
            due = self._timing.due(last, interval, expected, deadline) if self.cycles else last
            with anyio.move_on_after(max(0.0, due - anyio.current_time())):
                await run.finished.wait()
            if run.finished.is_set():
                return
            last = anyio.current_time()
            changed = await self.cycle()
            self.cycles += 1
            interval = self._timing.next_interval(interval, changed=changed or self._soon)
            self._soon = False
            run.check_done()

    async def cycle(self) -> bool:
        """One look at every watched item; True when any of them moved on."""
        run = self._run
        started = anyio.current_time()
        watched = dict(run.watch)
        groups: dict[str, int] = {}
        for node in watched.values():
            if node.record.group_id:
                groups[node.record.group_id] = groups.get(node.record.group_id, 0) + 1
        all_grouped = all(node.record.group_id for node in watched.values())
        how = choose_poll(len(watched), groups, all_grouped, self._scan_pages)
        try:
            if how == "each":
                looks = await self._each(watched)
            elif how == "group":
                looks = [look for group_id in groups for look in await self._list_all(group_id)]
            else:
                looks = await self._list_all(None)
        except (ItemFailed, Abandoned) as exc:
            run.report("poll_failed", error=str(exc))
            return False
        run.report("polled", how=how, watched=len(watched), seen=len(looks))
        changed = False
        for look in looks:
            seen = watched.get(look.get("id", ""))
            if seen is not None and seen.phase == Phase.WATCH:
                changed |= run.observe(seen, look)
                if seen.phase == Phase.WATCH and run.creator.wants_consent(seen):
                    await run.creator.consent(seen)
        for node in watched.values():
            if node.phase == Phase.WATCH:
                node.checked = started  # still training when this poll began
        return changed

    async def _each(self, watched: dict[str, Node]) -> list[dict[str, Any]]:
        run = self._run
        looks: list[dict[str, Any]] = []
        for look_id, node in watched.items():
            try:
                looks.append(
                    await run.requests.call(partial(run.client.get_look, look_id), what="poll", background=True)
                )
            except ItemFailed as failure:
                if failure.code != "not_found":
                    raise
                # deleted on HeyGen's side while we watched it: say so rather than wait forever
                run.stop_watching(node, node.record.status == Status.TRAINING)
                run.fail(node, failure.code, "the look is no longer on the account", failure.source)
        return looks

    async def _list_all(self, group_id: str | None) -> list[dict[str, Any]]:
        run = self._run
        looks: list[dict[str, Any]] = []
        token: str | None = None
        pages = 0
        while True:
            page = await run.requests.call(
                partial(run.client.list_looks, group_id=group_id, token=token, limit=LOOKS_PAGE),
                what="poll",
                background=True,
            )
            pages += 1
            looks.extend(page.items)
            token = page.next_token
            if not token:
                break
        if group_id is None:
            self._scan_pages = pages
        return looks
