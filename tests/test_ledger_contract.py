"""The ledger's contract (LedgerStore), the same test bodies run against both backends: SQLite, a file,
and PostgreSQL, a workspace in a throwaway cluster of the session's own (tests/pg.py; skipped where
PostgreSQL's server is missing, failed under CI=true).

`backend` is where a ledger lives and how to open it again (a second connection, a child process);
`any_ledger` is a fresh, empty ledger there."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from batchavatars.errors import LedgerError
from batchavatars.ledger import Ledger, LedgerStore, PostgresLedger
from batchavatars.records import Record

from .pg import cluster_of

ROOT = Path(__file__).resolve().parent.parent
REFUSED = r"another run (is using this ledger|holds this workspace)"


def rec(key: str = "ava", status: str = "pending", **fields: object) -> Record:
    return Record(
        key=key, kind="avatar", type="photo", name=key.title(), parent=None, status=status, spec_hash="h", **fields
    )


class SqliteBackend:
    kind = "sqlite"

    def __init__(self, folder: Path, name: str = "contract") -> None:
        self.folder = folder
        self.file = folder / f"{name}.ledger.db"

    def open(self, *, create: bool = True, readonly: bool = False) -> LedgerStore:
        return Ledger(self.file, create=create, readonly=readonly)

    def other(self) -> SqliteBackend:
        return SqliteBackend(self.folder, f"other-{uuid.uuid4().hex[:8]}")

    def isolated(self) -> SqliteBackend:
        return self.other()

    def set_schema_version(self, version: int) -> None:
        db = sqlite3.connect(self.file)
        db.execute(f"PRAGMA user_version={version}")
        db.close()

    def opener(self) -> str:
        return f"from batchavatars.ledger import Ledger\nbook = Ledger({str(self.file)!r})\n"

    def bound(self, manifest: Path) -> str:
        return str(manifest.resolve())


class PostgresBackend:
    kind = "postgres"

    def __init__(self, url: str, workspace: str | None = None) -> None:
        self.url = url
        self.workspace = workspace or f"test-{uuid.uuid4().hex[:12]}"

    def open(self, *, create: bool = True, readonly: bool = False) -> LedgerStore:
        return PostgresLedger(self.url, self.workspace, create=create, readonly=readonly)

    def other(self) -> PostgresBackend:
        return PostgresBackend(self.url)  # another workspace in the same database

    def isolated(self) -> PostgresBackend:
        """A database of its own: for what changes the whole database (its schema's version)."""
        return PostgresBackend(cluster_of(self.url).create_database())

    def set_schema_version(self, version: int) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute("UPDATE batchavatars_schema SET version=%s", (version,))

    def opener(self) -> str:
        return (
            f"from batchavatars.ledger import PostgresLedger\nbook = PostgresLedger({self.url!r}, {self.workspace!r})\n"
        )

    def bound(self, manifest: Path) -> str:
        return manifest.name


Backend = SqliteBackend | PostgresBackend


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path)
    return PostgresBackend(request.getfixturevalue("postgres_url"))


@pytest.fixture
def any_ledger(backend: Backend):
    book = backend.open()
    yield book
    book.close()


# -- records ---------------------------------------------------------------------------------------


def test_records_come_back_whole_in_the_order_they_were_put(any_ledger, backend):
    assert any_ledger.records() == {} and any_ledger.get("ava") is None
    any_ledger.put(rec("ava", spec_fields={"name": "d1"}, supported_api_engines=["avatar_iv"]))
    any_ledger.put_many([rec("ben"), rec("cleo")])
    any_ledger.put(rec("ava"))  # put again: replaced, and last, as SQLite's INSERT OR REPLACE
    assert list(any_ledger.records()) == ["ben", "cleo", "ava"]
    again = backend.open()
    ben = again.get("ben")
    assert ben == any_ledger.records()["ben"] and ben.created_at and ben.updated_at == ben.created_at
    any_ledger.put(rec("dan", spec_fields={"name": "d1"}, supported_api_engines=["avatar_iv", "avatar_v"]))
    dan = again.get("dan")
    assert (dan.spec_fields, dan.supported_api_engines, dan.attempts, dan.parent) == (
        {"name": "d1"},
        ["avatar_iv", "avatar_v"],
        0,
        None,
    )
    any_ledger.remove("ben")
    assert list(again.records()) == ["cleo", "ava", "dan"]
    again.close()


