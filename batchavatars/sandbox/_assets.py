"""Uploaded assets. Only sizes and SHA-256 digests are kept: bytes are hashed and dropped."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

MULTIPART_MAX_BYTES = 32 * 1024 * 1024
DIRECT_MAX_BYTES = 5 * 1024**3  # the doc gives no figure for direct uploads; 5 GiB covers twin footage
DIRECT_EXPIRES_SECONDS = 3600
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
    status: Literal["pending_upload", "completed"]
    size_bytes: int | None = None  # of the bytes actually received
    sha256: str | None = None
    # Direct uploads only:
    content_type: str | None = None  # the Content-Type the PUT must carry verbatim
    declared_size: int | None = None
    declared_sha256: str | None = None
    signature: str | None = None
    expires_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "asset_id": self.id,
            "url": ASSET_URL.format(id=self.id),
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes if self.size_bytes is not None else self.declared_size,
        }


class AssetStore:
    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}
        self.created = 0

    def get(self, asset_id: str) -> Asset | None:
        return self._assets.get(asset_id)

    def add_uploaded(self, mime_type: str, filename: str, size: int, sha256: str) -> Asset:
        asset = Asset(_new_id(), mime_type, filename, "completed", size_bytes=size, sha256=sha256)
        return self._add(asset)

    def add_direct(
        self, mime_type: str, filename: str, content_type: str, size: int, sha256: str | None, now: float
    ) -> Asset:
        asset = Asset(
            _new_id(),
            mime_type,
            filename,
            "pending_upload",
            content_type=content_type,
            declared_size=size,
            declared_sha256=sha256,
            signature=secrets.token_urlsafe(24),
            expires_at=now + DIRECT_EXPIRES_SECONDS,
        )
        return self._add(asset)

    def _add(self, asset: Asset) -> Asset:
        self._assets[asset.id] = asset
        self.created += 1
        return asset


def _new_id() -> str:
    return f"asset_{secrets.token_hex(8)}"
