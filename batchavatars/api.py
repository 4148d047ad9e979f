"""The Python API, for those who embed batchavatars (an Airflow or Prefect task, a notebook, the
video pipeline's own code), and the one layer under every CLI command: `plan`, `check`, `status`,
`export`, `report`, `prune` and `run`. It owns the key, the ledger path, the API's URL and the
defaults (settings.py); nothing is printed here, events go to the callback you pass.

    import batchavatars
    result = batchavatars.run("team.yaml", sandbox=True)      # or: await batchavatars.arun(...)
    result.exit_code, result.counts, [r.look_id for r in result.records]
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TextIO, TypeVar
from urllib.parse import urlsplit

import anyio

from . import apply, saved_plan
from .apply import Pruned
from .client import DEFAULT_BASE_URL
from .credentials import api_key_from_env, checked_key
from .drift import Refreshed
from .drift import refresh as refresh_from
from .errors import ApiUnreachable, UsageError
from .events import Reporter
from .ledger import Ledger, default_ledger_path, remove_ledger
from .manifest import Manifest, load_manifest
from .planner import Plan, build_plan
from .preflight import Preflight, creations, fetch_account
from .presentation import export as exporter
from .presentation.report import default_previews_dir, write_report
from .presentation.report_previews import Previews
from .presentation.report_previews import embed_previews as fetch_previews
from .records import Record, RunResult
from .settings import CREDIT_PRICE, RunSettings

SANDBOX_KEY = "sandbox-key"  # the simulator accepts any key; never a real one

ManifestLike = str | os.PathLike[str] | Manifest
P = ParamSpec("P")
T = TypeVar("T")


def _manifest(manifest: ManifestLike) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else load_manifest(manifest)


# -- what every command resolves the same way -----------------------------------------------------


def ledger_path(
    manifest: ManifestLike | None, ledger: str | os.PathLike[str] | None = None, *, sandbox: bool = False
) -> Path:
    """`ledger`, else BATCHAVATARS_LEDGER, else `<manifest>.ledger.db` beside the manifest
    (`<manifest>.sandbox.ledger.db` for sandbox trials)."""
    chosen = ledger or os.environ.get("BATCHAVATARS_LEDGER")
    if chosen:
        return Path(chosen)
    if manifest is None:
        raise UsageError("which ledger? Fix: name the MANIFEST, or pass --ledger PATH (or set BATCHAVATARS_LEDGER)")
    return default_ledger_path(_path_of(manifest), sandbox=sandbox)


def _path_of(manifest: ManifestLike) -> Path:
    return manifest.path if isinstance(manifest, Manifest) else Path(manifest)


def _is_default(manifest: ManifestLike, path: Path, sandbox: bool) -> bool:
    """A ledger at its default place beside its manifest follows it when the folder moves."""
    return path.resolve() == default_ledger_path(_path_of(manifest).resolve(), sandbox=sandbox)


def resolve_key(*, sandbox: bool, api_key: str | None = None) -> str:
    """The key a command sends: the sandbox's own, the one given, else HEYGEN_API_KEY, else the
    official CLI's credentials file."""
    if sandbox:
        return SANDBOX_KEY
    return checked_key(api_key) if api_key else api_key_from_env()


def api_url(sandbox: bool, base_url: str | None) -> str | None:
    """The base URL a command names (None for the sandbox); both at once is a usage error."""
    if sandbox and base_url:
        raise UsageError(
            f"--sandbox runs against the built-in simulator, --base-url {base_url} against another API. "
            "Fix: pass one of them"
        )
    return None if sandbox else resolve_base_url(base_url)


def resolve_base_url(base_url: str | None) -> str:
    """The one given, else HEYGEN_BASE_URL, else HeyGen's; an http(s) URL, or a usage error."""
    url = base_url or os.environ.get("HEYGEN_BASE_URL") or DEFAULT_BASE_URL
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(
            f"base URL {url!r} is not an http(s) URL. Fix: pass --base-url https://api.heygen.com "
            "(or set HEYGEN_BASE_URL)"
        )
    return url