def test_update_changes_the_record_and_its_row_and_commits(any_ledger, backend):
    record = rec()
    any_ledger.put(record)
    before = record.updated_at
    time.sleep(0.002)
    same = any_ledger.update(record, status="creating", idempotency_key="ba1.ava.h.g0", attempts=1)
    assert same is record and (record.status, record.attempts) == ("creating", 1) and record.updated_at > before
    other = backend.open()  # a second connection sees it: committed before update returned
    seen = other.get("ava")
    assert (seen.status, seen.idempotency_key, seen.attempts, seen.updated_at) == (
        "creating",
        "ba1.ava.h.g0",
        1,
        record.updated_at,
    )
    any_ledger.update(record, supported_api_engines=["avatar_iv"], error_code=None)
    assert other.get("ava").supported_api_engines == ["avatar_iv"]
    with pytest.raises(ValueError, match="not updatable"):
        any_ledger.update(record, key="bob")
    other.close()


def test_a_batch_commits_together_and_rolls_back_on_an_exception(any_ledger, backend):
    other = backend.open()
    with any_ledger.batch():
        any_ledger.put(rec("ava"))
        with any_ledger.batch():  # nested: part of the outer one
            any_ledger.put_many([rec("ben"), rec("cleo")])
        any_ledger.set_meta("base_url", "https://api.heygen.com")
        assert other.get("ava") is None  # not yet committed
    assert list(other.records()) == ["ava", "ben", "cleo"] and other.meta("base_url") == "https://api.heygen.com"
    ava = any_ledger.get("ava")
    with pytest.raises(RuntimeError, match="boom"), any_ledger.batch():
        any_ledger.update(ava, status="training")
        any_ledger.put(rec("dan"))
        with any_ledger.batch():
            any_ledger.put_asset("abc", "asset_1", 10)
            raise RuntimeError("boom")
    assert other.get("ava").status == "pending" and other.get("dan") is None and other.asset("abc") is None
    any_ledger.put(rec("eve"))  # out of the batch: committed on its own again
    assert other.get("eve") is not None
    other.close()


# -- assets, history, meta, clear ------------------------------------------------------------------


def test_assets_are_kept_by_content_hash_and_forgotten(any_ledger, backend):
    assert any_ledger.asset("abc") is None
    any_ledger.put_asset("abc", "asset_1", 10)
    any_ledger.put_asset("abc", "asset_2", 12)  # uploaded again: the newer id
    any_ledger.put_asset("def", "asset_3", 5)
    other = backend.open()
    assert (other.asset("abc"), other.asset("def")) == ("asset_2", "asset_3")
    any_ledger.forget_asset("abc")
    assert (other.asset("abc"), other.asset("def")) == (None, "asset_3")
    other.close()


def test_history_keeps_what_existed_and_when_it_was_deleted(any_ledger, backend):
    any_ledger.add_history(rec("ava"), "replaced")  # no look: nothing existed
    assert any_ledger.history() == []
    any_ledger.add_history(rec("ava", look_id="look_1", group_id="g_1"), "replaced")
    any_ledger.add_history(rec("ben", look_id="look_2", origin="adopted"), "pruned")
    any_ledger.mark_deleted("look_2")
    rows = backend.open().history()
    assert [sorted(row) for row in rows] == [
        sorted(["key", "name", "look_id", "group_id", "origin", "why", "at", "deleted_at"])
    ] * 2
    first, second = rows
    assert (first["key"], first["look_id"], first["group_id"], first["why"], first["deleted_at"]) == (
        "ava",
        "look_1",
        "g_1",
        "replaced",
        None,
    )
    assert (second["look_id"], second["origin"], second["why"]) == ("look_2", "adopted", "pruned")
    assert isinstance(second["deleted_at"], str) and second["deleted_at"] >= str(second["at"])


