"""Every setting of a run and its default, written once. The CLI's options read their defaults
from `DEFAULTS`, the Python API takes the fields as typed keywords (`batchavatars.run(m, rate=5)`),
and the scheduler reads them as they are: nothing is copied field by field."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from .events import Reporter, ResponseHook, Snapshot, silent
from .records import RunResult

# A live view of a run (the CLI's progress display): given a way to read where the run stands.
Display = Callable[[Callable[[], Snapshot]], AbstractContextManager[object]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """What a run takes. Unset `api_key` and `base_url` come from HEYGEN_API_KEY (else the official
    CLI's credentials file) and HEYGEN_BASE_URL (else https://api.heygen.com); an unset `ledger`
    from BATCHAVATARS_LEDGER, else `<manifest>.ledger.db` beside the manifest."""

    # Where: the API, the key and the ledger.
    base_url: str | None = None
    api_key: str | None = None
    sandbox: bool = False  # against the built-in HeyGen simulator, on loopback
    ledger: str | os.PathLike[str] | None = None  # an SQLite file, or postgresql://USER@HOST:PORT/DBNAME
    workspace: str | None = (
        None  # a PostgreSQL ledger's workspace (env BATCHAVATARS_WORKSPACE; default the manifest's name)
    )
    lock_timeout: float = 0.0  # seconds to wait for another writer of the ledger to finish; then exit 2 naming it
    # Limits.
    concurrency: int = 8  # requests in flight
    rate: float = 10.0  # requests per second at most (0: no limit); the meter learns down from it on 429s
    max_attempts: int = 6  # attempts per request on 5xx, timeouts and dropped connections
    max_training: int | None = None  # the account's cap on concurrent training jobs, if known; else learned
    wait_timeout: float = 1800.0  # seconds to keep waiting on training and consent once nothing more can be sent
    no_wait: bool = False  # return once everything that can be sent is sent
    # HeyGen replays an Idempotency-Key for 24 h; 23 h leaves room for clock skew and a request in
    # flight when the window closes. An older unanswered key is looked up before it is sent again.
    replay_window: float = 82_800.0
    # What: the items, and what to do with the changed, the failed and the replaced.
    recreate: tuple[str, ...] = ()  # --replace: make these again, and what was made from them
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    adopt: bool = False  # look the items up on the account first and adopt exact matches
    retry_failed: bool = False  # send definitive failures again (each costs a credit)
    delete_replaced: bool = False  # delete the looks of replaced items once their replacements succeeded
    include_adopted: bool = False  # ... even those adopted from the account rather than made by this ledger
    moves: tuple[tuple[str, str], ...] = ()  # (old key, new key): a key renamed in the manifest keeps its look
    # A plan saved with `plan -o FILE`: applied exactly (with the options it was made with), and
    # refused (exit 2, nothing sent) when the manifest or the ledger moved since.
    saved_plan: str | os.PathLike[str] | None = None
    # Read the account first (list calls) and write what it says into the ledger (deleted, renamed,
    # failed later, consent revoked: drift.py), then plan against the ledger as the account has it.
    refresh: bool = False
    # Polling and jitter: the defaults suit HeyGen; tests and benchmarks tighten them.
    poll_min: float = 0.5
    poll_max: float = 30.0
    seed: int | None = None
    # Hooks.
    on_event: Reporter = silent  # called as on_event("item_succeeded", key=..., look_id=..., ...)
    display: Display | None = None  # a live view of the run (the CLI's progress display)
    # Called with the result while the API (the sandbox, for sandbox runs) is still there: the CLI
    # fetches the sandbox's preview images for the report this way.
    on_finish: Callable[[RunResult], Awaitable[None]] | None = None
    handle_signals: bool = False  # SIGINT/SIGTERM stop the run cleanly (the CLI sets it)
    on_response: ResponseHook | None = None  # every answered request, for request logs (the CLI's -v)


DEFAULTS = RunSettings()
CREDIT_PRICE = 1.0  # credits one creation costs (enterprise pricing of photo avatars and twins), for the summary