@contextlib.contextmanager
def api_server(*, sandbox: bool, base_url: str | None, ledger: Path | None = None) -> Iterator[Served]:
    """The API a command talks to: HeyGen's (or the one given), or for `sandbox` the built-in
    simulator, started on loopback for as long as the block lasts. With the sandbox `ledger`, the
    simulator keeps its world (its avatars, assets and replays) in a file beside that ledger, so a
    second sandbox run continues as a second run against HeyGen would."""
    if not sandbox:
        yield Served(resolve_base_url(base_url))
        return
    from .sandbox import SandboxConfig, serve, world_path  # the simulator loads only when asked for

    world = world_path(ledger) if ledger is not None else None
    # Quick enough for a demo, slow enough to watch training and consent happen.
    with serve(SandboxConfig(training_seconds=1.5, consent_approval_seconds=3.0), world=world) as handle:
        yield Served(handle.url, handle.world() if world is not None else None)


@dataclass(frozen=True, slots=True)
class Served:
    """The API's URL, and for a sandbox with a world what it says of it (`id`, `loaded`, `reason`)."""

    url: str
    world: dict[str, object] | None = None


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


def _sandbox_world(book: Ledger, served: Served, report: Reporter) -> None:
    """A sandbox ledger holds the ids of one simulated world: when that world is gone (deleted, or
    the ledger is older than worlds kept on disk), its records name avatars that exist nowhere, and
    the trial starts afresh, saying so in one line, instead of turning them into failures."""
    if served.world is None:
        return
    world = str(served.world.get("id"))
    if book.meta("sandbox_world") != world and book.records():
        reason = served.world.get("reason") or "another world"
        report(
            "note", note=f"{book.path}: the sandbox's world of this trial is gone ({reason}); starting the trial afresh"
        )
        book.clear()
    book.set_meta("sandbox_world", world)


@contextlib.contextmanager
def _reading(path: Path, manifest: ManifestLike | None = None, *, sandbox: bool = False) -> Iterator[Ledger]:
    """An existing ledger opened read-only (never changed, fine in a read-only folder); with a
    manifest, refused when another manifest made it."""
    book = Ledger(path, create=False, readonly=True)
    try:
        if manifest is not None:
            book.bind_manifest(_path_of(manifest), default=_is_default(manifest, path, sandbox))
        yield book
    finally:
        book.close()


def _existing_ledger(
    manifest: str | os.PathLike[str] | None, ledger: str | os.PathLike[str] | None, sandbox: bool
) -> Path:
    """The ledger a reading command names, saying so when only the sandbox trial's exists."""
    path = ledger_path(manifest, ledger, sandbox=sandbox)
    if not sandbox and not path.exists() and manifest and not ledger:
        trial = ledger_path(manifest, None, sandbox=True)
        if trial.exists():
            raise UsageError(
                f"{path}: no ledger here yet, only the sandbox trial's. Fix: add --sandbox to read {trial}"
            )
    return path


# -- the commands ---------------------------------------------------------------------------------


def plan(
    manifest: ManifestLike,
    *,
    ledger: str | os.PathLike[str] | None = None,
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
    path = ledger_path(loaded, ledger, sandbox=sandbox)
    records: dict[str, Record] = {}
    found: Refreshed | None = None
    if path.exists():
        with _reading(path, loaded, sandbox=sandbox) as book:
            records = book.records()
            if refresh and any(record.look_id for record in records.values()):
                found = _refreshed(book, records, url, sandbox=sandbox, api_key=api_key)
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
        doc = saved_plan.saved(the_plan, str(path), str(loaded.path), loaded.items, records, options)
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
    book: Ledger, records: dict[str, Record], url: str | None, *, sandbox: bool, api_key: str | None
) -> Refreshed:
    """The records set against the account (plan --refresh). A sandbox trial's account is the
    world beside its ledger: when that is gone, every look is, and no sandbox is started (it
    would write a new world)."""
    key = resolve_key(sandbox=sandbox, api_key=api_key)
    if sandbox:
        from .sandbox import world_path  # the simulator loads only when asked for

        if not world_path(book.path).exists():
            return refresh_from(records, [], [])
    with api_server(sandbox=sandbox, base_url=url, ledger=book.path) as served:
        if served.world is not None and book.meta("sandbox_world") != served.world.get("id"):
            return refresh_from(records, [], [])  # another world: none of the trial's looks is in it
        return anyio.run(functools.partial(apply.read_drift, records, book, served.url, key, sandbox=sandbox))


