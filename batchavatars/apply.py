"""Applying a plan, given an open ledger and the API's URL and key (the Python API in api.py owns
those): the ledger bound to its API and account, keys older than the replay window looked up on
the account (and `--adopt`), the account's word written into the ledger (`--refresh`), the
scheduler run, the old looks of replaced items deleted; the account read for `plan --refresh`;
and the deletions of `prune`."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import anyio

from .adopt import account_looks, adopt_existing, stale_intents
from .apierrors import AuthFailed
from .client import HeyGenClient, Page
from .drift import Drift, Refreshed, refresh
from .errors import ApiUnreachable, AuthError, LedgerError, ServiceError, UsageError
from .events import Event, Reporter, silent
from .exitcodes import ExitCode
from .ledger import LedgerStore
from .lifecycle import ItemBook
from .manifest import Manifest
from .moves import moved
from .ownership import Owners, first_sends
from .planner import build_plan
from .records import Record, RunResult, Status, StopReason
from .requester import Abandoned, ItemFailed, Requester
from .retry import RetryPolicy
from .saved_plan import SavedPlan
from .scheduler import Scheduler
from .selection import select
from .settings import DEFAULTS, RunSettings
from .spec import ItemSpec

SANDBOX_ORIGIN = "sandbox"  # what a sandbox ledger records as its API: the port changes every run


def origin_of(url: str) -> str:
    """The API a ledger belongs to: scheme, host and port (a trailing slash or path is no matter)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def bind_ledger(book: LedgerStore, name: str, value: str, fix: str, *, write: bool = True) -> None:
    """A ledger holds the ids of one API and one account: running it against another would skip
    everything and export ids that do not exist there. `write` False: only checked (plan --refresh)."""
    recorded = book.meta(name)
    if recorded is None:
        if write:
            book.set_meta(name, value)
    elif recorded != value:
        raise LedgerError(f"{book.path}: made against {name} {recorded}, not {value}. Fix: {fix}")


