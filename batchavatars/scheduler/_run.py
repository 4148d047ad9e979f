"""What creating and polling need of the run they serve: its state, its requests, and the
reactions that move items on. The Scheduler (_core.py) is the one implementation; _creator.py and
_poller.py depend on this description of it, not on the Scheduler, so no import climbs back up."""

from __future__ import annotations

from typing import Any, Protocol

import anyio

from ..client import HeyGenClient
from ..events import Reporter
from ..lifecycle import ItemBook
from ..meter import TrainingGate
from ..ownership import Owners
from ..planner import Need
from ..records import ErrorSource, StopReason
from ..requester import Requester
from ..settings import RunSettings
from ..uploads import AssetStore
from ._graph import Graph, Node


class Run(Protocol):
    settings: RunSettings
    report: Reporter
    client: HeyGenClient
    requests: Requester
    gate: TrainingGate
    book: ItemBook
    assets: AssetStore
    graph: Graph
    owners: Owners  # what the account held before the run: a first answer that is one is not ours
    watch: dict[str, Node]  # look id -> node in training or awaiting consent
    group_wait: dict[str, bool | None]  # group id -> waits for consent (None: not said)
    finished: anyio.Event
    idle_since: float | None

    @property
    def nodes(self) -> dict[str, Node]: ...
    @property
    def stopping(self) -> StopReason | None: ...

    async def wait_change(self) -> None: ...
    def check_done(self) -> None: ...
    def note_group(self, group: dict[str, Any]) -> None: ...
    def observe(self, node: Node, look: dict[str, Any]) -> bool: ...
    def settle(self, node: Node, look: dict[str, Any] | None = None) -> bool: ...
    def satisfy(self, node: Node, what: Need) -> None: ...
    def start_watching(self, node: Node) -> None: ...
    def stop_watching(self, node: Node, was_training: bool) -> None: ...
    def no_answer(self, node: Node, code: str, message: str) -> None: ...
    def fail(
        self,
        node: Node,
        code: str,
        message: str,
        source: ErrorSource,
        *,
        param: str | None = None,
        doc_url: str | None = None,
    ) -> None: ...
