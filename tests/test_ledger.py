"""The ledger: records survive, the file is private, one run holds it, bad files get clear errors."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from batchavatars.errors import LedgerError
from batchavatars.ledger import Ledger, default_ledger_path
from batchavatars.records import Record


def rec(key="ava", status="pending"):
    return Record(key=key, kind="avatar", type="photo", name="Ava", parent=None, status=status, spec_hash="h")


def test_default_path_sits_beside_the_manifest(tmp_path):
    assert default_ledger_path(tmp_path / "team.yaml") == tmp_path / "team.ledger.db"
    assert default_ledger_path(tmp_path / "team.yml") == tmp_path / "team.ledger.db"


def test_records_round_trip_and_file_is_owner_only(tmp_path):
    path = tmp_path / "x.ledger.db"
    book = Ledger(path)
    r = rec()
    book.put(r)
    book.update(r, status="creating", idempotency_key="ba1.ava.h.g0", attempts=1)
    book.put_asset("abc", "asset_1", 10)
    book.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = Ledger(path, create=False)
    got = again.get("ava")
    assert got.status == "creating" and got.idempotency_key == "ba1.ava.h.g0" and got.attempts == 1
    assert got.created_at and got.updated_at >= got.created_at
    assert again.asset("abc") == "asset_1"


def test_a_committed_state_change_survives_kill_9(tmp_path):
    path = tmp_path / "k.ledger.db"
    script = textwrap.dedent(f"""
        import os, signal
        from batchavatars.ledger import Ledger
        from batchavatars.records import Record
        book = Ledger({str(path)!r})
        r = Record(key="ava", kind="avatar", type="photo", name="A", parent=None, status="pending", spec_hash="h")
        book.put(r)
        book.update(r, status="creating", idempotency_key="key-1")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -9
    assert Ledger(path, create=False).get("ava").idempotency_key == "key-1"


def test_second_run_on_the_same_ledger_is_refused_naming_the_holder(tmp_path):
    path = tmp_path / "l.ledger.db"
    first, second = Ledger(path), Ledger(path)
    with (
        first.exclusive(),
        pytest.raises(LedgerError, match=r"another run is using this ledger \(pid \d+ on"),
        second.exclusive(),
    ):
        pass
    with second.exclusive():  # released: usable again
        pass


def test_a_killed_runs_lock_frees_itself(tmp_path):
    path = tmp_path / "s.ledger.db"
    Ledger(path).close()
    script = f"""
import os, signal
from batchavatars.ledger import Ledger
with Ledger({str(path)!r}).exclusive():
    os.kill(os.getpid(), signal.SIGKILL)
"""
    assert subprocess.run([sys.executable, "-c", script]).returncode == -9
    with Ledger(path).exclusive():
        pass


def test_corrupt_and_foreign_files_are_refused_clearly(tmp_path):
    junk = tmp_path / "junk.ledger.db"
    junk.write_bytes(b"this is not sqlite at all" * 10)
    with pytest.raises(LedgerError, match="not a ledger"):
        Ledger(junk)
    with pytest.raises(LedgerError, match="no ledger here yet"):
        Ledger(tmp_path / "missing.db", create=False)


def test_a_ledger_from_a_newer_version_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "new.ledger.db"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(LedgerError, match="newer batchavatars"):
        Ledger(path)


def test_a_ledger_of_the_first_schema_opens_and_keeps_its_records(tmp_path):
    """Ledgers written by 0.1 gain the new columns in place; their records read as before."""
    import sqlite3

    path = tmp_path / "old.ledger.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE items (key TEXT PRIMARY KEY, kind TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,"
        " parent TEXT, status TEXT NOT NULL, look_id TEXT, group_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
        " error_code TEXT, error_message TEXT, error_source TEXT, spec_hash TEXT NOT NULL, idempotency_key TEXT,"
        " generation INTEGER NOT NULL DEFAULT 0, consent_url TEXT, preview_image_url TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
        "INSERT INTO items (key, kind, type, name, status, look_id, spec_hash, created_at, updated_at)"
        " VALUES ('ava', 'avatar', 'photo', 'Ava', 'succeeded', 'look_1', 'h', 't', 't');"
        "PRAGMA user_version=1;"
    )
    db.close()
    book = Ledger(path)
    record = book.records()["ava"]
    assert (record.status, record.look_id, record.supported_api_engines, record.sent_at) == (
        "succeeded",
        "look_1",
        None,
        None,
    )
    book.update(record, supported_api_engines=["avatar_iv", "avatar_v"])
    book.close()
    assert Ledger(path).records()["ava"].supported_api_engines == ["avatar_iv", "avatar_v"]


def test_a_refusal_of_the_account_in_a_schema_2_ledger_is_retried_once_the_account_is_right(tmp_path):
    """Schema 2 recorded a 402 as HeyGen's word on the item; read as it is (plan) or migrated (run),
    it is the account's refusal: the next run tries again, while a refused item stays refused."""
    import sqlite3

    from batchavatars.planner import build_plan

    from .specs import avatar

    path = tmp_path / "two.ledger.db"
    book = Ledger(path)
    for key, code in (("ava", "insufficient_credit"), ("bob", "invalid_parameter")):
        spec = avatar(key)
        rec = Record(key, "avatar", "photo", spec.name, None, "failed", spec.spec_hash, error_code=code)
        rec.error_source = "heygen"
        book.put(rec)
    book.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    specs = [avatar("ava"), avatar("bob")]
    readonly = Ledger(path, create=False, readonly=True)
    actions = {k: s.action for k, s in build_plan(specs, readonly.records()).steps.items()}
    readonly.close()
    assert actions == {"ava": "retry", "bob": "skip"}
    migrated = Ledger(path).records()
    assert (migrated["ava"].error_source, migrated["bob"].error_source) == ("account", "heygen")
