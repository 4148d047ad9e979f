"""The results ledger: one SQLite record per manifest item, committed at every state change.

Durability: WAL with synchronous=NORMAL survives the process being killed at any moment (kill -9):
a committed transaction is in the WAL before commit returns. (Power loss may lose the newest
commits; every state the scheduler writes can be recovered by polling or by replaying the same
Idempotency-Key, so that trade buys speed without risking a duplicate.)

One run per ledger: an flock on `<ledger>.lock`, released by the OS when the holder dies, so a
stale lock from a killed run needs no cleaning up.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import LedgerError, NoLedgerYet
from ..records import RECORD_FIELDS, Record, from_column, to_column
from ._common import HISTORY_FIELDS, LOCK_RETRY_SQLITE, Contents, describe_holder, keep_trying, lock_fix, now_iso

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    parent TEXT,
    status TEXT NOT NULL,
    look_id TEXT,
    group_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    error_source TEXT,          -- records.ErrorSource
    error_param TEXT,
    error_doc_url TEXT,
    spec_hash TEXT NOT NULL,
    spec_fields TEXT,           -- JSON: a digest per field of the request (what changed, by name)
    idempotency_key TEXT,       -- recorded before the POST is sent
    sent_at TEXT,               -- when that key was first sent
    generation INTEGER NOT NULL DEFAULT 0,
    consent_url TEXT,
    preview_image_url TEXT,
    supported_api_engines TEXT, -- JSON list
    default_voice_id TEXT,
    preferred_orientation TEXT,
    origin TEXT,                -- 'adopted' when found on the account rather than made
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    sha256 TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    look_id TEXT NOT NULL,
    group_id TEXT,
    origin TEXT,
    why TEXT NOT NULL,           -- replaced, pruned
    at TEXT NOT NULL,
    deleted_at TEXT               -- when the look was deleted on HeyGen (NULL: it is still there)
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Columns added since schema 1, added to an older ledger in place (NULL for its old records).
_ADDED_COLUMNS = (
    "error_param",
    "error_doc_url",
    "sent_at",
    "supported_api_engines",
    "default_voice_id",
    "preferred_orientation",
    "origin",
    "spec_fields",
)


# What a schema-2 ledger recorded as HeyGen's definitive word that was a refusal of the account.
_ACCOUNT_REFUSED = "error_source='heygen' AND error_code IN ('insufficient_credit', 'unauthorized', 'forbidden')"


_TABLES = frozenset({"items", "assets", "meta", "history"})
_INSERT = f"INSERT OR REPLACE INTO items ({', '.join(RECORD_FIELDS)}) VALUES ({', '.join('?' * len(RECORD_FIELDS))})"
_UPDATABLE = frozenset(RECORD_FIELDS) - {"key", "created_at"}


def _record(row: sqlite3.Row) -> Record:
    return Record(**{name: from_column(name, row[name]) for name in RECORD_FIELDS})  # type: ignore[arg-type]


def default_ledger_path(manifest: Path, *, sandbox: bool = False) -> Path:
    """`<stem>.ledger.db` beside the manifest; a sandbox trial keeps its own, so its fake ids
    never reach the real run's ledger or exports."""
    name = manifest.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return manifest.with_name(name + (".sandbox" if sandbox else "") + ".ledger.db")