def test_meta_is_set_and_replaced(any_ledger, backend):
    assert any_ledger.meta("base_url") is None
    any_ledger.set_meta("base_url", "https://a")
    any_ledger.set_meta("base_url", "https://b")
    assert backend.open().meta("base_url") == "https://b"


def test_clear_forgets_all_but_the_manifest_it_is_bound_to(any_ledger, backend, tmp_path):
    any_ledger.bind_manifest(tmp_path / "team.yaml", default=True)
    any_ledger.put(rec("ava", look_id="look_1"))
    any_ledger.put_asset("abc", "asset_1", 10)
    any_ledger.add_history(rec("ava", look_id="look_0"), "replaced")
    any_ledger.set_meta("sandbox_world", "w1")
    any_ledger.clear()
    other = backend.open()
    assert (other.records(), other.asset("abc"), other.history(), other.meta("sandbox_world")) == ({}, None, [], None)
    assert other.meta("manifest") == backend.bound(tmp_path / "team.yaml")


def test_bind_manifest_records_the_manifest_and_refuses_another(any_ledger, backend, tmp_path):
    team = tmp_path / "a" / "team.yaml"
    any_ledger.bind_manifest(team, default=False)
    assert backend.open().meta("manifest") == backend.bound(team)
    any_ledger.bind_manifest(team, default=False)  # the same: fine
    with pytest.raises(LedgerError, match="other.yaml"):
        any_ledger.bind_manifest(tmp_path / "a" / "other.yaml", default=False)
    moved = tmp_path / "b" / "team.yaml"  # the same file name elsewhere (another machine's checkout)
    if backend.kind == "sqlite":  # by path: refused, but followed at the default place
        with pytest.raises(LedgerError, match="the ledger of the manifest"):
            any_ledger.bind_manifest(moved, default=False)
        any_ledger.bind_manifest(moved, default=True)
        assert any_ledger.meta("manifest") == str(moved.resolve())
    else:  # by file name: one workspace for team.yaml wherever it is; another name is refused even by default
        any_ledger.bind_manifest(moved, default=False)
        assert any_ledger.meta("manifest") == "team.yaml"
        with pytest.raises(LedgerError) as refused:
            any_ledger.bind_manifest(tmp_path / "other.yaml", default=True)
        assert f"the workspace {backend.workspace} is the ledger of the manifest team.yaml, not other.yaml" in str(
            refused.value
        )
        assert "Fix: pass --workspace NAME" in str(refused.value)


# -- opening ----------------------------------------------------------------------------------------


def test_a_ledger_of_a_newer_schema_is_refused_naming_both_versions(backend):
    place = backend.isolated()
    place.open().close()
    place.set_schema_version(99)
    for readonly in (False, True):
        with pytest.raises(LedgerError, match=r"newer batchavatars \(ledger schema 99, this one reads up to \d+\)"):
            place.open(readonly=readonly)
    if backend.kind == "postgres":  # the tables' version is the database's: newer for every workspace in it
        with pytest.raises(LedgerError, match="Fix: upgrade batchavatars"):
            place.other().open()