def check(
    manifest: ManifestLike,
    *,
    ledger: str | os.PathLike[str] | None = None,
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
    the_plan = plan(manifest, ledger=ledger, sandbox=sandbox, only=only, exclude=exclude)
    key = resolve_key(sandbox=sandbox, api_key=api_key)
    with api_server(sandbox=sandbox, base_url=url) as served:
        account = anyio.run(fetch_account, served.url, key)
    needed = creations(the_plan)
    return Preflight(items=len(the_plan.steps), creations=needed, credits_needed=needed * credit_price, account=account)


@dataclass(frozen=True, slots=True)
class LedgerState:
    """A ledger as `status` reads it: where it is and its records."""

    path: Path
    records: list[Record]


def status(
    manifest: str | os.PathLike[str] | None = None,
    *,
    ledger: str | os.PathLike[str] | None = None,
    sandbox: bool = False,
) -> LedgerState:
    """The ledger's records, read-only: counts, failures and consent links are theirs to tell."""
    path = _existing_ledger(manifest, ledger, sandbox)
    with _reading(path) as book:
        return LedgerState(path, list(book.records().values()))


def export(
    out: TextIO,
    manifest: str | os.PathLike[str] | None = None,
    *,
    ledger: str | os.PathLike[str] | None = None,
    sandbox: bool = False,
    format: str = "json",
    history: bool = False,
) -> int:
    """Write the ledger's records (or, `history`, the looks of replaced and pruned items) to `out`
    as json, jsonl or csv; returns how many."""
    path = _existing_ledger(manifest, ledger, sandbox)
    with _reading(path) as book:
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
    ledger: str | os.PathLike[str] | None = None,
    sandbox: bool = False,
    output: str | os.PathLike[str] | None = None,
    embed_previews: bool = False,
) -> Report:
    """The HTML report of the ledger alone (no run figures), `<manifest>.report.html` beside it
    unless `output`; `embed_previews` fetches each preview once and puts it in the file."""
    path = ledger_path(manifest, ledger, sandbox=sandbox)
    with _reading(path) as book:
        records = list(book.records().values())
    found = fetch_previews(records, default_previews_dir(path)) if embed_previews else None
    target = str(output) if output else None
    try:
        written = write_report(
            path, records, str(manifest or path), None, report_path=target, previews=found.uris if found else None
        )
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {target or 'its default place beside the ledger'} "
            f"({exc.strerror or exc}). Fix: pass -o FILE somewhere writable"
        ) from None
    return Report(written, found)


async def aprune(
    manifest: ManifestLike,
    *,
    yes: bool = False,
    include_adopted: bool = False,
    ledger: str | os.PathLike[str] | None = None,
    sandbox: bool = False,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Pruned:
    """The looks of items no longer in the manifest: listed, and with `yes` deleted and forgotten.
    Only what this ledger made (adopted looks only with `include_adopted`)."""
    loaded = _manifest(manifest)
    url = api_url(sandbox, base_url)
    book = Ledger(ledger_path(loaded, ledger, sandbox=sandbox), create=False)
    try:
        found = apply.prune_candidates(loaded, book, include_adopted=include_adopted)
        if not yes or not found.candidates:
            return found
        key = resolve_key(sandbox=sandbox, api_key=api_key)
        with book.exclusive(), api_server(sandbox=sandbox, base_url=url, ledger=book.path) as served:
            await apply.delete_pruned(book, served.url, key, RunSettings(sandbox=sandbox), found)
    finally:
        book.close()
    return found


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
    path = ledger_path(loaded, settings.ledger, sandbox=settings.sandbox)
    key = resolve_key(sandbox=settings.sandbox, api_key=settings.api_key)
    expected = _read_saved(settings.saved_plan)
    if expected is not None:
        settings = dataclasses.replace(settings, **expected.settings())
    new = not path.exists()
    book = Ledger(path)
    try:
        with book.exclusive(), api_server(sandbox=settings.sandbox, base_url=url, ledger=path) as served:
            book.bind_manifest(loaded.path, default=_is_default(loaded, path, settings.sandbox))
            _sandbox_world(book, served, settings.on_event)
            if expected is not None:
                _still_holds(expected, loaded, book.records())
            result = await apply.run_plan(loaded, book, served.url, key, settings, expected=expected)
            result.ledger = path
            if settings.on_finish is not None:
                await settings.on_finish(result)
    except ApiUnreachable:
        book.close()
        if new:
            remove_ledger(path)  # nothing answered: no ledger made against an API that is not there
        raise
    finally:
        book.close()
    return result


run = _blocking(arun)
