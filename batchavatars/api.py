"""The Python API, for those who embed batchavatars (an Airflow or Prefect task, a notebook, the
video pipeline's own code). The CLI is a thin layer over it: same defaults, same ledger, same exit
codes, but nothing is printed here; events go to the callback you pass.

    import batchavatars
    result = batchavatars.run("team.yaml", sandbox=True)      # or: await batchavatars.arun(...)
    result.exit_code, result.counts, [r.look_id for r in result.records]
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from .client import DEFAULT_BASE_URL, HeyGenClient, ResponseHook
from .credentials import api_key_from_env, checked_key
from .errors import AuthError, LedgerError, ServiceError
from .events import Reporter, Snapshot, silent
from .ledger import Ledger, default_ledger_path
from .manifest import Manifest, load_manifest
from .planner import Plan, build_plan
from .records import Status
from .requester import Requester
from .retry import RetryPolicy
from .scheduler import Abandoned, ItemFailed, RunOptions, RunResult, Scheduler
from .scheduler._book import ItemBook
from .scheduler._reconcile import stale_intents

SANDBOX_KEY = "sandbox-key"  # the simulator accepts any key; never a real one
SANDBOX_ORIGIN = "sandbox"  # what a sandbox ledger records as its API: the port changes every run
# HeyGen replays an Idempotency-Key for 24 hours; an hour less leaves room for clock skew and a
# request in flight when the window closes.
REPLAY_WINDOW = 23 * 3600.0

Display = Callable[[Callable[[], Snapshot]], AbstractContextManager[object]]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What `run` takes, defaulting as the CLI does. Unset `api_key` and `base_url` come from
    HEYGEN_API_KEY (else the official CLI's credentials file) and HEYGEN_BASE_URL."""

    base_url: str | None = None
    api_key: str | None = None
    sandbox: bool = False  # against the built-in HeyGen simulator, on loopback
    ledger: str | os.PathLike[str] | None = None  # default: <manifest>.ledger.db beside it
    concurrency: int = 8
    rate: float = 10.0
    max_attempts: int = 6
    max_training: int | None = None
    wait_timeout: float = 1800.0
    no_wait: bool = False
    recreate: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    adopt: bool = False
    retry_failed: bool = False  # send definitive failures again (each costs a credit)
    delete_replaced: bool = False  # delete the looks of replaced items once their replacements succeeded
    include_adopted: bool = False  # ... even those adopted from the account rather than made by this ledger
    replay_window: float = REPLAY_WINDOW  # older unanswered keys are looked up before re-sending
    on_event: Reporter = silent  # called as on_event("item_succeeded", key=..., look_id=..., ...)
    display: Display | None = None  # a live view of the run (the CLI's progress bar)
    # Called with the result while the API (the sandbox, for sandbox runs) is still there: the CLI
    # fetches the sandbox's preview images for the report this way.
    on_finish: Callable[[RunResult], Awaitable[None]] | None = None
    handle_signals: bool = False  # SIGINT/SIGTERM stop the run cleanly (the CLI sets it)
    on_response: ResponseHook | None = None  # every answered request, for request logs (the CLI's -v)

    def options(self) -> RunOptions:
        return RunOptions(
            concurrency=self.concurrency,
            rate=self.rate,
            max_attempts=self.max_attempts,
            max_training=self.max_training,
            wait_timeout=self.wait_timeout,
            no_wait=self.no_wait,
        )


def settings(**changes: Any) -> RunSettings:
    """RunSettings with `changes`; an unknown name is a TypeError naming it."""
    return dataclasses.replace(RunSettings(), **changes)


def _manifest(manifest: str | os.PathLike[str] | Manifest) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else load_manifest(manifest)


def ledger_path(manifest: Manifest, ledger: str | os.PathLike[str] | None = None, *, sandbox: bool = False) -> Path:
    chosen = ledger or os.environ.get("BATCHAVATARS_LEDGER")
    return Path(chosen) if chosen else default_ledger_path(manifest.path, sandbox=sandbox)


def plan(
    manifest: str | os.PathLike[str] | Manifest,
    *,
    ledger: str | os.PathLike[str] | None = None,
    only: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    recreate: tuple[str, ...] = (),
    retry_failed: bool = False,
    sandbox: bool = False,
) -> Plan:
    """What `run` would do against the ledger, without any API call."""
    loaded = _manifest(manifest)
    path = ledger_path(loaded, ledger, sandbox=sandbox)
    records = {}
    if path.exists():
        book = Ledger(path, create=False, readonly=True)
        try:
            book.bind_manifest(loaded.path, default=path == default_ledger_path(loaded.path, sandbox=sandbox))
            records = book.records()
        finally:
            book.close()
    return build_plan(
        loaded.items, records, recreate=recreate, only=list(only), exclude=list(exclude), retry_failed=retry_failed
    )


def run(manifest: str | os.PathLike[str] | Manifest, **changes: Any) -> RunResult:
    """Run a manifest to the end (or to --wait-timeout) and return the result; blocks."""
    return anyio.run(lambda: arun(manifest, **changes))


async def arun(manifest: str | os.PathLike[str] | Manifest, **changes: Any) -> RunResult:
    """`run` for callers already in an event loop (asyncio or trio, through anyio)."""
    chosen = settings(**changes)
    loaded = _manifest(manifest)
    path = ledger_path(loaded, chosen.ledger, sandbox=chosen.sandbox)
    api_key = SANDBOX_KEY if chosen.sandbox else checked_key(chosen.api_key or api_key_from_env())
    book = Ledger(path)
    try:
        with book.exclusive(), api_server(chosen) as url:
            book.bind_manifest(loaded.path, default=path == default_ledger_path(loaded.path, sandbox=chosen.sandbox))
            result = await _run(loaded, book, url, api_key, chosen)
            result.ledger = path
            if chosen.on_finish is not None:
                await chosen.on_finish(result)
    finally:
        book.close()
    return result


