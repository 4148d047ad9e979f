"""The results ledger: one record per manifest item, committed at every state change, that the next
run resumes from. Two backends with one contract (`LedgerStore`): SQLite, a file beside the
manifest (the embedded default, `_sqlite.py`), and PostgreSQL, a database a team and its nightly
job share (`_postgres.py`, `--ledger postgresql://...`, the `postgres` extra).

`open_ledger` opens whichever a `LedgerTarget` names; everything else talks to the contract.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..records import Record
from ._common import Contents, now_iso
from ._postgres import PostgresLedger, shown_url
from ._sqlite import Ledger, default_ledger_path, release_stale_lock, remove_ledger

__all__ = [
    "Contents",
    "Ledger",
    "LedgerStore",
    "LedgerTarget",
    "PostgresLedger",
    "default_ledger_path",
    "is_url",
    "now_iso",
    "open_ledger",
    "release_stale_lock",
    "remove_ledger",
]


def is_url(text: str) -> bool:
    """A PostgreSQL ledger is named by its libpq URL; anything else is an SQLite file."""
    return text.startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True, slots=True)
class LedgerTarget:
    """Which ledger a command means: an SQLite file (`path`), or a workspace of a PostgreSQL
    database (`url`, `workspace`). `local`: where the files that go beside a ledger go (the HTML
    report, the previews, a sandbox trial's world): the SQLite file itself, or for PostgreSQL a
    name in the manifest's folder (`<workspace>.ledger`, never created)."""

    local: Path
    url: str | None = None
    workspace: str | None = None

    @property
    def path(self) -> Path | None:
        return None if self.url else self.local

    def __str__(self) -> str:
        return f"{shown_url(self.url)}#{self.workspace}" if self.url else str(self.local)


class LedgerStore(Protocol):
    """What a run, adoption, prune and the reading commands need of a ledger. Every write commits
    on its own (but inside `batch()`), before anything depends on it: a process killed at any
    moment leaves a ledger the next run reads right."""

    readonly: bool

    @property
    def path(self) -> Path | str:
        """Where it is, for messages: an SQLite ledger's file (a Path); a PostgreSQL ledger's URL,
        without its password, and workspace (a str: `postgresql://ci@db:5432/heygen#team`)."""
        ...

    def close(self) -> None: ...

    # records
    def records(self) -> dict[str, Record]: ...
    def get(self, key: str) -> Record | None: ...
    def put(self, record: Record) -> None: ...
    def put_many(self, records: list[Record]) -> None: ...
    def update(self, record: Record, **changes: object) -> Record: ...
    def batch(self) -> AbstractContextManager[None]: ...
    def remove(self, key: str) -> None: ...
    def clear(self) -> None: ...

    # assets, by content hash
    def asset(self, sha256: str) -> str | None: ...
    def put_asset(self, sha256: str, asset_id: str, size_bytes: int) -> None: ...
    def forget_asset(self, sha256: str) -> None: ...

    # what existed: replaced and pruned looks
    def add_history(self, record: Record, why: str) -> None: ...
    def history(self) -> list[dict[str, object]]: ...
    def mark_deleted(self, look_id: str) -> None: ...

    # what it was made against, and who may write it
    def meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...
    def bind_manifest(self, manifest: Path, *, default: bool) -> None: ...
    def exclusive(self, timeout: float = 0.0, command: str = "") -> AbstractContextManager[None]:
        """Hold the ledger for one run: tried again for up to `timeout` seconds while another holds it,
        then a LedgerError naming that holder (pid, host, its `command`, since). A holder that dies,
        even by kill -9, frees it."""
        ...

    # everything, for `ledger copy`
    def contents(self) -> Contents: ...
    def restore(self, contents: Contents) -> None: ...


def open_ledger(target: LedgerTarget, *, create: bool = True, readonly: bool = False) -> LedgerStore:
    """The ledger `target` names: an SQLite file, or a PostgreSQL workspace."""
    if target.url is not None:
        return PostgresLedger(target.url, target.workspace or "", create=create, readonly=readonly)
    return Ledger(target.local, create=create, readonly=readonly)
