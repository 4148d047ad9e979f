"""The Python API, for those who embed batchavatars (an Airflow or Prefect task, a notebook, the
video pipeline's own code), and the one layer under every CLI command: `plan`, `check`, `status`,
`export`, `report`, `prune` and `run`. It owns the key, the ledger path, the API's URL and the
defaults (settings.py); nothing is printed here, events go to the callback you pass.

    import batchavatars
    result = batchavatars.run("team.yaml", sandbox=True)      # or: await batchavatars.arun(...)
    result.exit_code, result.counts, [r.look_id for r in result.records]
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TextIO, TypeVar

import anyio

from . import apply, saved_plan
from .apply import Pruned
from .drift import Refreshed
from .drift import refresh as refresh_from
from .errors import ApiUnreachable, LedgerError, NoLedgerYet, UsageError
from .ledger import LedgerTarget, open_ledger, release_stale_lock, remove_ledger
from .manifest import Manifest, load_manifest
from .planner import Plan, build_plan
from .preflight import Preflight, creations, fetch_account
from .presentation import export as exporter
from .presentation.report import default_previews_dir, write_report
from .presentation.report_previews import Previews
from .presentation.report_previews import embed_previews as fetch_previews
from .records import Record, RunResult
from .resolve import (
    SANDBOX_KEY,
    ManifestLike,
    api_server,
    api_url,
    existing_target,
    is_default,
    ledger_target,
    reading,
    resolve_base_url,
    resolve_key,
    sandbox_world,
)
from .settings import CREDIT_PRICE, RunSettings

__all__ = [
    "SANDBOX_KEY",
    "api_url",
    "check",
    "export",
    "ledger_target",
    "plan",
    "prune",
    "report",
    "resolve_base_url",
    "resolve_key",
    "run",
    "status",
]

P = ParamSpec("P")
T = TypeVar("T")
Where = str | os.PathLike[str] | None  # a ledger: an SQLite file, or a postgresql:// URL


def _manifest(manifest: ManifestLike) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else load_manifest(manifest)


def _read_saved(where: str | os.PathLike[str] | None) -> saved_plan.SavedPlan | None:
    if where is None:
        return None
    try:
        text = Path(where).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"--plan {where}: cannot read it ({exc.strerror or exc}). Fix: name a file plan -o wrote"
        ) from None
    return saved_plan.SavedPlan.read(text, str(where))


def _still_holds(expected: saved_plan.SavedPlan, loaded: Manifest, records: dict[str, Record]) -> None:
    """Checked under the ledger's lock, before anything is sent: nobody can move it in between."""
    moved = expected.moved(loaded.items, records)
    if moved:
        raise UsageError(
            f"{expected.where}: the plan no longer holds, nothing was sent: {'; '.join(moved)}. "
            "Fix: make the plan again (plan -o FILE), review it, and run that one"
        )


def _records(target: LedgerTarget, loaded: Manifest, sandbox: bool) -> dict[str, Record]:
    """The records a plan is made against: none where no run has made the ledger yet."""
    if target.url is None and not target.local.exists():
        return {}
    try:
        with reading(target, loaded, sandbox=sandbox) as book:
            return book.records()
    except NoLedgerYet:
        return {}


# -- the commands ---------------------------------------------------------------------------------


def plan(
    manifest: ManifestLike,
    *,
    ledger: Where = None,
    workspace: str | None = None,
    sandbox: bool = False,
    only: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    recreate: tuple[str, ...] = (),
    retry_failed: bool = False,
    moves: tuple[tuple[str, str], ...] = (),
    refresh: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
    save_to: str | os.PathLike[str] | None = None,
) -> Plan:
    """What `run` would do against the ledger, without any API call (`moves`: as run's). With
    `refresh`, against the ledger as the account says it is (deleted, renamed, failed later, consent
    revoked: drift.py), read in list calls from the API `base_url`, `sandbox` and `api_key` name as
    for `run`; nothing is changed, neither on the account nor in the ledger. `save_to`: also write
    the plan there, with what it was made from, for `run --plan` (saved_plan.py)."""
    loaded = _manifest(manifest)
    url = api_url(sandbox, base_url) if refresh else None
    target = ledger_target(loaded, ledger, sandbox=sandbox, workspace=workspace)
    records = _records(target, loaded, sandbox)
    found: Refreshed | None = None
    if refresh and any(record.look_id for record in records.values()):
        found = _refreshed(target, loaded, records, url, sandbox=sandbox, api_key=api_key)
    options = dict(
        only=only, exclude=exclude, recreate=recreate, retry_failed=retry_failed, moves=moves, refresh=refresh
    )
    the_plan = build_plan(
        loaded.items,
        records,
        recreate=recreate,
        only=list(only),
        exclude=list(exclude),
        retry_failed=retry_failed,
        moves=dict(moves),
        drift=found.drift if found else None,
    )
    if refresh:
        the_plan.notes.append(found.summary() if found else "nothing to refresh: no record holds a look yet")
    if save_to is not None:
        doc = saved_plan.saved(the_plan, str(target), str(loaded.path), loaded.items, records, options)
        _write_atomically(Path(save_to), json.dumps(doc, indent=2) + "\n")
    return the_plan


