"""Local files become asset ids: hashed once, uploaded once per content (the ledger remembers
asset ids by SHA-256, across items and across runs), streamed, never read whole into memory.

At HeyGen's limits (API notes, "Direct uploads"): multipart below 32,000,000 bytes, else a
direct-upload ticket whose `max_bytes` is checked before a byte is sent, the PUT signed as HeyGen's
own uploader signs it (`upload_headers` verbatim, the ticket's `content_type` where they name
none); `/complete` may answer 409 for a while after the PUT (retried); an upload URL that was
refused or expired is replaced by a new ticket under a new Idempotency-Key (a replay of the old key
returns the expired URL for 24 hours).

An asset is used only once HeyGen reports it `completed`, where HeyGen reports it: the answer of
`/complete`, else `GET /v3/assets/statuses`, polled for every asset in flight at once (`Readiness`).
`failed` fails the items that use it, naming the file; `not_found` (an asset lost after its upload)
means uploading it again, under a new key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .apierrors import no_route
from .client import ASSET_IDS_MAX, CHUNK, MULTIPART_LIMIT, HeyGenClient
from .ledger import LedgerStore
from .payload import KEY_PREFIX
from .records import ErrorSource
from .requester import Abandoned, ItemFailed, Requester

TICKETS = 3  # a refused upload URL is replaced this many times at most
UPLOADS = 3  # an asset HeyGen lost (not_found) is uploaded again this many times at most
READY_POLL = (0.5, 1.5, 5.0)  # first wait, factor, longest wait while assets are processing
# Past this, an item gives up waiting for its asset (it is retried by the next run, which finds the
# upload in the ledger and waits on): hours of footage can take a while, a stuck asset should not.
READY_WAIT_MAX = 1800.0
WAITING = frozenset({"queued", "processing", "pending", "pending_upload"})  # not ready yet, not failed


class AssetStore:
    """Owns the asset ids this run knows (by path and by content), their readiness and the upload count."""

    def __init__(self, ledger: LedgerStore, client: HeyGenClient, requests: Requester) -> None:
        self._ledger = ledger
        self._client = client
        self._requests = requests
        self._by_path: dict[str, str] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.readiness = Readiness(client, requests)
        self.uploaded = 0

    async def asset_id(self, path: str, sha256: str | None = None) -> str:
        """The id of a completed asset holding this file. `sha256`: the content hash the manifest took
        when it loaded the file (the one the item's spec and key were made from); hashed here only
        when not given."""
        if path in self._by_path:
            return self._by_path[path]
        async with self._locks.setdefault(path, anyio.Lock()):
            if path in self._by_path:
                return self._by_path[path]
            file = Path(path)
            sha: str = sha256 if sha256 else await anyio.to_thread.run_sync(file_sha256, file)
            async with self._locks.setdefault("sha:" + sha, anyio.Lock()):  # two paths, same bytes: one upload
                asset = await self._completed(file, sha)
            self._by_path[path] = asset
            return asset

    async def _completed(self, file: Path, sha: str) -> str:
        """An asset of this content that HeyGen reports completed: the ledger's (from this run or an
        earlier one), else a new upload, recorded the moment it exists so that an interrupted run
        waits on it instead of uploading the footage again."""
        for again in range(UPLOADS):
            asset = self._ledger.asset(sha)
            if asset is None:
                size = file.stat().st_size
                asset, status = await (
                    self._multipart(file, sha, again)
                    if size < MULTIPART_LIMIT
                    else self._direct(file, sha, size, again)
                )
                self._ledger.put_asset(sha, asset, size)
                self.uploaded += 1
                self.readiness.known(asset, status)
            outcome = await self.readiness.wait(asset)
            if outcome.status == "completed":
                return asset
            if outcome.status == "failed":
                reason = f": {outcome.message}" if outcome.message else ""
                raise ItemFailed(
                    "asset_failed",
                    f"{file}: HeyGen could not process the upload{reason}. Fix: check the file plays and is a "
                    "supported format, or give it as a URL",
                    ErrorSource.HEYGEN,
                    param="file",
                )
            self._ledger.forget_asset(sha)  # not_found: HeyGen lost it; upload it again, under a new key
        raise ItemFailed("asset_not_found", f"{file}: HeyGen lost the upload {UPLOADS} times", ErrorSource.TRANSPORT)

    async def _multipart(self, file: Path, sha: str, again: int) -> tuple[str, str | None]:
        upload = partial(self._client.upload_multipart, file, content_type_for(file), _key(sha, again, 0))
        return await self._requests.call(upload, what=f"upload {file.name}"), None  # the answer states no status

    async def _direct(self, file: Path, sha: str, size: int, again: int) -> tuple[str, str | None]:
        content_type = content_type_for(file)
        last: ItemFailed | None = None
        for n in range(TICKETS):
            key = _key(sha, again, n)
            try:
                ticket: dict[str, Any] = await self._requests.call(
                    partial(self._client.direct_upload_ticket, file, content_type, size, sha, key),
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
                    partial(self._client.put_upload, ticket, file, size, content_type), what=f"upload {file.name}"
                )
            except ItemFailed as refused:
                done = await self._complete(asset, sha, file, quiet=True)
                if done is None:
                    last = refused  # expired or refused URL: a new ticket, under a new key
                    continue
                return asset, done  # a replayed ticket whose upload was already finished
            return asset, await self._complete(asset, sha, file)
        assert last is not None
        raise ItemFailed(last.code, f"{file}: the upload URL refused the file {TICKETS} times", ErrorSource.TRANSPORT)

    async def _complete(self, asset: str, sha: str, file: Path, *, quiet: bool = False) -> str | None:
        """/complete, and the status its answer states (None where it states none). `quiet`: a
        refusal is None rather than the item's failure."""
        try:
            answer = await self._requests.call(
                partial(self._client.complete_upload, asset, sha), what=f"complete {file.name}"
            )
        except ItemFailed:
            if quiet:
                return None
            raise
        status = answer.get("status")
        return str(status) if isinstance(status, str) else ""


