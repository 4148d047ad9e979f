"""Local files become asset ids: hashed once, uploaded once per content (the ledger remembers
asset ids by SHA-256, across items and across runs), streamed, never read whole into memory.

At HeyGen's limits (shared notes, "Direct uploads"): multipart below 32,000,000 bytes, else a
direct-upload ticket whose `max_bytes` is checked before a byte is sent; `/complete` may answer 409
for a while after the PUT (retried); an upload URL that was refused or expired is replaced by a new
ticket under a new Idempotency-Key (a replay of the old key returns the expired URL for 24 hours);
and an asset is used only once HeyGen reports it `completed`.
"""

from __future__ import annotations

import hashlib
import re
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .client import CHUNK, MULTIPART_LIMIT, HeyGenClient
from .ledger import Ledger
from .payload import KEY_PREFIX
from .records import ErrorSource
from .requester import ItemFailed, Requester

TICKETS = 3  # a refused upload URL is replaced this many times at most
READY_POLL = (0.5, 1.5, 5.0)  # first wait, factor, longest wait while an asset is processing
READY_WAIT_MAX = 600.0  # an asset processing longer than this fails its item (footage of hours is not)


class AssetStore:
    """Owns the asset ids this run knows (by path and by content) and the upload count."""

    def __init__(self, ledger: Ledger, client: HeyGenClient, requests: Requester) -> None:
        self._ledger = ledger
        self._client = client
        self._requests = requests
        self._by_path: dict[str, str] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.uploaded = 0

    async def asset_id(self, path: str, sha256: str | None = None) -> str:
        """`sha256`: the content hash the manifest took when it loaded the file (the one the item's
        spec and key were made from); hashed here only when not given."""
        if path in self._by_path:
            return self._by_path[path]
        lock = self._locks.setdefault(path, anyio.Lock())
        async with lock:
            if path in self._by_path:
                return self._by_path[path]
            file = Path(path)
            sha: str = sha256 if sha256 else await anyio.to_thread.run_sync(file_sha256, file)
            async with self._locks.setdefault("sha:" + sha, anyio.Lock()):  # two paths, same bytes: one upload
                asset = self._ledger.asset(sha)
                if asset is None:
                    size = file.stat().st_size
                    asset = await (
                        self._multipart(file, sha) if size < MULTIPART_LIMIT else self._direct(file, sha, size)
                    )
                    await self._ready(asset, file)
                    self._ledger.put_asset(sha, asset, size)
                    self.uploaded += 1
            self._by_path[path] = asset
            return asset

    async def _multipart(self, file: Path, sha: str) -> str:
        upload = partial(self._client.upload_multipart, file, content_type_for(file), _key(sha, 0))
        return await self._requests.call(upload, what=f"upload {file.name}")

    async def _direct(self, file: Path, sha: str, size: int) -> str:
        last: ItemFailed | None = None
        for n in range(TICKETS):
            key = _key(sha, n)
            try:
                ticket: dict[str, Any] = await self._requests.call(
                    partial(self._client.direct_upload_ticket, file, content_type_for(file), size, sha, key),
                    what=f"upload ticket {file.name}",
                )
            except ItemFailed as refused:
                if refused.param == "size_bytes":  # a server that refuses the ticket instead of capping it
                    _check_size(file, size, _limit_in(refused.message, size) or size - 1)
                raise
            _check_size(file, size, ticket.get("max_bytes"))
            asset = str(ticket["asset_id"])
            try:
                await self._requests.call(
                    partial(self._client.put_upload, ticket, file, size), what=f"upload {file.name}"
                )
            except ItemFailed as refused:
                if not await self._completes(asset, sha, key):
                    last = refused  # expired or refused URL: a new ticket, under a new key
                    continue
                return asset  # a replayed ticket whose upload was already finished
            await self._requests.call(
                partial(self._client.complete_upload, asset, sha, key), what=f"complete {file.name}"
            )
            return asset
        assert last is not None
        raise ItemFailed(last.code, f"{file}: the upload URL refused the file {TICKETS} times", ErrorSource.TRANSPORT)

    async def _completes(self, asset: str, sha: str, key: str) -> bool:
        try:
            await self._requests.call(partial(self._client.complete_upload, asset, sha, key), what="complete")
        except ItemFailed:
            return False
        return True

    async def _ready(self, asset: str, file: Path) -> None:
        """Wait until HeyGen has processed the asset: a create with an asset still processing is refused."""
        wait, factor, longest = READY_POLL
        waited = 0.0
        while True:
            try:
                state = await self._requests.call(partial(self._client.get_asset, asset), what="asset status")
            except ItemFailed as failure:
                if failure.status == 404 and waited == 0.0:
                    return  # a server without the asset status endpoint: the create will tell
                raise
            status = state.get("status")
            if status in (None, "completed"):
                return
            if status == "failed":
                raise ItemFailed("asset_failed", f"{file}: HeyGen could not process the upload", ErrorSource.HEYGEN)
            if waited >= READY_WAIT_MAX:
                raise ItemFailed(
                    "asset_not_ready", f"{file}: still {status} after {waited:.0f} s", ErrorSource.TRANSPORT
                )
            await anyio.sleep(wait)
            waited += wait
            wait = min(longest, wait * factor)


def _limit_in(message: str, size: int) -> int | None:
    """The byte limit a refusal names in its message, if it names one."""
    numbers = [int(n) for n in re.findall(r"\d{4,}", message.replace(",", "")) if int(n) != size]
    return max(numbers) if numbers else None


def _key(sha: str, ticket: int) -> str:
    return f"{KEY_PREFIX}.asset.{sha[:48]}" + (f".t{ticket}" if ticket else "")


def _check_size(file: Path, size: int, max_bytes: object) -> None:
    """Fail before a byte is sent: the ticket's cap is the cap for this upload."""
    if isinstance(max_bytes, int) and not isinstance(max_bytes, bool) and size > max_bytes:
        raise ItemFailed(
            "file_too_large",
            f"{file}: {size:,} bytes is over HeyGen's upload limit of {max_bytes:,} bytes. "
            "Fix: give the file as a URL, or a smaller encode",
            ErrorSource.HEYGEN,
            param="file",
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def content_type_for(path: Path) -> str:
    return {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".mp4": "video/mp4",
        ".webm": "video/webm",
    }.get(path.suffix.lower(), "application/octet-stream")
