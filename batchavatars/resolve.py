"""What every command resolves the same way, in one place: the ledger it means (an SQLite file
beside the manifest, or a workspace of a PostgreSQL database), the API key, the API's URL, and the
built-in simulator when the command runs against the sandbox. Used by the Python API (api.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .client import DEFAULT_BASE_URL
from .credentials import api_key_from_env, checked_key
from .errors import UsageError
from .events import Reporter
from .ledger import LedgerStore, LedgerTarget, default_ledger_path, is_url, open_ledger
from .manifest import Manifest

SANDBOX_KEY = "sandbox-key"  # the simulator accepts any key; never a real one

ManifestLike = str | os.PathLike[str] | Manifest


def path_of(manifest: ManifestLike) -> Path:
    return manifest.path if isinstance(manifest, Manifest) else Path(manifest)


# -- the ledger -------------------------------------------------------------------------------------


def ledger_target(
    manifest: ManifestLike | None,
    ledger: str | os.PathLike[str] | None = None,
    *,
    sandbox: bool = False,
    workspace: str | None = None,
) -> LedgerTarget:
    """`ledger`, else BATCHAVATARS_LEDGER, else `<manifest>.ledger.db` beside the manifest
    (`<manifest>.sandbox.ledger.db` for sandbox trials). A `postgresql://` URL names a database:
    the ledger is its workspace `workspace` (else BATCHAVATARS_WORKSPACE, else the manifest's file
    name without `.yaml`), so two machines with the same team.yaml at different paths share one;
    a sandbox trial's workspace is `<name>.sandbox`, apart from the real one."""
    chosen = str(ledger or os.environ.get("BATCHAVATARS_LEDGER") or "")
    if is_url(chosen):
        return _workspace_of(chosen, manifest, sandbox, workspace or os.environ.get("BATCHAVATARS_WORKSPACE"))
    if workspace:
        raise UsageError(
            f"--workspace {workspace} names a workspace of a PostgreSQL ledger. "
            "Fix: pass --ledger postgresql://USER@HOST:PORT/DBNAME too, or leave --workspace out"
        )
    if chosen:
        return LedgerTarget(Path(chosen))
    if manifest is None:
        raise UsageError("which ledger? Fix: name the MANIFEST, or pass --ledger PATH (or set BATCHAVATARS_LEDGER)")
    return LedgerTarget(default_ledger_path(path_of(manifest), sandbox=sandbox))


def _workspace_of(url: str, manifest: ManifestLike | None, sandbox: bool, workspace: str | None) -> LedgerTarget:
    folder = path_of(manifest).parent if manifest is not None else Path.cwd()
    name = workspace or (_stem(path_of(manifest)) if manifest is not None else None)
    if not name:
        raise UsageError(
            "which workspace of the PostgreSQL ledger? Fix: name the MANIFEST, or pass --workspace NAME "
            "(or set BATCHAVATARS_WORKSPACE)"
        )
    name += ".sandbox" if sandbox else ""
    return LedgerTarget(folder / f"{name}.ledger", url=url, workspace=name)


def _stem(manifest: Path) -> str:
    name = manifest.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_default(manifest: ManifestLike, target: LedgerTarget, sandbox: bool) -> bool:
    """An SQLite ledger at its default place beside its manifest follows it when the folder moves."""
    return target.url is None and target.local.resolve() == default_ledger_path(
        path_of(manifest).resolve(), sandbox=sandbox
    )


@contextlib.contextmanager
def reading(
    target: LedgerTarget, manifest: ManifestLike | None = None, *, sandbox: bool = False
) -> Iterator[LedgerStore]:
    """An existing ledger opened read-only (never changed, fine in a read-only folder); with a
    manifest, refused when another manifest made it."""
    book = open_ledger(target, create=False, readonly=True)
    try:
        if manifest is not None:
            book.bind_manifest(path_of(manifest), default=is_default(manifest, target, sandbox))
        yield book
    finally:
        book.close()


def existing_target(
    manifest: str | os.PathLike[str] | None,
    ledger: str | os.PathLike[str] | None,
    sandbox: bool,
    workspace: str | None = None,
) -> LedgerTarget:
    """The ledger a reading command names, saying so when only the sandbox trial's exists."""
    target = ledger_target(manifest, ledger, sandbox=sandbox, workspace=workspace)
    if target.url is None and not sandbox and not target.local.exists() and manifest and not ledger:
        trial = ledger_target(manifest, None, sandbox=True)
        if trial.local.exists():
            raise UsageError(
                f"{target}: no ledger here yet, only the sandbox trial's. Fix: add --sandbox to read {trial}"
            )
    return target


# -- the key and the API ------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Served:
    """The API's URL, and for a sandbox with a world what it says of it (`id`, `loaded`, `reason`)."""

    url: str
    world: dict[str, object] | None = None


@contextlib.contextmanager
def api_server(*, sandbox: bool, base_url: str | None, ledger: LedgerTarget | None = None) -> Iterator[Served]:
    """The API a command talks to: HeyGen's (or the one given), or for `sandbox` the built-in
    simulator, started on loopback for as long as the block lasts. With the sandbox `ledger`, the
    simulator keeps its world (its avatars, assets and replays) in a file beside that ledger, so a
    second sandbox run continues as a second run against HeyGen would."""
    if not sandbox:
        yield Served(resolve_base_url(base_url))
        return
    from .sandbox import SandboxConfig, serve, world_path  # the simulator loads only when asked for

    world = world_path(ledger.local) if ledger is not None else None
    # Quick enough for a demo, slow enough to watch training and consent happen.
    with serve(SandboxConfig(training_seconds=1.5, consent_approval_seconds=3.0), world=world) as handle:
        yield Served(handle.url, handle.world() if world is not None else None)


def sandbox_world(book: LedgerStore, served: Served, report: Reporter) -> None:
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