@dataclass(slots=True)
class Outcome:
    """How an asset ended up, as HeyGen reported it: completed, failed (with its message) or not_found."""

    status: str
    message: str | None = None


@dataclass(slots=True)
class _Watched:
    since: float
    outcome: Outcome | None = None
    error: ItemFailed | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


class Readiness:
    """The assets still processing on HeyGen's side, watched together: one GET /v3/assets/statuses
    call (up to 100 ids, paged) tells every upload in flight at once, on a back-off that grows while
    nothing changes. Whoever waits first does the polling for all; the others are woken by it."""

    def __init__(self, client: HeyGenClient, requests: Requester) -> None:
        self._client = client
        self._requests = requests
        self._watched: dict[str, _Watched] = {}
        self._ready: set[str] = set()  # completed, as seen this run: never asked about again
        self._polling = False
        self._changed = anyio.Event()
        self._unsupported = False  # the server has no statuses route: the create will tell

    def known(self, asset: str, status: str | None) -> None:
        """What an upload's answer said (None or "": nothing); `completed` needs no poll at all."""
        if status == "completed":
            self._ready.add(asset)
        elif status == "failed":
            self._watched[asset] = _Watched(anyio.current_time(), Outcome("failed"))

    async def wait(self, asset: str) -> Outcome:
        if asset in self._ready or self._unsupported:
            return Outcome("completed")
        watched = self._watched.setdefault(asset, _Watched(anyio.current_time()))
        while watched.outcome is None and watched.error is None:
            if self._requests.stopping:
                raise Abandoned(sent=False)
            if self._polling:
                await self._changed.wait()  # another waiter polls for this one too
            else:
                await self._poll_until_changed()
        self._watched.pop(asset, None)
        if watched.error is not None:
            raise watched.error
        assert watched.outcome is not None
        return watched.outcome

    async def _poll_until_changed(self) -> None:
        self._polling = True
        wait, factor, longest = READY_POLL
        try:
            while not self._requests.stopping:
                await anyio.sleep(wait)
                if await self._poll():
                    return
                wait = min(longest, wait * factor)
        finally:
            self._polling = False
            self._changed.set()
            self._changed = anyio.Event()

    async def _poll(self) -> bool:
        """One look at every asset waited on; True when any of them came to an end."""
        pending = [asset for asset, w in self._watched.items() if w.outcome is None and w.error is None]
        try:
            rows = await self._statuses(pending)
        except ItemFailed as failure:
            self._poll_failed(pending, failure)
            return True
        now = anyio.current_time()
        ended = [self._settle(asset, rows.get(asset), now) for asset in pending]
        return any(ended)

    def _poll_failed(self, pending: list[str], failure: ItemFailed) -> None:
        if failure.error is not None and no_route(failure.error):
            self._unsupported = True  # a server without the route: use the assets, the create will tell
            for asset in pending:
                self._watched[asset].outcome = Outcome("completed")
            return
        for asset in pending:
            self._watched[asset].error = failure

    def _settle(self, asset: str, row: dict[str, Any] | None, now: float) -> bool:
        """Apply what the statuses call said of one asset; True when it came to an end."""
        watched = self._watched[asset]
        watched.outcome = _outcome(row)
        if watched.outcome is None:
            if now - watched.since < READY_WAIT_MAX:
                return False
            message = f"the upload was still processing on HeyGen after {READY_WAIT_MAX:.0f} s; the next run waits on"
            watched.error = ItemFailed("asset_not_ready", message, ErrorSource.TRANSPORT)
        elif watched.outcome.status == "completed":
            self._ready.add(asset)
        return True

    async def _statuses(self, assets: list[str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(assets), ASSET_IDS_MAX):
            chunk, token = assets[start : start + ASSET_IDS_MAX], None
            while True:
                page = await self._requests.call(
                    partial(self._client.asset_statuses, chunk, token=token), what="asset statuses", background=True
                )
                rows.update((str(row.get("video_id")), row) for row in page.items)
                token = page.next_token
                if not token:
                    break
        return rows


def _outcome(row: dict[str, Any] | None) -> Outcome | None:
    """An end HeyGen reports for an asset, or None while it still processes (or says nothing)."""
    status = row.get("status") if row else None
    if status in ("completed", "not_found"):
        return Outcome(str(status))
    if status == "failed":
        error = row.get("error") if row else None
        message = error.get("message") if isinstance(error, dict) else None
        return Outcome("failed", str(message) if message else None)
    return None  # queued, processing, a state this client does not know, or missing from the answer: not yet


def _limit_in(message: str, size: int) -> int | None:
    """The byte limit a refusal names in its message, if it names one."""
    numbers = [int(n) for n in re.findall(r"\d{4,}", message.replace(",", "")) if int(n) != size]
    return max(numbers) if numbers else None


def _key(sha: str, again: int, ticket: int) -> str:
    """`again`: how many times HeyGen lost this content's upload before (a replay of the old key
    would answer with the lost asset); `ticket`: how many upload URLs were refused."""
    return f"{KEY_PREFIX}.asset.{sha[:48]}" + (f".r{again}" if again else "") + (f".t{ticket}" if ticket else "")


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