def _write_atomically(target: Path, text: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{target.name}.tmp")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, target)
    except OSError as exc:
        raise UsageError(
            f"cannot write {target} ({exc.strerror or exc}). Fix: name a file somewhere writable"
        ) from None


def _refreshed(
    target: LedgerTarget,
    loaded: Manifest,
    records: dict[str, Record],
    url: str | None,
    *,
    sandbox: bool,
    api_key: str | None,
) -> Refreshed:
    """The records set against the account (plan --refresh). A sandbox trial's account is the
    world beside its ledger: when that is gone, every look is, and no sandbox is started (it
    would write a new world)."""
    key = resolve_key(sandbox=sandbox, api_key=api_key)
    if sandbox:
        from .sandbox import world_path  # the simulator loads only when asked for

        if not world_path(target.local).exists():
            return refresh_from(records, [], [])
    with (
        reading(target, loaded, sandbox=sandbox) as book,
        api_server(sandbox=sandbox, base_url=url, ledger=target) as served,
    ):
        if served.world is not None and book.meta("sandbox_world") != served.world.get("id"):
            return refresh_from(records, [], [])  # another world: none of the trial's looks is in it
        read = functools.partial(apply.read_drift, records, book, served.url, key, sandbox=sandbox)
        return anyio.run(read)


def check(
    manifest: ManifestLike,
    *,
    ledger: Where = None,
    workspace: str | None = None,
    sandbox: bool = False,
    only: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    base_url: str | None = None,
    api_key: str | None = None,
    credit_price: float = CREDIT_PRICE,
) -> Preflight:
    """Before a big batch: is the manifest usable, does the key work (GET /v3/users/me), and do
    the account's credits cover the creations the plan needs? No avatar is made."""
    url = api_url(sandbox, base_url)
    the_plan = plan(manifest, ledger=ledger, workspace=workspace, sandbox=sandbox, only=only, exclude=exclude)
    key = resolve_key(sandbox=sandbox, api_key=api_key)
    with api_server(sandbox=sandbox, base_url=url) as served:
        account = anyio.run(fetch_account, served.url, key)
    needed = creations(the_plan)
    return Preflight(items=len(the_plan.steps), creations=needed, credits_needed=needed * credit_price, account=account)


@dataclass(frozen=True, slots=True)
class LedgerState:
    """A ledger as `status` reads it: which it is and its records."""

    path: LedgerTarget
    records: list[Record]


def status(
    manifest: str | os.PathLike[str] | None = None,
    *,
    ledger: Where = None,
    workspace: str | None = None,
    sandbox: bool = False,
) -> LedgerState:
    """The ledger's records, read-only: counts, failures and consent links are theirs to tell."""
    target = existing_target(manifest, ledger, sandbox, workspace)
    with reading(target) as book:
        return LedgerState(target, list(book.records().values()))


def export(
    out: TextIO,
    manifest: str | os.PathLike[str] | None = None,
    *,
    ledger: Where = None,
    workspace: str | None = None,
    sandbox: bool = False,
    format: str = "json",
    history: bool = False,
) -> int:
    """Write the ledger's records (or, `history`, the looks of replaced and pruned items) to `out`
    as json, jsonl or csv; returns how many."""
    target = existing_target(manifest, ledger, sandbox, workspace)
    with reading(target) as book:
        if history:
            return exporter.write_history(book.history(), format, out)
        return exporter.write(list(book.records().values()), format, out)


@dataclass(frozen=True, slots=True)
class Report:
    """The HTML report written, and what embedding the previews found (None: not asked)."""

    path: Path
    previews: Previews | None


def report(
    manifest: str | os.PathLike[str] | None = None,
    *,
    ledger: Where = None,
    workspace: str | None = None,
    sandbox: bool = False,
    output: str | os.PathLike[str] | None = None,
    embed_previews: bool = False,
) -> Report:
    """The HTML report of the ledger alone (no run figures), `<manifest>.report.html` beside it
    unless `output`; `embed_previews` fetches each preview once and puts it in the file."""
    target = ledger_target(manifest, ledger, sandbox=sandbox, workspace=workspace)
    with reading(target) as book:
        records = list(book.records().values())
    found = fetch_previews(records, default_previews_dir(target.local)) if embed_previews else None
    chosen = str(output) if output else None
    try:
        written = write_report(
            target.local,
            records,
            str(manifest or target),
            None,
            report_path=chosen,
            previews=found.uris if found else None,
        )
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {chosen or 'its default place beside the ledger'} "
            f"({exc.strerror or exc}). Fix: pass -o FILE somewhere writable"
        ) from None
    return Report(written, found)


