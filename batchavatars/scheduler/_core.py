"""The run's lifecycle and the reactions that tie the graph, the ledger and the limits together.

Workers (`--concurrency`) take the ready item that unblocks most and create it (_creator.py); one
poller watches everything in training or awaiting consent (_poller.py). What an item's new state
means for the others is decided here: a group id or a trained look unblocks children, a failure
blocks the descendants not yet sent, a look in training holds a place under the training cap.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from ..client import HeyGenClient
from ..events import Snapshot
from ..exitcodes import ExitCode
from ..ledger import LedgerStore
from ..lifecycle import ItemBook, Transition, new_record
from ..meter import Meter, RateMeter, TrainingGate, Unlimited
from ..ownership import Owners
from ..planner import Need, Plan
from ..records import TERMINAL, ErrorSource, Record, RunResult, Status, StopReason
from ..requester import Abandoned, Requester
from ..retry import RetryPolicy
from ..settings import DEFAULTS, RunSettings
from ..uploads import AssetStore
from ._creator import Creator
from ._graph import Graph, Node, ReadyQueue, is_twin
from ._observe import event_for, group_waits, look_state
from ._phase import Phase
from ._poller import Poller
from ._reconcile import reset_changes, starting_phase


class Scheduler:
    """Owns one run: its nodes, the ready queue, the watched looks and the stop switch.

    Invariants: a node is in the ready queue iff its phase is READY; in `watch` iff its phase is
    WATCH; the gate counts one training job per watched node whose record is `training`."""

    def __init__(
        self,
        plan: Plan,
        ledger: LedgerStore,
        client: HeyGenClient,
        settings: RunSettings = DEFAULTS,
        held: Mapping[str, str] | None = None,
        owners: Owners | None = None,
    ) -> None:
        """`settings`: the limits, the polling and the `on_event` it reports to. `held`: keys not to
        create this run (ambiguous adoption), with the reason; they fail with code adopt_ambiguous
        and block their dependents. `owners`: what the account held before the run (ownership.py)."""
        self.plan = plan
        self.ledger = ledger
        self.book = ItemBook(ledger)
        self.client = client
        self.settings = settings
        self.report = settings.on_event
        meter: Meter = RateMeter(settings.rate) if settings.rate > 0 else Unlimited()
        self.gate = TrainingGate(settings.max_training)
        self.requests = Requester(
            meter,
            self.gate,
            RetryPolicy(max_attempts=settings.max_attempts),
            self,
            self.report,
            random.Random(settings.seed),
        )
        self.assets = AssetStore(ledger, client, self.requests)
        self._held = dict(held or {})
        self.owners = owners or Owners()
        self.graph = Graph(plan, {})
        self.ready = ReadyQueue(plan)
        self.watch: dict[str, Node] = {}  # look id -> node in training or awaiting consent
        self.group_wait: dict[str, bool | None] = {}  # group id -> waits for consent (None: not said)
        self.creator = Creator(self)
        self.poller = Poller(self, self.creator)
        self._running = 0
        self._wake = anyio.Event()
        self.finished = anyio.Event()
        self._stopping: StopReason | None = None
        self._stop_message: str | None = None
        self.idle_since: float | None = None

    @property
    def nodes(self) -> dict[str, Node]:
        return self.graph.nodes

    @property
    def stopping(self) -> StopReason | None:
        return self._stopping

    # -- setup ---------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Ledger records for every selected item, reset where the plan retries or replaces; then
        the phase each node starts in, the blocks of failed parents, and the ready queue."""
        self._records()
        for node in self.nodes.values():
            phase = starting_phase(node.step, node.record)
            if phase is Phase.WATCH:
                self.start_watching(node)
            elif phase is not Phase.WAITING:
                node.move(phase)
        for node in self.nodes.values():
            if node.phase == Phase.DONE and node.record.status == Status.FAILED:
                self.block_descendants(node, "failed")
        for key, why in self._held.items():
            if key in self.nodes and self.nodes[key].phase == Phase.WAITING:
                self.fail(self.nodes[key], "adopt_ambiguous", why, ErrorSource.LOCAL)
        for node in self.nodes.values():
            if node.phase == Phase.WAITING and self.graph.ready_to_start(node):
                self._make_ready(node)

    def _records(self) -> None:
        existing = self.ledger.records()
        new: list[Record] = []
        with self.ledger.batch():
            for order, (key, step) in enumerate(self.plan.steps.items()):
                record = existing.get(key)
                if record is None:
                    record = new_record(step.spec)
                    if step.action != "move":  # a move to confirm is made by --move, not here: no record yet
                        new.append(record)
                else:
                    if step.action == "replace" and record.look_id:
                        self.ledger.add_history(record, why=step.reason)  # what existed, for export --history
                    changes = reset_changes(step, record)
                    if changes is not None:
                        self.book.start(record, changes)
                self.nodes[key] = Node(step, record, order)
            self.ledger.put_many(new)

    def _make_ready(self, node: Node) -> None:
        node.move(Phase.READY)
        self.ready.push(node)
        self.idle_since = None
        self.notify()

    def notify(self) -> None:
        self._wake.set()
        self._wake = anyio.Event()

    async def wait_change(self) -> None:
        await self._wake.wait()

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        started = anyio.current_time()
        self._prepare()
        self.report("run_started", items=len(self.nodes), plan=self.plan.counts())
        self.check_done()
        async with anyio.create_task_group() as tg:
            for _ in range(max(1, self.settings.concurrency)):
                tg.start_soon(self._worker)
            for node in list(self.watch.values()):
                if self.creator.wants_consent(node):
                    tg.start_soon(self.creator.consent, node)
            tg.start_soon(self.poller.run)
            await self.finished.wait()
            if self._stopping is StopReason.AUTH:
                tg.cancel_scope.cancel()
            else:
                self.notify()
                # workers finish what is in flight; the poller is not needed
                while self._running:
                    await self.wait_change()
                tg.cancel_scope.cancel()
        return self._result(anyio.current_time() - started)

    def stop(self, reason: StopReason, message: str) -> None:
        """Stop starting new work. CREDIT and QUOTA drain: what is training is still watched to its end;
        otherwise in-flight requests finish (or, for AUTH, are cancelled) and the run ends."""
        if self._stopping is None:
            self._stopping = reason
            self._stop_message = message
            self.report("run_stopping", reason=reason.value, message=message, in_flight=self._running)
        self.gate.open_for_stop()
        if reason not in (StopReason.CREDIT, StopReason.QUOTA):
            self.finished.set()
        self.notify()
        self.check_done()

    def check_done(self) -> None:
        """Finish when nothing runs, nothing can start and nothing is watched, or when the wait
        for what is watched has lasted --wait-timeout (at once with --no-wait)."""
        if (self.ready and not self._stopping) or self._running:
            return
        if not self.watch:
            self.finished.set()
            self.notify()
            return
        if not self.poller.cycles:
            return  # look once at what is outstanding (even with --no-wait) before deciding
        now = anyio.current_time()
        if self.idle_since is None:
            self.idle_since = now
        if self.settings.no_wait or now - self.idle_since >= self.settings.wait_timeout:
            self._stopping = self._stopping or StopReason.WAIT_TIMEOUT
            self._stop_message = self._stop_message or "work left training or awaiting consent"
            self.finished.set()
            self.notify()

    async def _worker(self) -> None:
        while True:
            while not self.ready and not self.finished.is_set() and not self._stopping:
                await self.wait_change()
            if self.finished.is_set() or self._stopping:
                return
            node = self.nodes[self.ready.pop()]
            node.move(Phase.RUNNING)
            self._running += 1
            try:
                if node.step.action == "rename":
                    await self.creator.rename(node)
                else:
                    await self.creator.create(node)
            except Abandoned:
                node.move(Phase.WAITING)
            finally:
                self._running -= 1
                self.check_done()
                self.notify()

    # -- reactions to an item's new state --------------------------------------------------------

    def start_watching(self, node: Node) -> None:
        node.move(Phase.WATCH)
        node.since = node.checked = anyio.current_time()
        if node.record.status == Status.TRAINING:
            self.gate.started()
        self.watch[node.record.look_id or ""] = node
        self.poller.soon()

    def stop_watching(self, node: Node, was_training: bool) -> None:
        if self.watch.pop(node.record.look_id or "", None) is not None and was_training:
            self.gate.finished()
        node.move(Phase.DONE)

    def note_group(self, group: dict[str, Any]) -> None:
        """What a group says of its consent wait (a create answer, a group GET or list row)."""
        group_id = group.get("id")
        if isinstance(group_id, str) and group_id:
            self.group_wait[group_id] = group_waits(group)

    def observe(self, node: Node, look: dict[str, Any]) -> bool:
        """Apply a look as HeyGen reports it; True when the item moved on. A look without a
        status teaches nothing: the poller confirms it with a single GET."""
        state = look_state(look)
        if state != "unknown":
            node.look = state
        return self.settle(node, look)

    def settle(self, node: Node, look: dict[str, Any] | None = None) -> bool:
        """Move a watched item on if its look and (for a twin) its group say so."""
        rec = node.record
        twin = is_twin(node)
        waits = self.group_wait.get(rec.group_id or "") if twin else None
        transition = event_for(rec.status, twin=twin, look=node.look or "unknown", waits=waits)
        if transition is None:
            return False
        self._reactions[transition](node, look or {})
        return True

    @property
    def _reactions(self) -> dict[Transition, Callable[[Node, dict[str, Any]], None]]:
        return {
            Transition.SUCCEED: self._succeeded,
            Transition.FAIL: self._training_failed,
            Transition.AWAIT_CONSENT: self._awaits_consent,
            Transition.CONSENT_GIVEN: self._consent_given,
        }

    def _succeeded(self, node: Node, look: dict[str, Any]) -> None:
        rec = node.record
        was_training = rec.status == Status.TRAINING
        if was_training:
            self.poller.clock.learn(since=node.since, checked=node.checked, now=anyio.current_time())
        self.book.succeed(rec, look)
        self.stop_watching(node, was_training)
        self.report("item_succeeded", key=node.key, attempt=rec.attempts, look_id=rec.look_id)
        self.satisfy(node, "look")

    def _training_failed(self, node: Node, look: dict[str, Any]) -> None:
        error = look.get("error") or {}
        self.stop_watching(node, node.record.status == Status.TRAINING)
        message = str(error.get("message") or "HeyGen reported the training failed")
        self.fail(node, str(error.get("code") or "training_failed"), message, ErrorSource.HEYGEN)

    def _awaits_consent(self, node: Node, look: dict[str, Any]) -> None:
        if node.record.status == Status.TRAINING:
            self.gate.finished()
        self.book.await_consent(node.record)

    def _consent_given(self, node: Node, look: dict[str, Any]) -> None:
        self.book.consent_given(node.record)
        node.since = node.checked = anyio.current_time()
        self.gate.started()
        self.report("consent_approved", key=node.key)

    def satisfy(self, node: Node, what: Need) -> None:
        for child in list(self.graph.unblocked_by(node, what)):
            self._make_ready(child)

    def fail(
        self,
        node: Node,
        code: str,
        message: str,
        source: ErrorSource,
        *,
        param: str | None = None,
        doc_url: str | None = None,
    ) -> None:
        rec = node.record
        self.book.fail(rec, code, message, source, param=param, doc_url=doc_url)
        if node.phase is not Phase.DONE:  # a watched look that failed has stopped being watched already
            node.move(Phase.DONE)
        self.report(
            "item_failed",
            key=node.key,
            attempt=rec.attempts,
            error_code=code,
            error_message=message,
            source=source.value,
        )
        self.block_descendants(node, "failed")

    def no_answer(self, node: Node, code: str, message: str) -> None:
        """Sent, but no definitive answer came back: resumable with the same key, never re-keyed."""
        rec = self.book.no_answer(node.record, code, message)
        node.move(Phase.DONE)
        self.report("item_unanswered", key=node.key, attempt=rec.attempts, error_code=code, error_message=message)
        self.block_descendants(node, "has no answer yet")

    def block_descendants(self, node: Node, state: str) -> None:
        """Dependents not yet sent cannot be this run: blocked, naming the parent."""
        for child, why in list(self.graph.blocked_by(node, state)):
            self.book.block(child.record, why)
            child.move(Phase.DONE)
            self.report("item_blocked", key=child.key, parent=child.spec.parent)

    # -- what the run looks like -----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Counts by status and requests so far, for the progress display."""
        counts: dict[str, int] = {}
        for node in list(self.nodes.values()):
            counts[node.record.status] = counts.get(node.record.status, 0) + 1
        return Snapshot(counts, self.client.stats.requests, self.client.stats.rate_limited)

    def _result(self, elapsed: float) -> RunResult:
        records = [n.record for n in self.nodes.values()]
        counts: dict[str, int] = {}
        for rec in records:
            counts[rec.status] = counts.get(rec.status, 0) + 1
        return RunResult(
            counts=counts,
            exit_code=exit_code_for(self._stopping, records),
            stopped=self._stopping,
            stop_message=self._stop_message,
            elapsed=elapsed,
            requests=self.client.stats.requests,
            rate_limited=self.client.stats.rate_limited,
            creations=self.creator.creations,
            uploads=self.assets.uploaded,
            consent_requests=self.creator.consent_requests,
            records=records,
        )


def exit_code_for(stopped: StopReason | None, records: list[Record]) -> ExitCode:
    if stopped is StopReason.INTERRUPTED:
        return ExitCode.INTERRUPTED
    if stopped is StopReason.AUTH:
        return ExitCode.AUTH
    if stopped is StopReason.UNREACHABLE:
        return ExitCode.UNREACHABLE
    if any(rec.status in (Status.FAILED, Status.BLOCKED, Status.UNANSWERED) for rec in records):
        return ExitCode.ITEMS_FAILED
    if any(rec.status not in TERMINAL for rec in records):
        return ExitCode.WAITING
    return ExitCode.OK
