"""What a local media file holds, read rather than trusted from its name (PNG/JPEG dimensions from
the header, the content's SHA-256), and which file extensions HeyGen takes for which field."""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 1 << 20  # files are hashed streaming, this much at a time
MIN_PHOTO_SIDE = 512  # HeyGen: a photo avatar's photo is at least 512x512
PHOTO_EXTS = (".png", ".jpg", ".jpeg")
VIDEO_EXTS = (".mp4", ".webm")
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (the others are tables)
_JPEG_ALONE = frozenset((0x01, *range(0xD0, 0xD8)))  # markers without a length
# Extensions that name a media format: a URL ending in one of these that the field does not take is
# surely wrong. Other endings (none, .php, .aspx) may serve anything and are left to HeyGen.
_IMAGES = (".gif", ".webp", ".heic", ".heif", ".avif", ".bmp", ".tif", ".tiff", ".svg", ".ico", ".psd")
_VIDEOS = (".mov", ".m4v", ".avi", ".mkv", ".qt", ".wmv", ".flv", ".3gp", ".mpg", ".mpeg", ".mts")
_OTHERS = (".mp3", ".wav", ".m4a", ".pdf", ".srt", ".zip", ".txt")
MEDIA_EXTS = frozenset(PHOTO_EXTS + VIDEO_EXTS + _IMAGES + _VIDEOS + _OTHERS)


@dataclass(frozen=True, slots=True)
class Content:
    sha256: str  # hex digest of the whole file
    size: tuple[int, int] | None  # width, height of a PNG or JPEG; None: not one (or a broken header)
    kind: str  # what the first bytes say the file is, for messages


def read_content(path: str) -> Content:
    """Hash the file at `path` and read its image header. Raises OSError."""
    with open(path, "rb") as fh:
        head = fh.read(BLOCK)
        size = _png_size(head) if head.startswith(_PNG) else _jpeg_size(fh) if head.startswith(_JPEG) else None
        digest = hashlib.sha256(head)
        fh.seek(len(head))
        while block := fh.read(BLOCK):
            digest.update(block)
    return Content(digest.hexdigest(), size, sniff(head))


def _png_size(head: bytes) -> tuple[int, int] | None:
    """The IHDR chunk comes first: length, b"IHDR", width, height (big-endian)."""
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _jpeg_size(fh: BinaryIO) -> tuple[int, int] | None:
    """Walk the segments after SOI to the first start-of-frame: precision, height, width."""
    fh.seek(2)
    for _ in range(10_000):  # a real header has a few dozen segments
        if fh.read(1) != b"\xff":
            return None
        marker = fh.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fh.read(1)
        if not marker or marker[0] in (0xD9, 0xDA):  # end of image, or the scan: no frame header
            return None
        if marker[0] in _JPEG_ALONE:
            continue
        length = fh.read(2)
        if len(length) < 2:
            return None
        if marker[0] in _JPEG_SOF:
            frame = fh.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return int(width), int(height)
        fh.seek(struct.unpack(">H", length)[0] - 2, os.SEEK_CUR)
    return None


_SIGNATURES = (
    (_PNG, "a PNG image"),
    (_JPEG, "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1aE\xdf\xa3", "a WebM/Matroska video"),
)


def sniff(head: bytes) -> str:
    """What the first bytes of a file say it is ("a GIF image"), for messages."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "a HEIC image" if brand in (b"heic", b"heix", b"mif1", b"msf1") else "an MP4/QuickTime video"
    if head.lstrip()[:1] == b"<":
        return "an HTML, XML or SVG text file"
    return "not an image format batchavatars recognises"


def url_extension(url: str) -> str:
    """The extension of the last path segment of a URL ("" if none): query and fragment ignored."""
    path = url.partition("#")[0].partition("?")[0]
    name = path[path.rfind("/") + 1 :]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def url_extension_issue(url: str, exts: tuple[str, ...], what: str) -> tuple[str, str] | None:
    """(message, fix) when a URL ends in a media extension HeyGen does not take for this field."""
    if url.endswith(exts):  # the common case, settled at once
        return None
    ext = url_extension(url)
    if not ext or ext in exts or ext not in MEDIA_EXTS:
        return None
    if exts == VIDEO_EXTS:
        return (
            f"ends in {ext}: HeyGen takes {what} as mp4 or webm",
            "convert it to mp4 (e.g. `ffmpeg -i in" + ext + " out.mp4`) and point at the .mp4",
        )
    return (
        f"ends in {ext}: HeyGen takes a {what} as PNG or JPEG",
        "convert it to PNG or JPEG and point at that file",
    )
