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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from .client import DEFAULT_BASE_URL, HeyGenClient
from .credentials import api_key_from_env
from .events import Reporter, Snapshot, silent
from .ledger import Ledger, default_ledger_path
from .manifest import Manifest, load_manifest
from .plan import Plan, build_plan
from .retry import RetryPolicy
from .scheduler import RunOptions, RunResult, Scheduler
from .scheduler._requester import Requester

SANDBOX_KEY = "sandbox-key"  # the simulator accepts any key; never a real one

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
    on_event: Reporter = silent  # called as on_event("item_succeeded", key=..., look_id=..., ...)
    display: Display | None = None  # a live view of the run (the CLI's progress bar)
    handle_signals: bool = False  # SIGINT/SIGTERM stop the run cleanly (the CLI sets it)

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


def ledger_path(manifest: Manifest, ledger: str | os.PathLike[str] | None = None) -> Path:
    chosen = ledger or os.environ.get("BATCHAVATARS_LEDGER")
    return Path(chosen) if chosen else default_ledger_path(manifest.path)


def plan(
    manifest: str | os.PathLike[str] | Manifest,
    *,
    ledger: str | os.PathLike[str] | None = None,
    only: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    recreate: tuple[str, ...] = (),
) -> Plan:
    """What `run` would do against the ledger, without any API call."""
    loaded = _manifest(manifest)
    path = ledger_path(loaded, ledger)
    records = {}
    if path.exists():
        book = Ledger(path, create=False)
        try:
            records = book.records()
        finally:
            book.close()
    return build_plan(loaded.items, records, recreate=recreate, only=list(only), exclude=list(exclude))


def run(manifest: str | os.PathLike[str] | Manifest, **changes: Any) -> RunResult:
    """Run a manifest to the end (or to --wait-timeout) and return the result; blocks."""
    return anyio.run(lambda: arun(manifest, **changes))


async def arun(manifest: str | os.PathLike[str] | Manifest, **changes: Any) -> RunResult:
    """`run` for callers already in an event loop (asyncio or trio, through anyio)."""
    chosen = settings(**changes)
    loaded = _manifest(manifest)
    path = ledger_path(loaded, chosen.ledger)
    api_key = SANDBOX_KEY if chosen.sandbox else (chosen.api_key or api_key_from_env())
    book = Ledger(path)
    try:
        with book.exclusive(), _server(chosen) as url:
            result = await _run(loaded, book, url, api_key, chosen)
    finally:
        book.close()
    result.ledger = path
    return result


@contextlib.contextmanager
def _server(chosen: RunSettings) -> Iterator[str]:
    if not chosen.sandbox:
        yield chosen.base_url or os.environ.get("HEYGEN_BASE_URL") or DEFAULT_BASE_URL
        return
    from .sandbox import SandboxConfig, serve

    # Quick enough for a demo, slow enough to watch training and consent happen.
    with serve(SandboxConfig(training_seconds=1.5, consent_approval_seconds=3.0)) as handle:
        yield handle.url


async def _run(loaded: Manifest, book: Ledger, url: str, api_key: str, chosen: RunSettings) -> RunResult:
    report = chosen.on_event
    for note in loaded.notes:
        report("note", note=note)
    options = chosen.options()
    async with HeyGenClient(url, api_key, max_connections=max(options.concurrency * 2, 16)) as client:
        held: dict[str, str] = {}
        if chosen.adopt:
            from .adopt import adopt_existing

            requests = Requester.alone(RetryPolicy(max_attempts=options.max_attempts), report)
            adopted, ambiguous = await adopt_existing(loaded.items, book, client, requests, report)
            report("adopt_done", adopted=len(adopted), ambiguous=sorted(ambiguous))
            held = {
                key: f"{len(ids)} looks match it on the account ({', '.join(ids)})" for key, ids in ambiguous.items()
            }
        the_plan = build_plan(
            loaded.items, book.records(), recreate=chosen.recreate, only=list(chosen.only), exclude=list(chosen.exclude)
        )
        for note in the_plan.notes:
            report("note", note=note)
        scheduler = Scheduler(
            the_plan, book, client, options, reporter=report, recreate=frozenset(chosen.recreate), held=held
        )
        view = chosen.display(scheduler.snapshot) if chosen.display else contextlib.nullcontext()
        with view:
            return await scheduler.run(handle_signals=chosen.handle_signals)
