"""Small real media files for tests: the manifest reads a photo's header (PNG IHDR, JPEG SOFn)."""

from __future__ import annotations

import struct
import zlib


def png_bytes(width: int = 512, height: int = 512, shade: int = 0) -> bytes:
    """A valid grey PNG of width x height (`shade` varies the pixels, hence the content hash)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + bytes([shade % 256]) * width  # filter byte, then one grey byte per pixel
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int = 512, height: int = 512, exif: int = 0) -> bytes:
    """A JPEG's header as far as a reader of dimensions goes: SOI, JFIF, `exif` bytes of an APP1
    segment (cameras write big ones before the frame), a baseline SOF0, then EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b""
    while exif > 0:  # a segment holds at most 65533 bytes: big metadata takes several
        part = min(exif, 65_533)
        app1 += b"\xff\xe1" + struct.pack(">H", part + 2) + b"\x00" * part
        exif -= part
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + app1 + sof0 + b"\xff\xd9"
