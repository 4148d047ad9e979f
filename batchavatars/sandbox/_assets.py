"""Uploaded assets. Only sizes and SHA-256 digests are kept: bytes are hashed and dropped.

An asset's status is derived on read: `pending_upload` until a multipart upload or a direct
upload's `/complete`, then `processing` for the account's `asset_processing_seconds`, then
`completed`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

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
class Asset:
    id: str
    mime_type: str
    filename: str
    ready_at: float | None = None  # None: not uploaded (or completed) yet
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

    @property
    def finished(self) -> bool:
        """Uploaded and completed (maybe still processing): no more bytes are taken."""
        return self.ready_at is not None

    def status(self, now: float) -> str:
        if self.ready_at is None:
            return "pending_upload"
        return "processing" if now < self.ready_at else "completed"

    def to_json(self) -> dict[str, Any]:
        """The upload answer's shape."""
        return {
            "asset_id": self.id,
            "url": ASSET_URL.format(id=self.id),
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes if self.size_bytes is not None else self.declared_size,
        }

    def status_json(self, now: float) -> dict[str, Any]:
        """GET /v3/assets/{id}'s shape."""
        return {**self.to_json(), "filename": self.filename, "status": self.status(now)}


class AssetStore:
    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}
        self.created = 0

    def get(self, asset_id: str) -> Asset | None:
        return self._assets.get(asset_id)

    def add_uploaded(self, mime_type: str, filename: str, size: int, sha256: str, ready_at: float) -> Asset:
        asset = Asset(_new_id(), mime_type, filename, ready_at, size_bytes=size, sha256=sha256)
        return self._add(asset)

    def add_direct(
        self,
        mime_type: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str | None,
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
        return self._add(asset)

    def _add(self, asset: Asset) -> Asset:
        self._assets[asset.id] = asset
        self.created += 1
        return asset


def _new_id() -> str:
    return f"asset_{secrets.token_hex(8)}"
