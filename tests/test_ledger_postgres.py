"""What only the PostgreSQL ledger has: its extra, its URL (and a password kept out of every message),
a server it may fail to reach or lose, tables it makes itself, and a lock row that may outlive its
session. The contract it shares with SQLite is tests/test_ledger_contract.py."""

from __future__ import annotations

import sys
import threading

import pytest

from batchavatars.errors import LedgerError
from batchavatars.ledger import PostgresLedger
from batchavatars.ledger._postgres import SCHEMA_VERSION, lock_key, shown_url
from batchavatars.records import Record

from .pg import cluster_of, free_port
from .test_ledger_contract import PostgresBackend, holding_child


def rec(key: str = "ava") -> Record:
    return Record(key=key, kind="avatar", type="photo", name="Ava", parent=None, status="pending", spec_hash="h")


def test_without_the_extra_a_postgresql_url_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` raises ImportError
    with pytest.raises(LedgerError) as refused:
        PostgresLedger("postgresql://ci:s3cret@db.example.com/heygen", "team")
    message = str(refused.value)
    assert "the PostgreSQL ledger needs the postgres extra. Fix: pip install 'batchavatars[postgres]'" in message
    assert message.startswith("postgresql://ci@db.example.com/heygen#team:") and "s3cret" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ci:s3cret@db:5432/heygen?sslmode=require", "postgresql://ci@db:5432/heygen?sslmode=require"),
        ("postgresql://ci@db/heygen?password=s3cret&sslmode=require", "postgresql://ci@db/heygen?sslmode=require"),
        ("postgresql://db1:5432,db2:5432/heygen", "postgresql://db1:5432,db2:5432/heygen"),
        ("host=db dbname=heygen password='s3 cret' user=ci", "host=db dbname=heygen  user=ci"),
    ],
)
def test_the_shown_url_never_carries_a_password(url, shown):
    assert shown_url(url) == shown


def test_a_server_not_there_is_one_error_naming_the_url_without_its_password():
    port = free_port()
    with pytest.raises(LedgerError) as refused:
        PostgresLedger(f"postgresql://ci:s3cret@127.0.0.1:{port}/heygen", "team")
    message = str(refused.value)
    assert message.startswith(f"postgresql://ci@127.0.0.1:{port}/heygen#team: ")
    assert "cannot connect to the PostgreSQL ledger (" in message and "refused" in message.lower()
    assert "s3cret" not in message and "\n" not in message


def test_a_url_libpq_cannot_parse_is_refused_without_its_password():
    with pytest.raises(LedgerError, match=r"^postgresql://ci@\[db#team: cannot connect .*IPv6") as refused:
        PostgresLedger("postgresql://ci:s3cret@[db", "team")
    assert "s3cret" not in str(refused.value)


def test_a_missing_database_or_user_is_libpqs_reason_in_one_error(postgres_url):
    base = postgres_url.rsplit("/", 1)[0]
    with pytest.raises(LedgerError, match=r'cannot connect .*database "nowhere" does not exist'):
        PostgresLedger(f"{base}/nowhere", "team")
    nobody = postgres_url.replace("batchavatars@", "nobody:pw-123@")
    with pytest.raises(LedgerError, match=r'role "nobody" does not exist') as refused:
        PostgresLedger(nobody, "team")
    assert "pw-123" not in str(refused.value)


def test_a_lost_server_session_is_a_ledger_error_not_a_traceback(postgres_url):
    import psycopg

    book = PostgresLedger(postgres_url, "lost")
    pid = book._db.info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(LedgerError, match=r"#lost: lost the PostgreSQL ledger \(.*\)\. Fix: check the server"):
        book.put(rec())


def test_two_first_runs_at_once_make_the_tables_once(postgres_url):
    url = cluster_of(postgres_url).create_database()
    start, errors = threading.Barrier(6), []

    def first_run(n: int) -> None:
        start.wait()
        try:
            PostgresLedger(url, f"team-{n % 2}").put(rec(f"k{n}"))
        except Exception as exc:  # collected, and shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=first_run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    import psycopg

    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM batchavatars_schema").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("SELECT workspace FROM batchavatars_workspaces ORDER BY 1").fetchall() == [
            ("team-0",),
            ("team-1",),
        ]
    assert sorted(PostgresLedger(url, "team-1").records()) == ["k1", "k3", "k5"]


def test_a_read_only_opening_makes_nothing_in_an_empty_database(postgres_url):
    import psycopg

    url = cluster_of(postgres_url).create_database()
    for kwargs in ({"readonly": True}, {"create": False}, {"readonly": True, "create": True}):
        with pytest.raises(LedgerError, match=r"no ledger here yet \(no batchavatars tables in this database\)"):
            PostgresLedger(url, "team", **kwargs)
    with psycopg.connect(url) as db:
        assert db.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'batchavatars%'").fetchone() == (0,)


def test_the_holder_is_recorded_while_held_and_forgotten_after(postgres_url):
    import psycopg

    book = PostgresLedger(postgres_url, "held")
    with psycopg.connect(postgres_url) as db:
        query = "SELECT command, backend_pid IN (SELECT pid FROM pg_stat_activity) FROM batchavatars_locks WHERE workspace='held'"
        with book.exclusive(command="batchavatars run team.yaml"):
            assert db.execute(query).fetchall() == [("batchavatars run team.yaml", True)]
            db.rollback()
        assert db.execute(query).fetchall() == []


def test_a_stale_holder_row_is_named_as_such(postgres_url):
    """A killed run leaves its row; should another session hold the lock before writing its own, the
    refusal says the named run's session has ended rather than blame it."""
    import psycopg

    place = PostgresBackend(postgres_url)
    place.open().close()
    child = holding_child(place)
    child.kill()
    child.wait(10)
    with psycopg.connect(postgres_url, autocommit=True) as other:
        key = lock_key(f"batchavatars:{place.workspace}")
        other.execute("SELECT pg_advisory_lock(%s)", (key,))  # waits for the killed child's session to end
        with pytest.raises(LedgerError) as refused, place.open().exclusive(timeout=0.3):
            pass
    message = str(refused.value)
    assert f"(pid {child.pid} on " in message and "running the child" in message
    assert "that run's database session has ended" in message


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_the_server_its_tests_skip_but_fail_under_ci(monkeypatch, ci):
    from . import pg

    monkeypatch.setattr(pg, "server_bindir", lambda: None)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match=r"PostgreSQL's server \(initdb, pg_ctl\) not found") as stopped:
        next(pg.postgres_cluster())
    assert ("under CI=true" in str(stopped.value)) == bool(ci)


def test_a_read_only_opening_is_read_only_on_the_server_and_may_still_hold_the_lock(postgres_url):
    PostgresLedger(postgres_url, "ro").put(rec())
    reader = PostgresLedger(postgres_url, "ro", readonly=True)
    assert reader._db.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    assert reader._db.execute("SHOW tcp_keepalives_idle").fetchone() == ("30",)
    writer = PostgresLedger(postgres_url, "ro")
    with (
        reader.exclusive(command="batchavatars report"),
        pytest.raises(LedgerError, match="holds this workspace"),
        writer.exclusive(),
    ):
        pass