async def aprune(
    manifest: ManifestLike,
    *,
    yes: bool = False,
    include_adopted: bool = False,
    ledger: Where = None,
    workspace: str | None = None,
    sandbox: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
    lock_timeout: float = 0.0,
) -> Pruned:
    """The looks of items no longer in the manifest: listed, and with `yes` deleted and forgotten.
    Only what this ledger made (adopted looks only with `include_adopted`). `lock_timeout`: how long
    to wait for another writer of the ledger to finish."""
    loaded = _manifest(manifest)
    url = api_url(sandbox, base_url)
    target = ledger_target(loaded, ledger, sandbox=sandbox, workspace=workspace)
    book = open_ledger(target, create=False)
    try:
        found = apply.prune_candidates(loaded, book, include_adopted=include_adopted)
        if not yes or not found.candidates:
            return found
        key = resolve_key(sandbox=sandbox, api_key=api_key)
        command = f"batchavatars prune {loaded.path.name}"
        with book.exclusive(lock_timeout, command), api_server(sandbox=sandbox, base_url=url, ledger=target) as served:
            await apply.delete_pruned(book, served.url, key, RunSettings(sandbox=sandbox), found)
    finally:
        book.close()
    return found


def copy(source: str | os.PathLike[str], target: str | os.PathLike[str], *, workspace: str | None = None) -> int:
    """`ledger copy`: every record, asset, history row and binding of one ledger into another
    (SQLite and PostgreSQL, either way), refusing a target that holds anything. `workspace`: the
    PostgreSQL side's (else a `#name` on its URL, else the name of the manifest the source belongs
    to). Returns how many records were copied."""
    given = _side(source, workspace, None)
    with reading(given) as book:
        contents = book.contents()
    made_for = contents.meta.get("manifest")
    into = _side(target, workspace, Path(made_for).name if made_for else None)
    book = open_ledger(into)
    try:
        existing = book.contents()
        if not existing.empty():
            raise LedgerError(
                f"{into}: holds {len(existing.records)} records already; a copy never overwrites. "
                "Fix: name an empty ledger or workspace"
            )
        with book.exclusive(0.0, "batchavatars ledger copy"):
            if into.url is not None and made_for:  # a workspace is bound to the manifest's file name
                contents.meta["manifest"] = Path(made_for).name
            elif into.url is None:
                contents.meta.pop("manifest", None)  # an SQLite ledger binds to a path on its first run
            book.restore(contents)
    finally:
        book.close()
    return len(contents.records)


def unlock(
    manifest: str | os.PathLike[str] | None = None, *, ledger: Where = None, sandbox: bool = False
) -> str | None:
    """`unlock`: remove an SQLite ledger's lock left by a process that is gone; whose it was (None:
    there was none). A PostgreSQL workspace's lock frees itself with its holder's session."""
    target = ledger_target(manifest, ledger, sandbox=sandbox)
    if target.url is not None:
        raise UsageError(
            f"{target}: a PostgreSQL workspace's lock is its holder's session and frees itself when that "
            "session ends. Fix: nothing to unlock; stop the holder if it still runs"
        )
    return release_stale_lock(target.local)


def _side(where: str | os.PathLike[str], workspace: str | None, manifest: str | None) -> LedgerTarget:
    """One side of a copy: a file, or `postgresql://...[#workspace]`."""
    text = str(where)
    url, _, fragment = text.partition("#")
    if url.startswith(("postgresql://", "postgres://")):
        name = fragment or workspace or (manifest.removesuffix(".yaml").removesuffix(".yml") if manifest else None)
        if not name:
            raise UsageError(f"{url}: which workspace? Fix: add #NAME to the URL, or pass --workspace NAME")
        return LedgerTarget(Path(f"{name}.ledger"), url=url, workspace=name)
    return LedgerTarget(Path(text))


def _blocking(fn: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """The blocking twin of an async API function, with its signature."""

    @functools.wraps(fn)
    def blocking(*args: P.args, **kwargs: P.kwargs) -> T:
        return anyio.run(functools.partial(fn, *args, **kwargs))

    blocking.__doc__ = f"{fn.__name__}, blocking: {fn.__doc__}"
    return blocking


prune = _blocking(aprune)


# -- run: its keywords are RunSettings' fields, with their types and defaults ---------------------


def _takes_settings(
    settings: Callable[P, RunSettings],
) -> Callable[
    [Callable[[ManifestLike, RunSettings], Awaitable[T]]], Callable[Concatenate[ManifestLike, P], Awaitable[T]]
]:
    """`arun(manifest, rate=5, ...)` for `arun(manifest, RunSettings(rate=5, ...))`: mypy checks
    each keyword against RunSettings, and help() lists them with their defaults."""

    def decorate(
        fn: Callable[[ManifestLike, RunSettings], Awaitable[T]],
    ) -> Callable[Concatenate[ManifestLike, P], Awaitable[T]]:
        @functools.wraps(fn)
        async def with_settings(manifest: ManifestLike, /, *args: P.args, **kwargs: P.kwargs) -> T:
            return await fn(manifest, settings(*args, **kwargs))

        manifest = inspect.Parameter("manifest", inspect.Parameter.POSITIONAL_ONLY, annotation="ManifestLike")
        signature = inspect.signature(settings)
        with_settings.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[manifest, *signature.parameters.values()],
            return_annotation=inspect.signature(fn).return_annotation,
        )
        return with_settings

    return decorate


@_takes_settings(RunSettings)
async def arun(manifest: ManifestLike, settings: RunSettings) -> RunResult:
    """Run a manifest to the end (or to `wait_timeout`) in the caller's event loop (asyncio or trio,
    through anyio) and return the result. Keywords: the fields of RunSettings."""
    url = api_url(settings.sandbox, settings.base_url)
    loaded = _manifest(manifest)
    target = ledger_target(loaded, settings.ledger, sandbox=settings.sandbox, workspace=settings.workspace)
    key = resolve_key(sandbox=settings.sandbox, api_key=settings.api_key)
    expected = _read_saved(settings.saved_plan)
    if expected is not None:
        settings = dataclasses.replace(settings, **expected.settings())
    new = target.url is None and not target.local.exists()
    book = open_ledger(target)
    command = f"batchavatars run {loaded.path.name}"
    try:
        with (
            book.exclusive(settings.lock_timeout, command),
            api_server(sandbox=settings.sandbox, base_url=url, ledger=target) as served,
        ):
            book.bind_manifest(loaded.path, default=is_default(loaded, target, settings.sandbox))
            sandbox_world(book, served, settings.on_event)
            if expected is not None:
                _still_holds(expected, loaded, book.records())
            result = await apply.run_plan(loaded, book, served.url, key, settings, expected=expected)
            result.ledger, result.ledger_name = target.local, str(target)
            if settings.on_finish is not None:
                await settings.on_finish(result)
    except ApiUnreachable:
        book.close()
        if new:
            remove_ledger(target.local)  # nothing answered: no ledger made against an API that is not there
        raise
    finally:
        book.close()
    return result


run = _blocking(arun)
