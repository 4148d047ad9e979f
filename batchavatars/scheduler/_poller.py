"""Watching training and consent: one poller for the whole run, in bulk, on the request budget
creations leave unused (polls ask the meter as background). When to poll and which way is
cheapest are decided in _timing.py; this module does the requests and applies the answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio

from ..client import Page
from ..records import Status
from ..requester import Abandoned, ItemFailed
from ._creator import Creator
from ._graph import Node, is_twin
from ._observe import look_state
from ._phase import Phase
from ._run import Run
from ._timing import LOOKS_PAGE, POLL_EACH_MAX, PollTiming, TrainingClock, choose_poll


class Poller:
    """The run's one poller: owns the training-time estimate and the cost of the last full scan;
    changes items only through the scheduler's reactions (observe, fail)."""

    def __init__(self, run: Run, creator: Creator) -> None:
        self._run = run
        self._creator = creator  # asks for consent where a polled group waits for it
        self.clock = TrainingClock()
        self._timing = PollTiming(run.settings.poll_min, run.settings.poll_max)
        self._soon = False
        self._scan_pages = 1
        self.cycles = 0  # a run decides nothing about watched items before it has looked once

    def soon(self) -> None:
        """Something new is watched: poll again at the minimum interval."""
        self._soon = True

    async def run(self) -> None:
        """Poll when a look is expected to be done, else on a backoff that grows while nothing changes."""
        run, options = self._run, self._run.settings
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
        """One look at every watched item; True when any of them moved on. One failing request
        never aborts the cycle: what it would have told waits for the next one."""
        run = self._run
        started = anyio.current_time()
        watched = dict(run.watch)
        rows = await self._rows(watched)
        changed = False
        confirm: dict[str, Node] = {}
        for look_id, node in watched.items():
            row = rows.get(look_id)
            if row is None or look_state(row) == "unknown":
                confirm[look_id] = node  # missing from a list page, or no status: ask the look itself
            elif node.phase == Phase.WATCH:
                changed |= run.observe(node, row)
        for look_id, node in confirm.items():
            look = await self._one(look_id, node)
            if look is not None and node.phase == Phase.WATCH:
                changed |= run.observe(node, look)
        changed |= await self._groups([n for n in watched.values() if n.phase == Phase.WATCH and is_twin(n)])
        for node in watched.values():
            if node.phase == Phase.WATCH:
                node.checked = started  # still training when this poll began
        return changed

    async def _rows(self, watched: dict[str, Node]) -> dict[str, dict[str, Any]]:
        """The watched looks as list rows, by the cheapest way (single GETs are left to `_one`)."""
        groups: dict[str, int] = {}
        for node in watched.values():
            if node.record.group_id:
                groups[node.record.group_id] = groups.get(node.record.group_id, 0) + 1
        all_grouped = all(node.record.group_id for node in watched.values())
        how = choose_poll(len(watched), groups, all_grouped, self._scan_pages)
        looks: list[dict[str, Any]] = []
        if how == "group":
            for group_id in groups:
                looks += await self._list_all(self._run.client.list_looks, group_id=group_id)
        elif how == "scan":
            looks = await self._list_all(self._run.client.list_looks)
        self._run.report("polled", how=how, watched=len(watched), seen=len(looks))
        return {str(look.get("id")): look for look in looks if look.get("id") in watched}

    async def _one(self, look_id: str, node: Node) -> dict[str, Any] | None:
        run = self._run
        try:
            return await run.requests.call(partial(run.client.get_look, look_id), what="poll", background=True)
        except ItemFailed as failure:
            if failure.status == 404:  # whatever its code: deleted on the account while we watched it
                run.stop_watching(node, node.record.status == Status.TRAINING)
                run.fail(node, "look_deleted", f"the look {look_id} is no longer on the account", failure.source)
            else:
                run.report("poll_failed", key=node.key, error=str(failure))
        except Abandoned:
            pass
        return None

    async def _groups(self, twins: list[Node]) -> bool:
        """A twin's consent wait is its group's: read the groups (one GET each for a few, else the
        list, 50 groups a page) and settle the twins by what they say."""
        run = self._run
        ids = {n.record.group_id for n in twins if n.record.group_id}
        if not ids:
            return False
        if len(ids) <= POLL_EACH_MAX:
            for group_id in ids:
                try:
                    run.note_group(
                        await run.requests.call(partial(run.client.get_group, group_id), what="poll", background=True)
                    )
                except (ItemFailed, Abandoned) as exc:
                    run.report("poll_failed", error=str(exc))
        else:
            for group in await self._list_all(run.client.list_groups):
                if group.get("id") in ids:
                    run.note_group(group)
        changed = False
        for node in twins:
            if node.phase == Phase.WATCH:
                changed |= run.settle(node)
                if node.phase == Phase.WATCH and self._creator.wants_consent(node):
                    await self._creator.consent(node)
        return changed

    async def _list_all(self, fetch: Callable[..., Awaitable[Page]], **filters: str) -> list[dict[str, Any]]:
        """Every page of a list; a page that fails ends the listing with what was read so far."""
        run = self._run
        items: list[dict[str, Any]] = []
        token: str | None = None
        pages = 0
        while True:
            try:
                page = await run.requests.call(
                    partial(fetch, token=token, limit=LOOKS_PAGE, **filters), what="poll", background=True
                )
            except (ItemFailed, Abandoned) as exc:
                run.report("poll_failed", error=str(exc))
                return items
            pages += 1
            items.extend(page.items)
            token = page.next_token
            if not token:
                break
        if fetch == run.client.list_looks and not filters:
            self._scan_pages = pages
        return items
