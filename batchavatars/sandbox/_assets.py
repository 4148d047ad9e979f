"""Uploaded assets. Only sizes and SHA-256 digests are kept: bytes are hashed and dropped.

An asset's status is derived on read, as `GET /v3/assets/statuses` reports it: `queued` until a
direct upload's `/complete`, then `processing` for the account's `asset_processing_seconds`
from that call (or from a multipart upload), then `completed`, or `failed` for a doomed one. A
lost asset is gone from the account once its processing is over. Its fate (doomed, lost) is
fixed when its id is made, from the `failed_assets` and `lost_assets` settings of that moment.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from typing import Any

from ._records import Cached, Record, compact, json_array

# "At most 32 MB", read the strict way: decimal megabytes, and only files below it are taken.
MULTIPART_LIMIT_BYTES = 32_000_000
ASSET_URL = "https://sandbox.heygen.local/assets/{id}"

_EXTENSIONS = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "pdf": "application/pdf",
    "srt": "application/x-subrip",
}
_ALLOWED = frozenset(_EXTENSIONS.values())
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "text/srt": "application/x-subrip",
    "application/srt": "application/x-subrip",
}


def resolve_mime(content_type: str | None, filename: str | None) -> str | None:
    """The allowed MIME type named by the content type, else by the file extension; None if neither."""
    if content_type:
        base = content_type.split(";", 1)[0].strip().lower()
        base = _ALIASES.get(base, base)
        if base in _ALLOWED:
            return base
    if filename and "." in filename:
        return _EXTENSIONS.get(filename.rsplit(".", 1)[1].lower())
    return None


def media_class(mime_type: str) -> str:
    return mime_type.split("/", 1)[0]  # "image", "video", "audio", "application"


@dataclass(slots=True, eq=False)
class Asset(Cached):
    id: str
    mime_type: str
    filename: str
    ready_at: float | None = None  # None: not uploaded (or completed) yet
    uploaded_at: int | None = None  # unix seconds of the upload or the /complete call
    doomed: bool = False  # processing ends `failed`
    lost: bool = False  # gone from the account once processing is over
    size_bytes: int | None = None  # of the bytes actually received
    sha256: str | None = None
    # Direct uploads only:
    content_type: str | None = None  # the Content-Type the PUT must carry verbatim
    declared_size: int | None = None
    declared_sha256: str | None = None
    signature: str | None = None
    expires_at: float | None = None
    max_bytes: int | None = None  # the ticket's cap
    complete_calls: int = 0
    saved_json: bytes | None = field(default=None, init=False, repr=False)  # see Cached

    @property
    def finished(self) -> bool:
        """Uploaded and completed (maybe still processing): no more bytes are taken."""
        return self.ready_at is not None

    def start_processing(self, now: float, seconds: float) -> None:
        self.ready_at = now + seconds
        self.uploaded_at = int(time.time())

    def status(self, now: float) -> str:
        """queued | processing | completed | failed (a lost asset completed, then the account lost it)."""
        if self.ready_at is None:
            return "queued"
        if now < self.ready_at:
            return "processing"
        return "failed" if self.doomed else "completed"

    def error_json(self, now: float) -> dict[str, str] | None:
        if self.status(now) != "failed":
            return None
        message = f"asset {self.id!r} ({self.filename}) failed processing: upload the file again"
        return {"code": "asset_processing_failed", "message": message}

    def gone(self, now: float) -> bool:
        return self.lost and self.ready_at is not None and now >= self.ready_at

    def to_json(self) -> dict[str, Any]:
        """The upload answer's shape."""
        return {
            "asset_id": self.id,
            "url": ASSET_URL.format(id=self.id),
            "mime_type": self.mime_type,
            "size_bytes": self.size,
        }

    def metadata_json(self) -> dict[str, Any]:
        """GET /v3/assets/{id}'s shape: what the asset is, never whether it is ready."""
        return {
            "id": self.id,
            "name": self.filename,
            "type": media_class(self.mime_type),
            "url": ASSET_URL.format(id=self.id),
            "uploaded_at": self.uploaded_at,
            "mime_type": self.mime_type,
            "size_bytes": self.size,
        }

    @property
    def size(self) -> int | None:
        return self.size_bytes if self.size_bytes is not None else self.declared_size


