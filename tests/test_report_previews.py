"""`report --embed-previews` against a real loopback server: each preview is fetched once, cached by
look id beside the ledger and inlined; what cannot be had becomes a placeholder, never an error; and
no API key travels with the request."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchavatars.cli import main
from batchavatars.ledger import Ledger
from batchavatars.presentation.report_previews import MAX_BYTES
from batchavatars.records import Record

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#c33"/></svg>'


class Server:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.keys: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                owner.hits[self.path] += 1
                owner.keys += [v for k, v in self.headers.items() if k.lower() in ("x-api-key", "authorization")]
                routes = {
                    "/ok.png": (200, "image/png", PNG),
                    "/plain.svg": (200, "application/octet-stream", SVG),  # sniffed
                    "/big.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * MAX_BYTES),
                    "/page": (200, "text/html", b"<html>not a picture</html>"),
                }
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/ok.png")
                    self.end_headers()
                    return
                status, media, body = routes.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", media)
                if self.path != "/big.png":  # the big one streams: the cap must hold without a length
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def look(key: str, url: str | None, look_id: str | None = None) -> Record:
    return Record(
        key=key,
        kind="avatar",
        type="photo",
        name=f"Name {key}",
        parent=None,
        status="succeeded",
        spec_hash="h",
        look_id=look_id or f"look_{key}",
        group_id=f"g_{key}",
        preview_image_url=url,
    )


def test_previews_are_fetched_once_cached_inlined_and_failures_are_placeholders(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", "sk-never-sent")
    records = [
        look("ok", f"{server.url}/ok.png"),
        look("twin", f"{server.url}/ok.png", look_id="look_ok"),  # same look id: one fetch
        look("svg", f"{server.url}/plain.svg"),
        look("moved", f"{server.url}/moved"),
        look("big", f"{server.url}/big.png"),
        look("page", f"{server.url}/page"),
        look("gone", f"{server.url}/missing"),
        look("inline", "data:image/png;base64,AAAA"),
        look("odd", f"{server.url}/ok.png", look_id="../../etc/passwd"),
    ]
    book = Ledger(tmp_path / "team.ledger.db")
    book.put_many(records)
    book.close()

    result = CliRunner().invoke(main, ["report", "--ledger", str(tmp_path / "team.ledger.db"), "--embed-previews"])
    assert result.exit_code == 0, result.output
    assert "3 embedded (3 downloaded), 4 unavailable" in result.stderr
    html = (tmp_path / "team.report.html").read_text()
    png_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert html.count(f'src="{png_uri}"') == 3  # ok, its twin and the redirected one
    assert "data:image/svg+xml;base64," + base64.b64encode(SVG).decode() in html
    assert f"{server.url}/big.png" in html  # too big: the page keeps the URL, unembedded
    assert 'src="data:image/png;base64,AAAA"' in html
    cache = tmp_path / "team.previews"
    assert sorted(p.name for p in cache.iterdir()) == ["look_moved.png", "look_ok.png", "look_svg.svg"]
    assert server.hits["/ok.png"] == 2 and server.hits["/big.png"] == 1  # /ok.png once, and once via /moved
    assert server.keys == []
    assert "../../etc" not in " ".join(p.name for p in tmp_path.parent.iterdir())

    again = CliRunner().invoke(main, ["report", "--ledger", str(tmp_path / "team.ledger.db"), "--embed-previews"])
    assert again.exit_code == 0 and "3 embedded (0 downloaded)" in again.stderr
    assert server.hits["/ok.png"] == 2 and server.hits["/plain.svg"] == 1  # served from the cache


def test_an_unreachable_preview_host_still_gives_a_report(tmp_path):
    book = Ledger(tmp_path / "t.ledger.db")
    book.put_many([look("a", "http://127.0.0.1:9/a.png")])  # port 9 (discard): refused at once
    book.close()
    result = CliRunner().invoke(main, ["report", "--ledger", str(tmp_path / "t.ledger.db"), "--embed-previews"])
    assert result.exit_code == 0, result.output
    assert "0 embedded (0 downloaded), 1 unavailable" in result.stderr
    assert Path(result.stdout.strip()).is_file()