def test_a_read_only_opening_reads_refuses_writes_and_makes_nothing(any_ledger, backend):
    any_ledger.put(rec("ava"))
    any_ledger.set_meta("manifest", "team.yaml")
    reader = backend.open(readonly=True)
    assert reader.readonly and list(reader.records()) == ["ava"] and reader.meta("manifest") == "team.yaml"
    for write in (
        lambda: reader.put(rec("ben")),
        lambda: reader.update(reader.get("ava"), status="training"),
        lambda: reader.set_meta("x", "y"),
        lambda: reader.put_asset("abc", "asset_1", 1),
    ):
        with pytest.raises(LedgerError, match="read-only"):
            write()
    assert [r.status for r in any_ledger.records().values()] == ["pending"]
    missing = backend.other()
    for kwargs in ({"readonly": True}, {"create": False}):
        with pytest.raises(LedgerError, match="no ledger here yet"):
            missing.open(**kwargs)
    with pytest.raises(LedgerError, match="no ledger here yet"):  # and the tries made none
        missing.open(readonly=True)


def test_ledgers_apart_do_not_see_each_other(any_ledger, backend, tmp_path):
    """PostgreSQL: two workspaces of one database; SQLite: two files."""
    neighbour = backend.other().open()
    any_ledger.put(rec("ava"))
    any_ledger.put_asset("abc", "asset_1", 10)
    any_ledger.set_meta("manifest", "team.yaml")
    any_ledger.add_history(rec("ava", look_id="look_1"), "replaced")
    assert (neighbour.records(), neighbour.asset("abc"), neighbour.meta("manifest"), neighbour.history()) == (
        {},
        None,
        None,
        [],
    )
    neighbour.put(rec("ava", status="succeeded"))
    neighbour.bind_manifest(tmp_path / "other.yaml", default=False)
    neighbour.clear()
    assert [r.status for r in any_ledger.records().values()] == ["pending"] and any_ledger.asset("abc") == "asset_1"
    with neighbour.exclusive(), any_ledger.exclusive():  # each its own lock
        pass
    neighbour.close()


# -- one run at a time ------------------------------------------------------------------------------


def test_a_second_holder_waits_up_to_its_timeout_then_is_refused_naming_the_first(any_ledger, backend):
    second = backend.open()
    with any_ledger.exclusive(command="batchavatars run team.yaml"):
        started = time.monotonic()
        with pytest.raises(LedgerError) as refused, second.exclusive(timeout=0.6, command="batchavatars run"):
            pass
        waited = time.monotonic() - started
    message = str(refused.value)
    holder = rf"\(pid {os.getpid()} on {re.escape(socket.gethostname())}, running batchavatars run team\.yaml, since 20"
    assert re.search(REFUSED + r" " + holder, message), message
    assert "--lock-timeout SECONDS" in message and "a killed run's lock frees itself" in message
    assert 0.6 <= waited < 5
    started = time.monotonic()
    with pytest.raises(LedgerError, match=REFUSED), any_ledger.exclusive(), second.exclusive():
        pass  # timeout 0: refused at once
    assert time.monotonic() - started < 2
    with second.exclusive():  # released: usable again
        pass
    second.close()


def test_a_waiting_holder_gets_the_lock_once_it_is_released(any_ledger, backend):
    second = backend.open()
    got = threading.Event()
    with any_ledger.exclusive(command="first"):

        def wait_for_it() -> None:
            with second.exclusive(timeout=10, command="second"):
                got.set()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.5)
        assert not got.is_set()
    waiter.join(10)
    assert got.is_set()
    second.close()


def holding_child(backend: Backend) -> subprocess.Popen[str]:
    """A `python -c` that opens the ledger, takes it and says so, then sleeps: for kill -9."""
    script = backend.opener() + textwrap.dedent("""
        import time
        with book.exclusive(command="the child"):
            print("locked", flush=True)
            time.sleep(120)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def test_a_lock_held_by_a_run_killed_with_sigkill_frees_itself(any_ledger, backend):
    child = holding_child(backend)
    try:
        refused = rf"{REFUSED} \(pid {child.pid} on .*, running the child, since"
        with pytest.raises(LedgerError, match=refused), any_ledger.exclusive():
            pass
    finally:
        child.kill()  # SIGKILL: no finally of its own runs
        assert child.wait(10) == -9
    with any_ledger.exclusive(timeout=10, command="after"):  # its session ended with it: free (within moments)
        pass