@dataclass(frozen=True, slots=True)
class Fates:
    """Which new assets fail or get lost, by filename: the `failed_assets` and `lost_assets` settings."""

    failed: Collection[str] = ()
    lost: Collection[str] = ()


class AssetStore:
    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}
        self._lost_names: set[str] = set()
        self.created = 0

    def get(self, asset_id: str, now: float) -> Asset | None:
        """The account's asset; None if it never had it or has lost it."""
        asset = self._assets.get(asset_id)
        return None if asset is None or asset.gone(now) else asset

    def add_uploaded(
        self, mime_type: str, filename: str, size: int, sha256: str, fates: Fates, *, now: float, seconds: float
    ) -> Asset:
        asset = Asset(_new_id(), mime_type, filename, size_bytes=size, sha256=sha256)
        asset.start_processing(now, seconds)
        return self._add(asset, fates)

    def add_direct(
        self,
        mime_type: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str | None,
        fates: Fates,
        *,
        expires_at: float,
        max_bytes: int,
    ) -> Asset:
        asset = Asset(
            _new_id(),
            mime_type,
            filename,
            content_type=content_type,
            declared_size=size,
            declared_sha256=sha256,
            signature=secrets.token_urlsafe(24),
            expires_at=expires_at,
            max_bytes=max_bytes,
        )
        return self._add(asset, fates)

    def _add(self, asset: Asset, fates: Fates) -> Asset:
        name = asset.filename
        asset.doomed = name in fates.failed
        # Only the first asset of a name is lost: uploading the file again makes a new asset that works.
        if name in fates.lost and name not in self._lost_names:
            asset.lost = True
            self._lost_names.add(name)
        self._assets[asset.id] = asset
        self.created += 1
        return asset

    def world_json(self) -> bytes:
        """For a world file: every asset (lost ones too: they are told apart by time) and the
        names already lost once. `created` is this run's stat, not saved."""
        assets = json_array(self._assets.values(), asset_record)
        return b'{"assets":' + assets + b',"lost_names":' + compact(sorted(self._lost_names)) + b"}"

    @classmethod
    def from_records(cls, saved: Record) -> AssetStore:
        store = cls()
        for record in saved.records("assets"):
            asset = _restore_asset(record)
            store._assets[asset.id] = asset
        store._lost_names = set(saved.texts("lost_names"))
        return store


# How each Asset field is read back from a world file: the Record method for its declared type.
_READERS: dict[str, Callable[[Record, str], object]] = {
    "id": Record.text,
    "mime_type": Record.text,
    "filename": Record.text,
    "ready_at": Record.maybe_number,
    "uploaded_at": Record.maybe_whole,
    "doomed": Record.flag,
    "lost": Record.flag,
    "size_bytes": Record.maybe_whole,
    "sha256": Record.maybe_text,
    "content_type": Record.maybe_text,
    "declared_size": Record.maybe_whole,
    "declared_sha256": Record.maybe_text,
    "signature": Record.maybe_text,
    "expires_at": Record.maybe_number,
    "max_bytes": Record.maybe_whole,
    "complete_calls": Record.whole,
}
assert set(_READERS) == {f.name for f in fields(Asset) if f.init}, "a new Asset field needs its reader here"


def asset_record(asset: Asset) -> dict[str, Any]:
    return {name: getattr(asset, name) for name in _READERS}


def _restore_asset(record: Record) -> Asset:
    values: dict[str, Any] = {name: read(record, name) for name, read in _READERS.items()}
    return Asset(**values)


def _new_id() -> str:
    return f"asset_{secrets.token_hex(8)}"