async def _account(client: HeyGenClient, requests: Requester) -> str | None:
    """Who the key belongs to, where the API says (GET /v3/users/me); None where it does not."""
    try:
        me = await requests.call(client.get_me, what="account")
    except Abandoned:
        raise ApiUnreachable(
            f"cannot reach the API at {client.base_url}: nothing answered there. "
            "Fix: check --base-url (or HEYGEN_BASE_URL) and the network; nothing was sent"
        ) from None
    except ItemFailed as failure:
        if isinstance(failure.error, AuthFailed):
            raise AuthError(
                f"the API key was refused ({failure.code}: {failure.message}). Fix: set HEYGEN_API_KEY"
            ) from None
        return None  # a server without the endpoint, or a passing fault: no binding this time
    for name in ("username", "email"):
        if isinstance(value := me.get(name), str) and value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a run starts from besides its plan: keys to hold back (with why), and what the account
    held before anything was sent (whose a first answer is, ownership.py)."""

    held: dict[str, str]
    owners: Owners
    drift: dict[str, Drift] = field(default_factory=dict)  # --refresh: what the account said, written


async def prepare_ledger(
    loaded: Manifest, book: LedgerStore, client: HeyGenClient, requests: Requester, settings: RunSettings
) -> Prepared:
    """Bind the ledger to its API and account, adopt (--adopt), look up keys older than the replay
    window, and (when some key will be sent for the first time) read what the account holds."""
    account = await _account(client, requests)  # first, so that a ledger is bound only to an API that answered
    origin = SANDBOX_ORIGIN if settings.sandbox else origin_of(client.base_url)
    bind_ledger(
        book, "base_url", origin, "pass --ledger PATH to keep a ledger per API (or use the base URL it was made with)"
    )
    if account is not None:
        bind_ledger(book, "account", account, "use the key of that account, or --ledger PATH for this one")
    wanted = list(loaded.items) if settings.adopt else _past_the_window(loaded, book, settings)
    first = first_sends((spec.key for spec in loaded.items), book.records())
    looks, owners, drift = await _account_state(
        loaded, book, client, requests, settings, wanted=bool(wanted), first=first
    )
    if not wanted:
        return Prepared({}, owners, drift)
    # keys of ours past the window: what is found was made by this ledger, not adopted from elsewhere
    report = settings.on_event
    adopted, ambiguous = adopt_existing(wanted, book, looks, report, origin="adopted" if settings.adopt else None)
    report("adopt_done", adopted=len(adopted), ambiguous=sorted(ambiguous))
    if not settings.adopt:
        records = book.records()
        items = ItemBook(book)
        for spec in wanted:
            if spec.key not in adopted and spec.key not in ambiguous:
                items.expire_key(records[spec.key])  # not on the account: sent again, under a new key
    held = {key: f"{len(ids)} looks match it on the account ({', '.join(ids)})" for key, ids in ambiguous.items()}
    return Prepared(held, owners, drift)


# -- --refresh: the ledger set against the account ----------------------------------------------


async def _account_state(
    loaded: Manifest,
    book: LedgerStore,
    client: HeyGenClient,
    requests: Requester,
    settings: RunSettings,
    *,
    wanted: bool,
    first: bool,
) -> tuple[list[dict[str, Any]], Owners, dict[str, Drift]]:
    """The account's looks before anything is sent, whose a first answer is, and with --refresh the
    account's word written into the ledger (its groups read too; the same list of looks serves both).
    --refresh, --adopt and the window's look-up (`wanted`) cannot go without the listing; telling
    whose an answer is (`first`) can."""
    if settings.refresh:
        looks, groups = await read_account(client, requests)
        drift = write_drift(loaded, book, refresh(book.records(), looks, groups), settings)
        return looks, Owners(str(look.get("id")) for look in looks), drift
    if not wanted:
        return [], (await _owners(client, requests, settings.on_event) if first else Owners()), {}
    looks = await account_looks(client, requests)
    return looks, Owners(str(look.get("id")) for look in looks), {}


async def read_account(client: HeyGenClient, requests: Requester) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every private look and every group of the account, in list calls (50 a page), never one GET
    per look: what --refresh sets the ledger against (drift.py)."""
    looks = await _every(client, client.list_looks, requests)
    return looks, await _every(client, client.list_groups, requests)


