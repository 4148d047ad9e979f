"""What runs when: the heart of batchavatars.

Items flow waiting → ready → creating → (training | awaiting consent) → succeeded | failed, and a
failed parent blocks the dependents not yet sent. There are no phases: an item starts the moment
what it needs is known (a `group:` child its parent's group id; a look its parent's completed
training). Workers (`--concurrency`) take the ready item that unblocks most; every request passes
the shared RateMeter; creations also pass the TrainingGate; one poller watches everything in
training through bulk list calls, on budget the creations leave unused. Every state change is
committed to the ledger before anything depends on it, and the intent (status `creating` and the
Idempotency-Key) before the POST is sent, so a run killed anywhere resumes without duplicates.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio

from .apierrors import ApiError, HttpError, TransportError
from .client import Created, HeyGenClient
from .events import Reporter, Snapshot, silent
from .exitcodes import ExitCode
from .ledger import Ledger
from .meter import RateMeter, Slot, TrainingGate
from .payload import consent_key, create_body, idempotency_key
from .plan import Plan, Step
from .records import TERMINAL, Record, look_details
from .retry import RetryPolicy, Verdict
from .spec import ItemSpec
from .uploads import AssetStore

T = TypeVar("T")

LOOKS_PAGE = 50  # the list endpoints' maximum page size
POLL_EACH_MAX = 3  # up to this many watched looks, single GETs are as cheap as a list
POLL_FLOOR = 0.2  # never two poll cycles closer than this, whatever the predictions say


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 8  # requests in flight
    rate: float = 10.0  # requests per second, the ceiling the meter may learn down from; 0: no limit
    max_attempts: int = 6
    wait_timeout: float = 1800.0  # seconds to keep waiting once nothing more can be sent
    no_wait: bool = False
    max_training: int | None = None  # the account's concurrent-job cap, if known; else learned
    poll_min: float = 0.5
    poll_max: float = 30.0
    seed: int | None = None  # jitter; fixed in tests


@dataclass(slots=True)
class RunResult:
    counts: dict[str, int]
    exit_code: ExitCode
    stopped: str | None  # why the run ended early: auth, credit, interrupted, wait_timeout
    stop_message: str | None
    elapsed: float
    requests: int
    rate_limited: int
    creations: int
    uploads: int
    consent_requests: int
    records: list[Record] = field(default_factory=list)


class ItemFailed(Exception):
    def __init__(self, code: str, message: str, source: str) -> None:
        super().__init__(message)
        self.code, self.message, self.source = code, message, source


class Abandoned(Exception):
    """The run is stopping: leave the item as the ledger has it (resumable)."""


class _Node:
    __slots__ = ("step", "record", "phase", "order", "since", "checked")

    def __init__(self, step: Step, record: Record, order: int) -> None:
        self.step = step
        self.record = record
        self.phase = "waiting"  # waiting | ready | running | watch | done | left
        self.order = order
        self.since = 0.0  # when its training started, as far as we know
        self.checked = 0.0  # when a poll last found it still training

    @property
    def spec(self) -> ItemSpec:
        return self.step.spec


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        ledger: Ledger,
        client: HeyGenClient,
        options: RunOptions = RunOptions(),
        reporter: Reporter = silent,
        recreate: frozenset[str] = frozenset(),
        held: dict[str, str] | None = None,
    ) -> None:
        """`held`: keys not to create this run (ambiguous adoption), with the reason; they fail
        with code adopt_ambiguous and block their dependents."""
        self.plan = plan
        self.ledger = ledger
        self.client = client
        self.options = options
        self.report = reporter
        self.policy = RetryPolicy(max_attempts=options.max_attempts)
        self.meter = RateMeter(options.rate) if options.rate > 0 else None
        self.gate = TrainingGate(options.max_training)
        self.assets = AssetStore(ledger, client, lambda what, fn: self._call(fn, what=what))
        self._rng = random.Random(options.seed)
        self._recreate = recreate
        self._held = held or {}
        self.nodes: dict[str, _Node] = {}
        self._ready: list[tuple[int, int, int, str]] = []
        self._watch: dict[str, _Node] = {}  # look id -> node in training or awaiting consent
        self._running = 0
        self._wake = anyio.Event()
        self._finished = anyio.Event()
        self._stopping: str | None = None
        self._stop_message: str | None = None
        self._idle_since: float | None = None
        self._poll_soon = False
        self._scan_pages = 1
        # Training time, bracketed by what polls saw: done by `hi`, not done at `lo` (see _learn).
        self._train_lo = 0.0
        self._train_hi: float | None = None
        self.creations = 0
        self.consent_requests = 0
        self._consent_asked: set[str] = set()

    # -- setup ---------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Ledger records for every selected item, reset where the plan retries or recreates."""
        existing = self.ledger.records()
        new: list[Record] = []
        with self.ledger.batch():
            for order, (key, step) in enumerate(self.plan.steps.items()):
                record = existing.get(key)
                spec = step.spec
                if record is None:
                    record = Record(
                        key=key,
                        kind=spec.kind,
                        type=spec.type,
                        name=spec.name,
                        parent=spec.parent,
                        status="pending",
                        spec_hash=spec.spec_hash,
                    )
                    new.append(record)
                elif step.action in ("create", "retry"):
                    fresh = record.spec_hash != spec.spec_hash or key in self._recreate
                    definitive = record.status == "failed" and record.error_source == "heygen"
                    keep_key = record.status == "creating" or (
                        record.status == "failed" and record.error_source == "transport"
                    )
                    changes: dict[str, Any] = dict(
                        kind=spec.kind,
                        type=spec.type,
                        name=spec.name,
                        parent=spec.parent,
                        spec_hash=spec.spec_hash,
                        error_code=None,
                        error_message=None,
                        error_source=None,
                    )
                    if fresh or definitive:
                        # A replay of the old key would return the old answer: move to a new one.
                        changes.update(
                            generation=record.generation + 1,
                            idempotency_key=None,
                            look_id=None,
                            group_id=None,
                            consent_url=None,
                            preview_image_url=None,
                            status="pending",
                        )
                    elif not keep_key:
                        changes.update(status="pending")
                    self.ledger.update(record, **changes)
                self.nodes[key] = _Node(step, record, order)
            self.ledger.put_many(new)

        for node in self.nodes.values():
            rec = node.record
            if node.step.action in ("skip", "changed") and rec.status == "succeeded":
                node.phase = "done"
            elif rec.status in ("training", "awaiting_consent") and rec.look_id:
                self._start_watching(node)
            elif node.step.action == "changed":
                node.phase = "left"  # not ours to touch; its dependents wait (reported by plan)
        for key, why in self._held.items():
            if key in self.nodes and self.nodes[key].phase == "waiting":
                self._fail(self.nodes[key], "adopt_ambiguous", why, "local")
        for node in self.nodes.values():
            if node.phase == "waiting" and self._needs_met(node):
                self._make_ready(node)

    def _parent(self, node: _Node) -> _Node | None:
        parent = node.spec.parent
        return self.nodes.get(parent) if parent is not None else None

    def _needs_met(self, node: _Node) -> bool:
        parent = self._parent(node)
        if parent is None:
            return True
        if node.step.need == "group":
            return parent.record.group_id is not None
        return parent.record.status == "succeeded" and parent.record.look_id is not None

    def _make_ready(self, node: _Node) -> None:
        node.phase = "ready"
        height, desc = self.plan.priority(node.spec.key)
        heapq.heappush(self._ready, (height, desc, node.order, node.spec.key))
        self._idle_since = None
        self._notify()

    def _notify(self) -> None:
        self._wake.set()
        self._wake = anyio.Event()

    # -- the run -------------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> RunResult:
        started = anyio.current_time()
        self._prepare()
        self.report("run_started", items=len(self.nodes), plan=self.plan.counts())
        self._check_done()
        async with anyio.create_task_group() as tg:
            if handle_signals:
                tg.start_soon(self._signals)
            for _ in range(max(1, self.options.concurrency)):
                tg.start_soon(self._worker)
            for node in list(self._watch.values()):
                if self._wants_consent(node):
                    tg.start_soon(self._consent_task, node)
            tg.start_soon(self._poller)
            await self._finished.wait()
            if self._stopping == "auth":
                tg.cancel_scope.cancel()
            else:
                self._notify()
                # workers finish what is in flight; the poller and signal task are not needed
                while self._running:
                    await self._wait_change()
                tg.cancel_scope.cancel()
        return self._result(anyio.current_time() - started)

    async def _signals(self) -> None:
        import signal

        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.stop("interrupted", f"received {signal.Signals(signum).name}")
                return

    def stop(self, reason: str, message: str) -> None:
        """Stop starting new work. 'credit' drains: what is training is still watched to its end;
        otherwise in-flight requests finish (or, for 'auth', are cancelled) and the run ends."""
        if self._stopping is None:
            self._stopping = reason
            self._stop_message = message
            self.report("run_stopping", reason=reason, message=message)
        self.gate.release()
        if reason != "credit":
            self._finished.set()
        self._notify()
        self._check_done()

    async def _wait_change(self) -> None:
        await self._wake.wait()

    def _check_done(self) -> None:
        if (self._ready and not self._stopping) or self._running:
            return
        if not self._watch:
            self._finished.set()
            self._notify()
            return
        now = anyio.current_time()
        if self._idle_since is None:
            self._idle_since = now
        if self.options.no_wait or now - self._idle_since >= self.options.wait_timeout:
            self._stopping = self._stopping or "wait_timeout"
            self._stop_message = self._stop_message or "work left training or awaiting consent"
            self._finished.set()
            self._notify()

    async def _worker(self) -> None:
        while True:
            while not self._ready and not self._finished.is_set() and not self._stopping:
                await self._wait_change()
            if self._finished.is_set() or self._stopping:
                return
            _, _, _, key = heapq.heappop(self._ready)
            node = self.nodes[key]
            node.phase = "running"
            self._running += 1
            try:
                await self._create(node)
            except Abandoned:
                node.phase = "waiting"
            finally:
                self._running -= 1
                self._check_done()
                self._notify()

    # -- one item --------------------------------------------------------------------------------

    async def _create(self, node: _Node) -> None:
        slot = await self.gate.slot()
        try:
            if self._stopping:
                raise Abandoned
            created = await self._submit(node, slot)
        except ItemFailed as failure:
            self._fail(node, failure.code, failure.message, failure.source)
            return
        finally:
            slot.release()  # answered or given up: `started()` below takes over if it trains
        spec, rec = node.spec, node.record
        self.creations += 1
        look, group = created.look, created.group
        status = look.get("status")
        self.ledger.update(
            rec,
            look_id=look.get("id"),
            group_id=group.get("id") or look.get("group_id"),
            status="awaiting_consent" if status == "pending_consent" else "training",
            **look_details(look),
        )
        self.report(
            "item_created",
            key=spec.key,
            attempt=rec.attempts,
            look_id=rec.look_id,
            group_id=rec.group_id,
            status=status,
        )
        self._satisfy(node, "group")
        self._start_watching(node)
        if status in ("completed", "failed"):
            self._observe(node, look)
        elif self._wants_consent(node):
            await self._consent_task(node)

    async def _submit(self, node: _Node, slot: Slot) -> Created:
        """Upload what is local, record the intent, POST: the creation itself."""
        spec, rec = node.spec, node.record
        assets = {}
        for ref in (spec.file, *spec.reference_images):
            if ref is not None and ref.kind == "path":
                try:
                    assets[ref.value] = await self.assets.asset_id(ref.value)
                except OSError as exc:  # validated at load, but gone or changed since
                    raise ItemFailed("file_unreadable", f"{ref.value}: {exc.strerror or exc}", "local") from None
        parent = self._parent(node)
        body = create_body(
            spec,
            parent_look_id=parent.record.look_id if parent and node.step.need == "look" else None,
            parent_group_id=parent.record.group_id if parent else None,
            assets=assets,
        )
        key = rec.idempotency_key or idempotency_key(spec, rec.generation)
        # The intent is durable before the request leaves: a run killed now retries this key.
        self.ledger.update(rec, status="creating", idempotency_key=key, attempts=rec.attempts + 1)
        self.report("item_submitting", key=spec.key, attempt=rec.attempts)
        return await self._call(partial(self.client.create_avatar, body, key), what="create", item=spec.key, slot=slot)

    def _wants_consent(self, node: _Node) -> bool:
        return (
            node.spec.type == "digital_twin"
            and node.spec.kind == "avatar"
            and node.record.status == "awaiting_consent"
            and not node.record.consent_url
            and node.spec.key not in self._consent_asked
            and not self._stopping
        )

    async def _consent_task(self, node: _Node) -> None:
        rec, spec = node.record, node.spec
        self._consent_asked.add(spec.key)  # once per run: polls must not ask again meanwhile
        try:
            _, url = await self._call(
                lambda: self.client.request_consent(
                    rec.group_id or "", consent_key(spec, rec.generation), spec.consent_reroute_url
                ),
                what="consent",
                item=spec.key,
            )
        except ItemFailed as failure:
            # The twin exists: keep it awaiting consent, so the next run asks again instead of recreating.
            self.ledger.update(
                rec,
                error_code=failure.code,
                error_message=f"consent request failed: {failure.message}",
                error_source=failure.source,
            )
            self.report("consent_failed", key=spec.key, error=failure.code)
            return
        except Abandoned:
            return
        self.consent_requests += 1
        self.ledger.update(rec, consent_url=url or "(consent video on file)")
        self.report("consent_requested", key=spec.key, consent_url=url)

    def _start_watching(self, node: _Node) -> None:
        node.phase = "watch"
        node.since = node.checked = anyio.current_time()
        if node.record.status == "training":
            self.gate.started()
        self._watch[node.record.look_id or ""] = node
        self._poll_soon = True

    def _observe(self, node: _Node, look: dict[str, Any]) -> bool:
        """Apply a look's status as HeyGen reports it; True when the item moved on."""
        rec = node.record
        status = look.get("status")
        if status == "completed" or (status is None and rec.status == "training"):
            # `status` is only reported for private avatars; absent means usable.
            was_training = rec.status == "training"
            if was_training and node.phase == "watch":
                self._learn(node)
            self.ledger.update(
                rec,
                status="succeeded",
                **look_details(look),
                error_code=None,
                error_message=None,
                error_source=None,
            )
            self._stop_watching(node, was_training)
            self.report("item_succeeded", key=node.spec.key, attempt=rec.attempts, look_id=rec.look_id)
            self._satisfy(node, "look")
            return True
        if status == "failed":
            error = look.get("error") or {}
            was_training = rec.status == "training"
            self._stop_watching(node, was_training)
            self._fail(
                node,
                str(error.get("code") or "training_failed"),
                str(error.get("message") or "HeyGen reported the training failed"),
                "heygen",
            )
            return True
        if status == "pending_consent" and rec.status != "awaiting_consent":
            if rec.status == "training" and node.phase == "watch":
                self.gate.finished()
            self.ledger.update(rec, status="awaiting_consent")
            return True
        if status == "processing" and rec.status == "awaiting_consent":
            self.ledger.update(rec, status="training")
            node.since = node.checked = anyio.current_time()
            if node.phase == "watch":
                self.gate.started()
            self.report("consent_approved", key=node.spec.key)
            return True
        return False

    def _stop_watching(self, node: _Node, was_training: bool) -> None:
        if self._watch.pop(node.record.look_id or "", None) is not None and was_training:
            self.gate.finished()
        node.phase = "done"

    def _satisfy(self, node: _Node, what: str) -> None:
        for child_key in self.plan.children.get(node.spec.key, ()):
            child = self.nodes[child_key]
            if child.phase == "waiting" and (child.step.need == what or what == "look") and self._needs_met(child):
                self._make_ready(child)

    def _fail(self, node: _Node, code: str, message: str, source: str) -> None:
        rec = node.record
        self.ledger.update(rec, status="failed", error_code=code, error_message=message, error_source=source)
        node.phase = "done"
        self.report(
            "item_failed",
            key=node.spec.key,
            attempt=rec.attempts,
            error_code=code,
            error_message=message,
            source=source,
        )
        # Dependents not yet sent can never be: blocked, naming the parent.
        root = node.spec.key
        stack = [(root, c) for c in self.plan.children.get(root, ())]
        while stack:
            parent_key, key = stack.pop()
            child = self.nodes[key]
            if child.phase != "waiting" or (child.step.need == "group" and self._needs_met(child)):
                continue
            why = f"parent {root} failed" if parent_key == root else f"parent {parent_key} is blocked: {root} failed"
            self.ledger.update(
                child.record, status="blocked", error_code="parent_failed", error_message=why, error_source="blocked"
            )
            child.phase = "done"
            self.report("item_blocked", key=key, parent=parent_key)
            stack.extend((key, c) for c in self.plan.children.get(key, ()))

    # -- requests under limits and the retry policy --------------------------------------------

    async def _call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        what: str,
        item: str | None = None,
        slot: Slot | None = None,
        background: bool = False,
    ) -> T:
        """One request under the meter and the retry policy; `slot` marks a creation."""
        attempt = 0
        while True:
            attempt += 1
            if self.meter is not None:
                await self.meter.acquire(background=background)
            if self._stopping and slot is not None:
                raise Abandoned  # stopped while waiting for a slot: the POST never leaves
            try:
                result = await fn()
            except ApiError as error:
                decision = self.policy.decide(error, attempt, self._rng)
                self.report(
                    "request_failed",
                    key=item,
                    what=what,
                    attempt=attempt,
                    error=_describe(error),
                    request_id=getattr(error, "request_id", None),
                    verdict=decision.verdict.value,
                    retry_in=round(decision.delay, 3),
                )
                if decision.rate_limited:
                    if self.meter is not None:
                        self.meter.on_rate_limited(getattr(error, "retry_after", None))
                    if slot is not None:
                        self.gate.on_cap_hit()
                        slot.release()  # nobody's place while waiting out Retry-After
                if decision.verdict is Verdict.RETRY:
                    if self._stopping and not background:
                        raise Abandoned from None
                    await anyio.sleep(decision.delay)
                    if slot is not None and not slot.held:
                        await slot.acquire()  # queue for the cap again, behind the gate
                    if self._stopping:
                        raise Abandoned from None
                    continue
                if decision.verdict is Verdict.STOP_RUN:
                    # The item records the 401/403 (so `status` shows its fix); the run stops.
                    self.stop("auth", _describe(error))
                if decision.verdict is Verdict.STOP_NEW_WORK:
                    self.stop("credit", f"{_describe(error)}: out of credits, no new work started")
                source = "heygen" if isinstance(error, HttpError) else "transport"
                code = error.code if isinstance(error, (HttpError, TransportError)) else "error"
                message = error.message if isinstance(error, (HttpError, TransportError)) else str(error)
                raise ItemFailed(code, message, source) from None
            if self.meter is not None:
                self.meter.on_success()
            return result

    # -- watching training and consent -----------------------------------------------------------

    async def _poller(self) -> None:
        """Poll when a look is expected to be done (learned from the shortest training seen so
        far), else on a backoff that grows while nothing changes."""
        interval = self.options.poll_min
        last = anyio.current_time()
        while not self._finished.is_set():
            if not self._watch:
                await self._wait_change()
                continue
            due = last + interval
            expected = self._next_expected(after=last)
            if expected is not None:
                due = min(due, expected)
            due = max(due, last + POLL_FLOOR)
            if self._idle_since is not None and not self.options.no_wait:
                # wake in time to honour --wait-timeout even when the backoff has grown long
                due = min(due, self._idle_since + self.options.wait_timeout)
            with anyio.move_on_after(max(0.0, due - anyio.current_time())):
                await self._finished.wait()
            if self._finished.is_set():
                return
            last = anyio.current_time()
            changed = await self._poll_cycle()
            if changed or self._poll_soon:
                interval = self.options.poll_min
                self._poll_soon = False
            else:
                interval = min(self.options.poll_max, interval * 1.5)
            self._check_done()

    def _learn(self, node: _Node) -> None:
        """A poll saw `node` done: its training took at most now - since, and more than
        checked - since (a poll then still saw it training). Narrow the bracket with both."""
        done_by = anyio.current_time() - node.since
        not_at = node.checked - node.since
        self._train_hi = done_by if self._train_hi is None else min(self._train_hi, done_by)
        self._train_lo = max(self._train_lo, not_at)
        if self._train_lo >= self._train_hi:  # times vary: start the bracket again from this item
            self._train_lo, self._train_hi = not_at, done_by

    def _next_expected(self, after: float) -> float | None:
        """When to look next for training looks, if their training time is known: first in the
        middle of the bracket (a bisection, so predictions tighten), then at its end."""
        hi = self._train_hi
        if hi is None:
            return None
        mid = (self._train_lo + hi) / 2
        soonest = None
        for node in self._watch.values():
            if node.record.status != "training":
                continue
            for guess in (node.since + mid, node.since + hi):
                if guess > after:
                    if soonest is None or guess < soonest:
                        soonest = guess
                    break
        return soonest

    async def _poll_cycle(self) -> bool:
        started = anyio.current_time()
        watched = dict(self._watch)
        groups: dict[str, int] = {}
        for node in watched.values():
            if node.record.group_id:
                groups[node.record.group_id] = groups.get(node.record.group_id, 0) + 1
        all_grouped = all(node.record.group_id for node in watched.values())
        per_group = sum(math.ceil(n / LOOKS_PAGE) for n in groups.values()) if all_grouped else math.inf
        options = {
            "each": len(watched) if len(watched) <= POLL_EACH_MAX else math.inf,
            "group": per_group,
            "scan": self._scan_pages,
        }
        how = min(options, key=lambda k: options[k])
        looks: list[dict[str, Any]] = []
        try:
            if how == "each":
                for look_id, node in watched.items():
                    try:
                        looks.append(
                            await self._call(partial(self.client.get_look, look_id), what="poll", background=True)
                        )
                    except ItemFailed as failure:
                        if failure.code != "not_found":
                            raise
                        # deleted on HeyGen's side while we watched it: say so rather than wait forever
                        self._stop_watching(node, node.record.status == "training")
                        self._fail(node, failure.code, "the look is no longer on the account", failure.source)
            elif how == "group":
                for group_id in groups:
                    looks.extend(await self._list_all(group_id))
            else:
                looks = await self._list_all(None)
        except (ItemFailed, Abandoned) as exc:
            self.report("poll_failed", error=str(exc))
            return False
        self.report("polled", how=how, watched=len(watched), seen=len(looks))
        changed = False
        for look in looks:
            seen = watched.get(look.get("id", ""))
            if seen is not None and seen.phase == "watch":
                changed |= self._observe(seen, look)
                if seen.phase == "watch" and self._wants_consent(seen):
                    await self._consent_task(seen)
        for node in watched.values():
            if node.phase == "watch":
                node.checked = started  # still training when this poll began
        return changed

    async def _list_all(self, group_id: str | None) -> list[dict[str, Any]]:
        looks: list[dict[str, Any]] = []
        token: str | None = None
        pages = 0
        while True:
            page = await self._call(
                partial(self.client.list_looks, group_id=group_id, token=token, limit=LOOKS_PAGE),
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

    def snapshot(self) -> Snapshot:
        """Counts by status and requests so far, for the progress display."""
        counts: dict[str, int] = {}
        for node in list(self.nodes.values()):
            counts[node.record.status] = counts.get(node.record.status, 0) + 1
        return Snapshot(counts, self.client.stats.requests, self.client.stats.rate_limited)

    # -- the end ---------------------------------------------------------------------------------

    def _result(self, elapsed: float) -> RunResult:
        records = [n.record for n in self.nodes.values()]
        counts: dict[str, int] = {}
        for rec in records:
            counts[rec.status] = counts.get(rec.status, 0) + 1
        if self._stopping == "interrupted":
            code = ExitCode.INTERRUPTED
        elif self._stopping == "auth":
            code = ExitCode.AUTH
        elif counts.get("failed") or counts.get("blocked"):
            code = ExitCode.ITEMS_FAILED
        elif any(rec.status not in TERMINAL for rec in records):
            code = ExitCode.WAITING
        else:
            code = ExitCode.OK
        return RunResult(
            counts=counts,
            exit_code=code,
            stopped=self._stopping,
            stop_message=self._stop_message,
            elapsed=elapsed,
            requests=self.client.stats.requests,
            rate_limited=self.client.stats.rate_limited,
            creations=self.creations,
            uploads=self.assets.uploaded,
            consent_requests=self.consent_requests,
            records=records,
        )


def _describe(error: ApiError) -> str:
    if isinstance(error, HttpError):
        return f"HTTP {error.status} {error.code}: {error.message}"
    return str(error)