def remove_ledger(path: Path) -> None:
    """Delete a ledger, its WAL files and its lock file (a new, empty ledger a run could not use)."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class Ledger:
    """One SQLite file per manifest: its items, uploaded assets and what it was made against.
    Every update commits on its own (except inside `batch()`); one run at a time (`exclusive`)."""

    def __init__(self, path: Path, *, create: bool = True, readonly: bool = False) -> None:
        """`readonly`: for the commands that only read (plan, status, export, report): opened with
        SQLite's `mode=ro`, it works on a read-only file or folder and can change nothing."""
        self.path = Path(path)
        self.readonly = readonly
        self._select = ", ".join(RECORD_FIELDS)
        if not self.path.exists():
            if not create or readonly:
                raise NoLedgerYet(
                    f"{self.path}: no ledger here yet. Fix: run the manifest first, or pass --ledger PATH"
                )
            self._create_private(self.path)
        elif self.path.is_dir():
            raise LedgerError(f"{self.path}: is a directory, not a ledger. Fix: pass --ledger PATH to a file")
        self._check_header(self.path)
        if not readonly and self._is_readonly():
            raise self._readonly_error()  # before a run starts, not at its first write
        try:
            self._db = self._connect()
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path}: written by a newer batchavatars (ledger schema {version}, this one reads "
                    f"up to {SCHEMA_VERSION}). Fix: upgrade batchavatars"
                )
            self._check_tables()
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                if version < SCHEMA_VERSION:
                    self._migrate(version)
            self._check_columns(version)
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None
        self._in_batch = False
        self._update_sql: dict[tuple[str, ...], str] = {}

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        else:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA user_version").fetchone()
            except sqlite3.OperationalError:
                # A WAL ledger in a read-only folder: SQLite cannot make its -shm file there. No run
                # can be writing it either (it could not make its -wal), so read it as immutable.
                db.close()
                uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
                db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=5000")
        return db

    def _is_readonly(self, exc: BaseException | None = None) -> bool:
        if exc is not None and "readonly" in str(exc).replace("read-only", "readonly").lower():
            return True
        folder = self.path.parent
        return not os.access(self.path, os.W_OK) or not os.access(folder, os.W_OK | os.X_OK)

    def _unusable(self, exc: sqlite3.DatabaseError) -> LedgerError:
        if not self.readonly and self._is_readonly(exc):
            return self._readonly_error()
        return LedgerError(f"{self.path}: not a usable ledger ({exc}). Fix: move it aside and run with --adopt")

    def _readonly_error(self) -> LedgerError:
        return LedgerError(
            f"{self.path}: the ledger is read-only (the file or its folder {self.path.parent}). A run records every "
            "step, so it needs both writable. Fix: make them writable (chmod u+w), or copy the ledger somewhere "
            "writable and pass --ledger PATH; plan, status, export and report read it as it is"
        )

    def _check_tables(self) -> None:
        """Refuse, untouched, an SQLite file that is not a ledger: an application's database handed
        over by mistake must not get our tables."""
        tables = {
            row[0]
            for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if not str(row[0]).startswith("sqlite_")
        }
        if not tables:
            if self.readonly:
                raise LedgerError(f"{self.path}: an empty database, not a ledger yet. Fix: run the manifest first")
            return
        others = sorted(tables - _TABLES)
        if "items" not in tables or others:
            shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
            raise LedgerError(
                f"{self.path}: an SQLite database but not a batchavatars ledger (its tables: {shown}); "
                "left as it is. Fix: pass --ledger PATH naming a new file, or the ledger of this manifest"
            )

    def bind_manifest(self, manifest: Path, *, default: bool) -> None:
        """A ledger holds the items of one manifest: recorded on the first run, refused for another
        (exit 2), so two manifests never mix in one ledger. A ledger at the default place beside its
        manifest (a project folder moved or copied whole) follows it."""
        resolved = str(Path(manifest).resolve())
        recorded = self.meta("manifest")
        if recorded == resolved:
            return
        if recorded is not None and not default:
            raise LedgerError(
                f"{self.path}: the ledger of the manifest {recorded}, not of {resolved}. "
                "Fix: pass --ledger PATH naming a ledger of its own for this manifest (or none, for the default "
                "beside it)"
            )
        if not self.readonly:
            self.set_meta("manifest", resolved)

    @staticmethod
    def _create_private(path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)  # ids and consent links: owner only
        except OSError as exc:
            raise LedgerError(
                f"{path}: cannot create the ledger ({exc.strerror}). Fix: pass --ledger PATH in a writable folder"
            ) from None
        os.close(fd)

    @staticmethod
    def _check_header(path: Path) -> None:
        try:
            with path.open("rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise LedgerError(f"{path}: cannot read the ledger ({exc.strerror}). Fix: check its permissions") from None
        if head and head != b"SQLite format 3\x00":
            raise LedgerError(
                f"{path}: not a ledger (not an SQLite file; corrupt or another file). "
                "Fix: move it aside and run with --adopt"
            )

    def _migrate(self, version: int) -> None:
        have = {row[1] for row in self._db.execute("PRAGMA table_info(items)")}
        for column in _ADDED_COLUMNS:
            if column not in have:
                self._db.execute(f"ALTER TABLE items ADD COLUMN {column} TEXT")
        if version < 2:
            # 0.1 called an item failed when retries ran out on a 5xx, 409 or 429 or without an answer;
            # its key may have done the work, so it must be sent again as it was, not under a new key.
            self._db.execute(
                "UPDATE items SET status='unanswered', error_source='transport' "
                "WHERE status='failed' AND idempotency_key IS NOT NULL AND (error_source='transport' "
                "OR error_code LIKE 'http_5%' OR error_code IN ('internal_error', 'server_error', "
                "'rate_limit_exceeded', 'request_in_progress', 'timeout', 'transport_error'))"
            )
        # Schema 3 records a refusal of the account (401, 402, 403) as such, not as HeyGen's word on the item.
        self._db.execute(f"UPDATE items SET error_source='account' WHERE {_ACCOUNT_REFUSED}")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _check_columns(self, version: int) -> None:
        have = {row[1] for row in self._db.execute("PRAGMA table_info(items)")}
        missing = set(RECORD_FIELDS) - have
        if self.readonly:  # an older ledger read as it is: the columns added since read as NULL
            missing -= set(_ADDED_COLUMNS)
            columns = {f: f if f in have else f"NULL AS {f}" for f in RECORD_FIELDS}
            if version < 3:
                columns["error_source"] = (
                    f"CASE WHEN {_ACCOUNT_REFUSED} THEN 'account' ELSE error_source END AS error_source"
                )
            self._select = ", ".join(columns.values())
        if missing:
            raise LedgerError(
                f"{self.path}: ledger table lacks {sorted(missing)}; corrupt. Fix: move it aside and run with --adopt"
            )

    def close(self) -> None:
        self._db.close()

    # -- records -----------------------------------------------------------------------------

    def records(self) -> dict[str, Record]:
        try:
            rows = self._db.execute(f"SELECT {self._select} FROM items ORDER BY rowid").fetchall()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(
                f"{self.path}: cannot read the ledger ({exc}). Fix: move it aside and run with --adopt"
            ) from None
        return {row["key"]: _record(row) for row in rows}

    def get(self, key: str) -> Record | None:
        row = self._db.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM items WHERE key=?", (key,)).fetchone()
        return _record(row) if row else None

    def put(self, record: Record) -> None:
        """Insert or replace a whole record (timestamps filled in)."""
        self.put_many([record])

    def put_many(self, records: list[Record]) -> None:
        stamp = now_iso()
        for record in records:
            record.created_at = record.created_at or stamp
            record.updated_at = stamp
        rows = [tuple(to_column(f, getattr(r, f)) for f in RECORD_FIELDS) for r in records]
        try:
            self._db.executemany(_INSERT, rows)
        except sqlite3.DatabaseError as exc:
            raise self._write_error(exc) from None

    def update(self, record: Record, **changes: object) -> Record:
        """Apply changes to the in-memory record and commit them; returns the record."""
        bad = set(changes) - _UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        for name, value in changes.items():
            setattr(record, name, value)
        record.updated_at = now_iso()
        changes["updated_at"] = record.updated_at
        names = tuple(changes)
        sql = self._update_sql.get(names)
        if sql is None:  # a handful of shapes recur millions of times at scale: build each once
            sql = self._update_sql[names] = f"UPDATE items SET {', '.join(f'{c}=:{c}' for c in names)} WHERE key=:key"
        params = {name: to_column(name, value) for name, value in changes.items()}
        params["key"] = record.key
        self._write(sql, params)
        return record

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes, one commit: for plan-time inserts, not for state changes a crash could lose."""
        if self._in_batch:
            yield
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._write_error(exc) from None
        self._in_batch = True
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_batch = False

    def _write(self, sql: str, params: dict[str, object]) -> None:
        try:
            self._db.execute(sql, params)  # autocommit unless inside batch()
        except sqlite3.DatabaseError as exc:
            raise self._write_error(exc) from None

    def _write_error(self, exc: sqlite3.DatabaseError) -> LedgerError:
        if self.readonly or self._is_readonly(exc):
            return self._readonly_error()
        return LedgerError(f"{self.path}: cannot write the ledger ({exc}). Fix: check disk space and permissions")

    # -- assets: uploaded once, by content hash ----------------------------------------------

    def asset(self, sha256: str) -> str | None:
        row = self._db.execute("SELECT asset_id FROM assets WHERE sha256=?", (sha256,)).fetchone()
        return row[0] if row else None

    def put_asset(self, sha256: str, asset_id: str, size_bytes: int) -> None:
        self._write(
            "INSERT OR REPLACE INTO assets (sha256, asset_id, size_bytes, uploaded_at) VALUES (:s, :a, :n, :t)",
            {"s": sha256, "a": asset_id, "n": size_bytes, "t": now_iso()},
        )

    def contents(self) -> Contents:
        """Everything it holds, for `ledger copy`."""
        assets = self._db.execute("SELECT sha256, asset_id, size_bytes, uploaded_at FROM assets ORDER BY rowid")
        meta = self._db.execute("SELECT name, value FROM meta ORDER BY name")
        return Contents(
            list(self.records().values()),
            [(str(a), str(b), int(c), str(d)) for a, b, c, d in assets.fetchall()],
            self.history(),
            {str(name): str(value) for name, value in meta.fetchall()},
        )

    def restore(self, contents: Contents) -> None:
        """Write `contents` into this (empty) ledger as they are, timestamps included, in one transaction."""
        rows = [tuple(to_column(f, getattr(r, f)) for f in RECORD_FIELDS) for r in contents.records]
        history = [tuple(row.get(f) for f in HISTORY_FIELDS) for row in contents.history]
        with self.batch():
            try:
                self._db.executemany(_INSERT, rows)
                self._db.executemany("INSERT OR REPLACE INTO assets VALUES (?, ?, ?, ?)", contents.assets)
                self._db.executemany(
                    f"INSERT INTO history ({', '.join(HISTORY_FIELDS)}) VALUES ({', '.join('?' * len(HISTORY_FIELDS))})",
                    history,
                )
                self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(contents.meta.items()))
            except sqlite3.DatabaseError as exc:
                raise self._write_error(exc) from None

    def forget_asset(self, sha256: str) -> None:
        """HeyGen lost the asset (its statuses say not_found): the content is uploaded again."""
        self._write("DELETE FROM assets WHERE sha256=:s", {"s": sha256})

    # -- what existed: replaced and pruned looks ------------------------------------------------

    def add_history(self, record: Record, why: str) -> None:
        if record.look_id:
            self._write(
                "INSERT INTO history (key, name, look_id, group_id, origin, why, at) "
                "VALUES (:k, :n, :l, :g, :o, :w, :t)",
                {
                    "k": record.key,
                    "n": record.name,
                    "l": record.look_id,
                    "g": record.group_id,
                    "o": record.origin,
                    "w": why,
                    "t": now_iso(),
                },
            )

    def history(self) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT key, name, look_id, group_id, origin, why, at, deleted_at FROM history ORDER BY rowid"
        ).fetchall()
        return [dict(row) for row in rows]

    def mark_deleted(self, look_id: str) -> None:
        self._write("UPDATE history SET deleted_at=:t WHERE look_id=:l", {"t": now_iso(), "l": look_id})

    def clear(self) -> None:
        """Forget every record, asset and history row, and what the ledger was bound to but its
        manifest: a sandbox trial whose simulated world is gone starts afresh."""
        with self.batch():
            for sql in ("DELETE FROM items", "DELETE FROM assets", "DELETE FROM history"):
                self._write(sql, {})
            self._write("DELETE FROM meta WHERE name != 'manifest'", {})

    def remove(self, key: str) -> None:
        """Forget a record (pruned: its item left the manifest and its look was deleted)."""
        self._write("DELETE FROM items WHERE key=:k", {"k": key})

    # -- what the ledger was made against -----------------------------------------------------

    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (name, value) VALUES (:n, :v)", {"n": name, "v": value})

    # -- one run at a time -------------------------------------------------------------------

    @contextmanager
    def exclusive(self, timeout: float = 0.0, command: str = "") -> Iterator[None]:
        """One run at a time: an flock on `<ledger>.lock`, tried every 0.1 s for up to `timeout`
        seconds, its holder (pid, host, `command`, since) written into the file for the next to name."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise LedgerError(
                f"{lock_path}: cannot take the run lock ({exc.strerror}). "
                "Fix: put the ledger in a writable folder (--ledger PATH)"
            ) from None
        try:
            if not keep_trying(lambda: _try_flock(fd), timeout, LOCK_RETRY_SQLITE):
                raise LedgerError(f"{self.path}: another run is using this ledger ({_read_holder(fd)}). {lock_fix()}")
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": now_iso()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def release_stale_lock(path: Path) -> str | None:
    """`unlock`: remove the lock file of a ledger that no live process holds, and say whose it was
    (None: there was none). A lock a running process holds is refused, naming it."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(
            f"{lock_path}: cannot open the run lock ({exc.strerror}). Fix: check its permissions"
        ) from None
    try:
        holder = _read_holder(fd)
        if not _try_flock(fd):
            raise LedgerError(f"{path}: the run that holds it is alive ({holder}). Fix: wait for it, or stop it")
        lock_path.unlink()
        return holder
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        if not info.get("pid"):
            return "holder unknown"  # its holder is between truncating the file and writing it
        return describe_holder(info.get("pid"), info.get("host"), info.get("command"), info.get("since"))
    except (OSError, ValueError, AttributeError):
        return "holder unknown"