async def _every(
    client: HeyGenClient, fetch: Callable[..., Awaitable[Page]], requests: Requester
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = await requests.call(partial(fetch, token=token), what="refresh")
        except Abandoned:
            raise ApiUnreachable(
                f"cannot reach the API at {client.base_url}: nothing answered there. "
                "Fix: check --base-url (or HEYGEN_BASE_URL) and the network; nothing was changed"
            ) from None
        except ItemFailed as failure:
            error = AuthError if isinstance(failure.error, AuthFailed) else ServiceError
            raise error(
                f"could not read the account for --refresh ({failure.code}: {failure.message}). "
                "Fix: check the key and --base-url, then run again; nothing was changed"
            ) from None
        items.extend(page.items)
        if not page.next_token:
            return items
        token = page.next_token


def write_drift(loaded: Manifest, book: LedgerStore, found: Refreshed, settings: RunSettings) -> dict[str, Drift]:
    """run --refresh: what the account says of the selected items' looks, written into the ledger
    through the item book before the run plans (a deleted look keeps a history row)."""
    selected, _ = select(loaded.items, list(settings.only), list(settings.exclude))
    specs = {spec.key: spec for spec in selected}
    drift = {key: d for key, d in found.drift.items() if key in specs}
    records, items = book.records(), ItemBook(book)
    for key, d in drift.items():
        _write_drift(items, records[key], d, specs[key])
    settings.on_event("note", note=dataclasses.replace(found, drift=drift).summary())
    return drift


def _write_drift(items: ItemBook, record: Record, drift: Drift, spec: ItemSpec) -> None:
    if drift.kind == "deleted":
        items.gone(record)
        return
    if drift.renamed_to is not None:
        record = items.renamed_on_account(record, drift.renamed_to, spec)
    if drift.kind == "failed_later":
        items.failed_later(record, drift.error_code, drift.error_message)
    elif drift.kind == "consent_revoked":
        items.consent_revoked(record)


async def read_drift(
    records: Mapping[str, Record], book: LedgerStore, url: str, api_key: str, *, sandbox: bool
) -> Refreshed:
    """plan --refresh: the ledger's records set against the account, read in list calls (and
    GET /v3/users/me, to refuse a ledger of another account as a run would). Nothing is written,
    neither on the account nor in the ledger."""
    async with HeyGenClient(url, api_key) as client:
        requests = Requester.alone(RetryPolicy(max_attempts=DEFAULTS.max_attempts), silent)
        account = await _account(client, requests)
        origin = SANDBOX_ORIGIN if sandbox else origin_of(client.base_url)
        fix = "pass the --base-url (and key) this ledger was made with, or --ledger PATH for another"
        bind_ledger(book, "base_url", origin, fix, write=False)
        if account is not None:
            bind_ledger(book, "account", account, fix, write=False)
        looks, groups = await read_account(client, requests)
    return refresh(records, looks, groups)


async def _owners(client: HeyGenClient, requests: Requester, report: Reporter) -> Owners:
    """What the account holds before new keys are sent. A listing that fails does not stop the run
    (a nightly job under a flaky API goes on): whose an answer is then rests on the groups' times."""
    try:
        return Owners(str(look.get("id")) for look in await account_looks(client, requests))
    except ServiceError as error:
        report("note", note=f"whose the answers are rests on their groups' creation times alone: {error}")
        return Owners()


def _past_the_window(loaded: Manifest, book: LedgerStore, settings: RunSettings) -> list[ItemSpec]:
    stale = set(stale_intents(book.records(), now=time.time(), window=settings.replay_window))
    wanted = [spec for spec in loaded.items if spec.key in stale]
    if wanted:
        settings.on_event(
            "note",
            note=f"{len(wanted)} requests sent over {settings.replay_window:g} s ago without a recorded answer: "
            "looking them up on the account before sending anything again",
        )
    return wanted


async def run_plan(
    loaded: Manifest,
    book: LedgerStore,
    url: str,
    api_key: str,
    settings: RunSettings,
    *,
    expected: SavedPlan | None = None,
) -> RunResult:
    """Everything a run does once its ledger is open and locked. With `handle_signals`, SIGINT and
    SIGTERM stop it cleanly at any moment: while the ledger is prepared that work ends at once,
    while the scheduler runs the requests in flight finish; either way the result says so (130).
    An exception in `on_event` stops the run the same clean way and is then raised to the caller.
    `expected`: a saved plan the run must do exactly, or nothing at all."""
    guard = _Guarded(settings.on_event)
    settings = dataclasses.replace(settings, on_event=guard)
    stop = _Interrupts()
    started = anyio.current_time()
    failure: Exception | None = None
    async with anyio.create_task_group() as watchers:
        if settings.handle_signals:
            watchers.start_soon(stop.watch)
        try:
            result = await _run_plan(loaded, book, url, api_key, settings, stop, guard, expected)
        except Exception as exc:  # raised as itself below, not inside the task group's ExceptionGroup
            failure = exc
        watchers.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if guard.error is not None:
        raise guard.error
    if result is None:  # interrupted before the scheduler started
        return interrupted_result(book, loaded, stop.message, anyio.current_time() - started)
    return result


async def _run_plan(
    loaded: Manifest,
    book: LedgerStore,
    url: str,
    api_key: str,
    settings: RunSettings,
    stop: _Interrupts,
    guard: _Guarded,
    expected: SavedPlan | None,
) -> RunResult | None:
    report = settings.on_event
    for note in loaded.notes:
        report("note", note=note)
    connections = max(settings.concurrency * 2, 16)
    async with HeyGenClient(url, api_key, max_connections=connections, on_response=settings.on_response) as client:
        requests = Requester.alone(RetryPolicy(max_attempts=settings.max_attempts), report)
        if settings.moves:  # made before anything else: the rest of the run sees the items under their new keys
            before = book.records()
            ItemBook(book).moved(before, moved(loaded.items, before, dict(settings.moves)))
        with stop.scope() as preparing:
            prepared = await prepare_ledger(loaded, book, client, requests, settings)
        if preparing.cancelled_caught:
            return None
        the_plan = build_plan(
            loaded.items,
            book.records(),
            recreate=settings.recreate,
            only=list(settings.only),
            exclude=list(settings.exclude),
            retry_failed=settings.retry_failed,
            drift=prepared.drift,
        )
        if expected is not None and (differs := expected.differs_from(the_plan)):
            raise UsageError(
                f"{expected.where}: the run would not do what the plan says, nothing was sent: "
                f"{'; '.join(differs[:10])}. Fix: make the plan again (plan -o FILE), review it, and run that one"
            )
        for note in the_plan.notes:
            report("note", note=note)
        scheduler = Scheduler(the_plan, book, client, settings, held=prepared.held, owners=prepared.owners)
        left = the_plan.left_alone()
        options = the_plan.left_alone_options(left)
        if left:
            report("changed_left_alone", keys=left, hint=f"to apply them: {' '.join(options[:10])}")
        guard.stop = partial(scheduler.stop, StopReason.CALLBACK)
        view = settings.display(scheduler.snapshot) if settings.display else contextlib.nullcontext()
        with view, stop.running(scheduler):
            result = await scheduler.run()
        result.left_alone, result.left_alone_options = left, options
        if settings.delete_replaced and not result.stopped:
            with stop.scope():
                await delete_replaced(book, client, requests, report, include_adopted=settings.include_adopted)
        return result


class _Interrupts:
    """SIGINT/SIGTERM at any moment of a run. While a `scope` lasts (the ledger's preparation, the
    deletion of replaced looks), the work in it ends at once: what it wrote is committed, what it
    did not reach is for the next run. While the scheduler runs, it is told to stop, and finishes the
    requests in flight. Only the first signal is taken: a second one finds Python's own handlers."""

    def __init__(self) -> None:
        self.message: str | None = None
        self._scope: anyio.CancelScope | None = None
        self._scheduler: Scheduler | None = None

    async def watch(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.message = f"received {signal.Signals(signum).name}"
                if self._scheduler is not None:
                    self._scheduler.stop(StopReason.INTERRUPTED, self.message)
                elif self._scope is not None:
                    self._scope.cancel()
                return

    @contextlib.contextmanager
    def scope(self) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self.message is not None:
                scope.cancel()  # a signal came between two stretches of work: do not start the next
            try:
                yield scope
            finally:
                self._scope = None

    @contextlib.contextmanager
    def running(self, scheduler: Scheduler) -> Iterator[None]:
        self._scheduler = scheduler
        if self.message is not None:
            scheduler.stop(StopReason.INTERRUPTED, self.message)
        try:
            yield
        finally:
            self._scheduler = None


class _Guarded:
    """The caller's `on_event`, kept from breaking the run: its first exception stops the run
    cleanly (in-flight requests finish, the ledger stays consistent) and is raised when it has."""

    def __init__(self, report: Reporter) -> None:
        self._report = report
        self.error: Exception | None = None
        self.stop: Callable[[str], None] | None = None

    def __call__(self, event: Event, /, **fields: Any) -> None:
        if self.error is not None:
            return
        try:
            self._report(event, **fields)
        except Exception as exc:  # the caller's bug, not ours: theirs to see, after a clean stop
            self.error = exc
            if self.stop is not None:
                self.stop(f"the on_event callback raised {type(exc).__name__}: {exc}")


def interrupted_result(book: LedgerStore, loaded: Manifest, message: str | None, elapsed: float) -> RunResult:
    """A run stopped before its scheduler started: the manifest's records as the ledger has them."""
    records = book.records()
    mine = [records[spec.key] for spec in loaded.items if spec.key in records]
    counts: dict[str, int] = {}
    for record in mine:
        counts[record.status] = counts.get(record.status, 0) + 1
    return RunResult(
        counts=counts,
        exit_code=ExitCode.INTERRUPTED,
        stopped=StopReason.INTERRUPTED,
        stop_message=message,
        elapsed=elapsed,
        requests=0,
        rate_limited=0,
        creations=0,
        uploads=0,
        consent_requests=0,
        records=mine,
    )


async def delete_replaced(
    book: LedgerStore, client: HeyGenClient, requests: Requester, report: Reporter, *, include_adopted: bool
) -> list[str]:
    """Delete the old looks of replaced items whose replacement succeeded. Only looks this ledger
    made (unless include_adopted); a look already gone (404) counts as deleted."""
    records = book.records()
    deleted: list[str] = []
    for row in book.history():
        look_id, key = str(row["look_id"]), str(row["key"])
        current = records.get(key)
        if row["deleted_at"] or row["why"] == "pruned" or current is None or current.status != Status.SUCCEEDED:
            continue
        if current.look_id == look_id or (row["origin"] == "adopted" and not include_adopted):
            continue
        try:
            await requests.call(partial(client.delete_look, look_id), what="delete", item=key)
        except ItemFailed as failure:
            report("request_failed", key=key, what="delete", error=f"{failure.code}: {failure.message}")
            continue
        book.mark_deleted(look_id)
        deleted.append(look_id)
        report("look_deleted", key=key, look_id=look_id, why="replaced")
    return deleted


# -- prune ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Pruned:
    """What prune found and did: records to delete, kept (adopted), deleted, failed to delete."""

    candidates: list[Record] = field(default_factory=list)
    kept: list[tuple[Record, str]] = field(default_factory=list)  # with why
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def prune_candidates(manifest: Manifest, book: LedgerStore, *, include_adopted: bool) -> Pruned:
    """The records of items no longer in the manifest: to delete, or kept (adopted ones)."""
    found = Pruned()
    the_plan = build_plan(manifest.items, book.records())
    for record in the_plan.prune:
        moved_to = next((new for new, old in the_plan.offered.items() if old == record.key), None)
        if moved_to is not None:
            found.kept.append((record, f"{moved_to} asks for the same: run --move {record.key}={moved_to} to keep it"))
        elif record.origin == "adopted" and not include_adopted:
            found.kept.append((record, "adopted from the account; --include-adopted to delete it"))
        else:
            found.candidates.append(record)
    return found


async def delete_pruned(book: LedgerStore, url: str, api_key: str, settings: RunSettings, found: Pruned) -> None:
    """Delete each candidate's look and forget its record; a look already gone counts as deleted."""
    async with HeyGenClient(url, api_key) as client:
        requests = Requester.alone(RetryPolicy(max_attempts=settings.max_attempts), settings.on_event)
        for record in found.candidates:
            if record.look_id:
                try:
                    await requests.call(partial(client.delete_look, record.look_id), what="delete", item=record.key)
                except ItemFailed as failure:
                    found.failed[record.key] = f"{failure.code}: {failure.message}"
                    continue
                except Abandoned:
                    raise ApiUnreachable(
                        f"cannot reach the API at {url}: nothing answered there. Fix: check --base-url (or "
                        f"HEYGEN_BASE_URL) and the network; {len(found.deleted)} deleted before that"
                    ) from None
                book.add_history(record, why="pruned")
                book.mark_deleted(record.look_id)
            book.remove(record.key)
            found.deleted.append(record.key)
