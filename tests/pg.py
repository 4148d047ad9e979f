"""A throwaway PostgreSQL cluster for the ledger's tests, made from the server's binaries (initdb,
pg_ctl) in a temporary folder, on a free loopback port, trusting its one user; stopped and removed
at the end of the session. Run as root, the server runs as the `postgres` user (it refuses root).

Without the binaries the tests that need it skip, saying so; under CI=true they fail instead
(`make test` installs the server where it can)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "batchavatars"
INSTALL = "apt-get install -y postgresql, or make test"


def server_bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's /usr/lib/postgresql/<newest>/bin, pg_config's bindir, PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )[::-1]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        candidates.append(Path(out.strip()))
    if found := shutil.which("initdb"):
        candidates.append(Path(found).parent)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


def unavailable(message: str) -> None:
    """Skip, saying why; under CI=true fail instead: there the PostgreSQL tests must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; under CI=true the PostgreSQL ledger's tests are required")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One postgres server, its data and socket in `folder`; `url` names its database `ledger`."""

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        """`durable`: the server's own defaults (fsync on), as a benchmark wants; the tests turn fsync
        off, as nothing they check survives the machine losing power."""
        self.bindir = bindir
        self.durable = durable
        self.folder = Path(tempfile.mkdtemp(prefix="batchavatars-pg-"))
        self.data = self.folder / "data"
        self.runas: list[str] = []
        self.port = 0
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self._run_as_postgres()

    def _run_as_postgres(self) -> None:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            self.remove()
            unavailable("running as root, and no `postgres` user to run the test server as")
            return
        os.chown(self.folder, account.pw_uid, account.pw_gid)
        runuser = shutil.which("runuser")
        self.runas = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]

    def _server(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.runas[-1:] == ["-c"]:  # su -c takes one line
            command = [" ".join(map(_quote, command))]
        return subprocess.run([*self.runas, *command], capture_output=True, text=True, timeout=120, cwd=self.folder)

    def start(self) -> str:
        done = self._server("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        for _ in range(5):  # a free port may be taken between asking and starting: try another
            self.port = free_port()
            options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            options += "" if self.durable else " -c fsync=off"
            log = str(self.folder / "server.log")
            done = self._server("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
            if done.returncode == 0:
                return self.create_database("ledger")
        raise RuntimeError(f"pg_ctl start failed: {done.stderr[-2000:]}{self.log()}")

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        done = subprocess.run(
            [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode:
            raise RuntimeError(f"createdb failed: {done.stderr}")
        return self.url(name)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return "\n" + (self.folder / "server.log").read_text()[-2000:]
        return ""

    def stop(self) -> None:
        if self.port:
            self._server("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


_clusters: dict[str, Cluster] = {}


def cluster_of(url: str) -> Cluster:
    """The cluster that serves `url`: for a test that needs a database of its own."""
    return _clusters[url]


def postgres_cluster() -> Iterator[str]:
    """The body of the session fixture `postgres_url` (conftest.py)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg not installed: the PostgreSQL ledger's tests need it (pip install -e '.[test]')")
        return
    bindir = server_bindir()
    if bindir is None:
        unavailable(
            f"PostgreSQL's server (initdb, pg_ctl) not found: the PostgreSQL ledger's tests need it ({INSTALL})"
        )
        return
    cluster = Cluster(bindir)
    try:
        url = cluster.start()
    except BaseException:
        cluster.stop()
        raise
    _clusters[url] = cluster
    try:
        yield url
    finally:
        del _clusters[url]
        cluster.stop()
