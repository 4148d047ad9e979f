"""`report --embed-previews`: fetch each look's preview once, cache the bytes by look id beside the
ledger, and hand the report data: URIs, so it shows the pictures offline and after the URLs expire.

Failures are tolerated (the report shows a placeholder); no credential is ever sent: previews are
plain public URLs, fetched without the API key."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

from ..records import Record

MAX_BYTES = 2 * 1024 * 1024  # one preview; a larger one is left out (placeholder), not truncated
CONCURRENCY = 8
TIMEOUT = 10.0  # seconds per preview, connect to last byte

TYPES = {  # extension of the cached file ↔ media type
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "avif": "image/avif",
}
EXT_OF = {media: ext for ext, media in TYPES.items()}
SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


@dataclass
class Previews:
    """What an embedding pass found: data: URIs by look id, and the look ids it could not get."""

    uris: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # look id -> why
    fetched: int = 0  # downloaded this time (the rest came from the cache)

    def describe(self) -> str:
        return (
            f"previews: {len(self.uris)} embedded ({self.fetched} downloaded), "
            f"{len(self.failed)} unavailable (shown as placeholders)"
        )


def embed_previews(
    records: Iterable[Record], cache_dir: Path, *, concurrency: int = CONCURRENCY, timeout: float = TIMEOUT
) -> Previews:
    return anyio.run(_embed, list(records), cache_dir, concurrency, timeout)


async def embed_previews_async(
    records: Iterable[Record], cache_dir: Path, *, concurrency: int = CONCURRENCY, timeout: float = TIMEOUT
) -> Previews:
    """`embed_previews` for a caller already in an event loop (a run, before its sandbox stops)."""
    return await _embed(list(records), cache_dir, concurrency, timeout)


async def _embed(records: list[Record], cache_dir: Path, concurrency: int, timeout: float) -> Previews:
    out = Previews()
    wanted: dict[str, str] = {}
    for r in records:
        url = (r.preview_image_url or "").strip()
        if not r.look_id or not url or url.lower().startswith("data:"):
            continue  # nothing to fetch: no look yet, or the ledger already holds the picture
        if not SAFE_ID.match(r.look_id):
            out.failed[r.look_id] = "look id unfit for a file name"
        elif url.lower().startswith(("http://", "https://")):
            wanted.setdefault(r.look_id, url)
    limiter = anyio.CapacityLimiter(concurrency)
    client = httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=5)
    async with client, anyio.create_task_group() as tg:
        for look_id, url in wanted.items():
            tg.start_soon(_one, client, limiter, cache_dir, look_id, url, timeout, out)
    return out


async def _one(
    client: httpx.AsyncClient,
    limiter: anyio.CapacityLimiter,
    cache_dir: Path,
    look_id: str,
    url: str,
    timeout: float,
    out: Previews,
) -> None:
    cached = cached_preview(cache_dir, look_id)
    if cached:
        out.uris[look_id] = _data_uri(*cached)
        return
    async with limiter:
        try:
            with anyio.fail_after(timeout):  # a server dripping bytes must not hold the report up
                media, body = await _fetch(client, url)
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            out.failed[look_id] = str(exc) or type(exc).__name__
            return
    _store(cache_dir, look_id, media, body)
    out.uris[look_id] = _data_uri(media, body)
    out.fetched += 1


async def _fetch(client: httpx.AsyncClient, url: str) -> tuple[str, bytes]:
    async with client.stream("GET", url) as resp:
        if resp.status_code != 200:
            raise ValueError(f"HTTP {resp.status_code}")
        declared = int(resp.headers.get("content-length") or 0)
        if declared > MAX_BYTES:
            raise ValueError(f"{declared} bytes, over the {MAX_BYTES}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValueError(f"over the {MAX_BYTES}-byte cap")
            chunks.append(chunk)
    body = b"".join(chunks)
    media = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in EXT_OF:
        media = sniff(body) or ""
    if media not in EXT_OF:
        raise ValueError("not an image")
    return media, body


def sniff(body: bytes) -> str | None:
    """The media type from the first bytes, for servers that send none (or a generic one)."""
    head = body[:256].lstrip()
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in body[:1024]):
        return "image/svg+xml"
    return None


def cached_preview(cache_dir: Path, look_id: str) -> tuple[str, bytes] | None:
    for ext, media in TYPES.items():
        path = cache_dir / f"{look_id}.{ext}"
        if path.is_file():
            return media, path.read_bytes()
    return None


def _store(cache_dir: Path, look_id: str, media: str, body: bytes) -> None:
    path = cache_dir / f"{look_id}.{EXT_OF[media]}"
    tmp = path.with_name(path.name + ".part")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(body)
        tmp.replace(path)  # whole or absent: a half-written preview is never read back
    except OSError:
        pass  # an unwritable cache costs a download next time, not this report


def _data_uri(media: str, body: bytes) -> str:
    return f"data:{media};base64,{base64.b64encode(body).decode()}"