@contextlib.contextmanager
def api_server(chosen: RunSettings) -> Iterator[str]:
    if not chosen.sandbox:
        yield chosen.base_url or os.environ.get("HEYGEN_BASE_URL") or DEFAULT_BASE_URL
        return
    from .sandbox import SandboxConfig, serve

    # Quick enough for a demo, slow enough to watch training and consent happen.
    with serve(SandboxConfig(training_seconds=1.5, consent_approval_seconds=3.0)) as handle:
        yield handle.url


def origin_of(url: str) -> str:
    """The API a ledger belongs to: scheme, host and port (a trailing slash or path is no matter)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def bind_ledger(book: Ledger, name: str, value: str, fix: str) -> None:
    """A ledger holds the ids of one API and one account: running it against another would skip
    everything and export ids that do not exist there."""
    recorded = book.meta(name)
    if recorded is None:
        book.set_meta(name, value)
    elif recorded != value:
        raise LedgerError(f"{book.path}: made against {name} {recorded}, not {value}. Fix: {fix}")


async def _account(client: HeyGenClient, requests: Requester) -> str | None:
    """Who the key belongs to, where the API says (GET /v3/users/me); None where it does not."""
    try:
        me = await requests.call(client.get_me, what="account")
    except Abandoned:
        raise ServiceError(
            f"cannot reach the API at {client.base_url}: nothing answered there. "
            "Fix: check --base-url (or HEYGEN_BASE_URL) and the network; nothing was sent"
        ) from None
    except ItemFailed as failure:
        if failure.code in ("unauthorized", "forbidden"):
            raise AuthError(
                f"the API key was refused ({failure.code}: {failure.message}). Fix: set HEYGEN_API_KEY"
            ) from None
        return None  # a server without the endpoint, or a passing fault: no binding this time
    for field in ("username", "email"):
        if isinstance(value := me.get(field), str) and value:
            return value
    return None


async def _prepare_ledger(
    loaded: Manifest, book: Ledger, client: HeyGenClient, requests: Requester, chosen: RunSettings
) -> dict[str, str]:
    """Bind the ledger to its API and account, adopt (--adopt) and look up keys older than the
    replay window. Returns the keys to hold back this run, with why."""
    report = chosen.on_event
    origin = SANDBOX_ORIGIN if chosen.sandbox else origin_of(client.base_url)
    bind_ledger(
        book, "base_url", origin, "pass --ledger PATH to keep a ledger per API (or use the base URL it was made with)"
    )
    account = await _account(client, requests)
    if account is not None:
        bind_ledger(book, "account", account, "use the key of that account, or --ledger PATH for this one")
    from .adopt import adopt_existing

    wanted = list(loaded.items)
    if not chosen.adopt:
        stale = set(stale_intents(book.records(), now=time.time(), window=chosen.replay_window))
        wanted = [spec for spec in loaded.items if spec.key in stale]
        if wanted:
            report(
                "note",
                note=f"{len(wanted)} requests sent over {chosen.replay_window:g} s ago without a recorded answer: "
                "looking them up on the account before sending anything again",
            )
    if not wanted:
        return {}
    # keys of ours past the window: what is found was made by this ledger, not adopted from elsewhere
    adopted, ambiguous = await adopt_existing(
        wanted, book, client, requests, report, origin="adopted" if chosen.adopt else None
    )
    report("adopt_done", adopted=len(adopted), ambiguous=sorted(ambiguous))
    if not chosen.adopt:
        records = book.records()
        items = ItemBook(book)
        for spec in wanted:
            if spec.key not in adopted and spec.key not in ambiguous:
                items.expire_key(records[spec.key])  # not on the account: sent again, under a new key
    return {key: f"{len(ids)} looks match it on the account ({', '.join(ids)})" for key, ids in ambiguous.items()}


async def _run(loaded: Manifest, book: Ledger, url: str, api_key: str, chosen: RunSettings) -> RunResult:
    report = chosen.on_event
    for note in loaded.notes:
        report("note", note=note)
    options = chosen.options()
    connections = max(options.concurrency * 2, 16)
    async with HeyGenClient(url, api_key, max_connections=connections, on_response=chosen.on_response) as client:
        requests = Requester.alone(RetryPolicy(max_attempts=options.max_attempts), report)
        held = await _prepare_ledger(loaded, book, client, requests, chosen)
        the_plan = build_plan(
            loaded.items,
            book.records(),
            recreate=chosen.recreate,
            only=list(chosen.only),
            exclude=list(chosen.exclude),
            retry_failed=chosen.retry_failed,
        )
        for note in the_plan.notes:
            report("note", note=note)
        scheduler = Scheduler(the_plan, book, client, options, reporter=report, held=held)
        left = the_plan.left_alone()
        if left:
            hint = " ".join(f"--replace {key}" for key in left[:10])
            report("changed_left_alone", keys=left, hint=f"to make them again: {hint}")
        view = chosen.display(scheduler.snapshot) if chosen.display else contextlib.nullcontext()
        with view:
            result = await scheduler.run(handle_signals=chosen.handle_signals)
        result.left_alone = left
        if chosen.delete_replaced:
            await delete_replaced(book, client, requests, report, include_adopted=chosen.include_adopted)
        return result


async def delete_replaced(
    book: Ledger, client: HeyGenClient, requests: Requester, report: Reporter, *, include_adopted: bool
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
