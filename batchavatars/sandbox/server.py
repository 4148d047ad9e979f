"""Running the sandbox: uvicorn on loopback, in a background thread or in a child process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import httpx
import uvicorn

from ._policy import ConnectionDropped
from .app import SandboxApp
from .config import SandboxConfig

STARTUP_TIMEOUT = 30.0
World = str | os.PathLike[str] | None  # a world file (see _world.py), or None for none


class SandboxHandle:
    """A running sandbox, reached over HTTP whether it runs in this process or another."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = httpx.Client(base_url=url, trust_env=False, timeout=30.0)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stats(self) -> dict[str, Any]:
        """= GET {url}/_sandbox/stats."""
        return self._call("GET", "/_sandbox/stats")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change config fields at runtime; returns the whole new config. ValueError if refused."""
        return self._call("POST", "/_sandbox/config", json=changes)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/config")

    def reset(self) -> None:
        """Forget every avatar, asset, key and counter; the config stays. A saved world starts
        anew, under a new id."""
        self._call("POST", "/_sandbox/reset")

    def world(self) -> dict[str, Any]:
        """= GET {url}/_sandbox/world: {"id", "path", "loaded", "reason"}; id and path None
        when the sandbox keeps no world file."""
        return self._call("GET", "/_sandbox/world")

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._client.request(method, path, **kwargs)
        if response.status_code == 400:
            raise ValueError(response.json()["error"]["message"])
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@contextlib.contextmanager
def serve(config: SandboxConfig | None = None, world: World = None) -> Iterator[SandboxHandle]:
    """Run the sandbox in a background thread of this process until the block ends.

    `world`: a file to load the account's avatars, assets and replayable answers from (a new
    world if it holds none) and to save them to after every change; see _world.py.
    """
    server = _ThreadedServer(config or SandboxConfig(), world)
    server.start()
    handle = SandboxHandle(server.url)
    try:
        yield handle
    finally:
        handle.close()
        server.stop()


@contextlib.contextmanager
def serve_in_process(config: SandboxConfig | None = None, world: World = None) -> Iterator[SandboxHandle]:
    """Run the sandbox in a child process (spawned), so its CPU time is not the caller's.
    `world` as for `serve`.

    A caller run as a script must guard its entry point with `if __name__ == "__main__":`,
    as spawn re-imports the main module.
    """
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(
        target=_process_main, args=(config or SandboxConfig(), world, theirs), name="batchavatars-sandbox", daemon=True
    )
    process.start()
    theirs.close()
    try:
        if not ours.poll(STARTUP_TIMEOUT):
            raise RuntimeError(f"the sandbox process did not start within {STARTUP_TIMEOUT:g} s")
        try:
            kind, value = ours.recv()
        except EOFError:
            raise RuntimeError(f"the sandbox process died on startup (exit code {process.exitcode})") from None
        if kind != "ready":
            raise RuntimeError(f"the sandbox process failed to start: {value}")
        handle = SandboxHandle(value)
        try:
            yield handle
        finally:
            handle.close()
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(2)
        if process.is_alive():
            process.kill()
            process.join()
        ours.close()


def run_forever(
    config: SandboxConfig | None = None, on_ready: Callable[[SandboxHandle], None] | None = None, world: World = None
) -> None:
    """Serve until Ctrl-C. `on_ready` gets the handle once connections are accepted (to print the URL)."""
    with serve(config, world) as handle:
        if on_ready is not None:
            on_ready(handle)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _process_main(config: SandboxConfig, world: World, conn: Connection) -> None:
    try:
        server = _ThreadedServer(config, world)
        server.start()
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    try:
        conn.send(("ready", server.url))
        conn.recv()  # "stop"; EOFError when the parent went away
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        server.stop()


class _Server(uvicorn.Server):
    """uvicorn.Server that stops as soon as it is told to.

    uvicorn's own loop polls for exit every 0.1 s and waits out in-flight requests; tests start
    many sandboxes and some hold deliberately slow requests, so stopping cancels them instead.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(ticks):  # on_tick refreshes the Date header every 10 ticks
            ticks += 10
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for task in list(self.server_state.tasks):
            task.cancel()
        await asyncio.sleep(0)

    def request_stop(self) -> None:
        self.should_exit = True
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(self._wake.set)


class _QuietAborts(logging.Filter):
    """Drops uvicorn's tracebacks for requests the sandbox ends on purpose (stop, drop faults)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, (asyncio.CancelledError, ConnectionDropped))


_uvicorn_logger = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _QuietAborts) for f in _uvicorn_logger.filters):
    _uvicorn_logger.addFilter(_QuietAborts())


class _ThreadedServer:
    def __init__(self, config: SandboxConfig, world: World = None) -> None:
        self.app = SandboxApp(config, world)
        self._socket = _listen(config.host, config.port)
        host, port = self._socket.getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        uv_config = uvicorn.Config(
            self.app,
            http="h11",
            ws="none",
            loop="asyncio",
            lifespan="off",
            log_config=None,  # leave the host program's logging alone
            log_level="warning",
            access_log=False,
        )
        self._server = _Server(uv_config)
        self._thread = threading.Thread(target=self._run, name=f"batchavatars-sandbox-{port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"the sandbox failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start within {STARTUP_TIMEOUT:g} s")
            time.sleep(0.001)

    def stop(self) -> None:
        self._server.request_stop()
        self._thread.join(10)
        self._socket.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "localhost":
        host = "127.0.0.1"
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says
    # TCP, and without it every response waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock
