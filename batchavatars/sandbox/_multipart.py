"""A streaming multipart/form-data reader that hashes one file field instead of storing it.

Written here because Starlette's form parser needs python-multipart and spools files; the
sandbox only needs the size and SHA-256 of one field, at constant memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

_HEADERS_MAX = 16 * 1024
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


class MultipartError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class FilePart:
    filename: str | None
    content_type: str | None
    size: int
    sha256: str


def boundary_of(content_type: str | None) -> bytes:
    if not content_type or content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise MultipartError("the body must be multipart/form-data")
    params = _params(content_type)
    boundary = params.get("boundary")
    if not boundary or len(boundary) > 200:
        raise MultipartError("multipart/form-data without a usable boundary")
    return boundary.encode("latin-1")


async def read_file_field(chunks: AsyncIterator[bytes], boundary: bytes, field: str) -> FilePart | None:
    """Hash the first part named `field`, skip the others; None if there is no such part.

    Consumes the whole stream, so the connection stays usable for the next request.
    """
    reader = _Reader(chunks)
    try:
        return await _parse(reader, boundary, field)
    finally:
        await reader.drain()


async def _parse(reader: _Reader, boundary: bytes, field: str) -> FilePart | None:
    dash = b"--" + boundary
    delimiter = b"\r\n" + dash
    await _skip_preamble(reader, dash)
    found: FilePart | None = None
    while await _next_part(reader):
        name, filename, part_type = _part_headers(await _header_block(reader))
        wanted = found is None and name == field
        size, digest = await _part_body(reader, delimiter, hashing=wanted)
        if wanted:
            found = FilePart(filename, part_type, size, digest)
    return found


async def _skip_preamble(reader: _Reader, dash: bytes) -> None:
    buf = reader.buf
    while (i := buf.find(dash)) < 0:
        if len(buf) > len(dash):
            del buf[: len(buf) - len(dash)]
        await reader.fill_or_fail()
    del buf[: i + len(dash)]


async def _next_part(reader: _Reader) -> bool:
    """After a delimiter: False at the close delimiter, else skip to the part's headers."""
    buf = reader.buf
    while len(buf) < 2:
        await reader.fill_or_fail()
    if buf[:2] == b"--":
        return False
    while (nl := buf.find(b"\r\n")) < 0:  # transport padding, then CRLF
        if len(buf) > 1024:
            raise MultipartError("malformed boundary line")
        await reader.fill_or_fail()
    del buf[: nl + 2]
    return True


async def _header_block(reader: _Reader) -> bytes:
    buf = reader.buf
    while not buf.startswith(b"\r\n") and (end := buf.find(b"\r\n\r\n")) < 0:
        if len(buf) > _HEADERS_MAX:
            raise MultipartError("part headers too large")
        await reader.fill_or_fail()
    if buf.startswith(b"\r\n"):
        del buf[:2]
        return b""
    raw = bytes(buf[:end])
    del buf[: end + 4]
    return raw


async def _part_body(reader: _Reader, delimiter: bytes, *, hashing: bool) -> tuple[int, str]:
    """Consume a part's body up to and including the next delimiter: its size and SHA-256."""
    buf = reader.buf
    hasher = hashlib.sha256()
    size = 0
    keep = len(delimiter) - 1  # a delimiter may straddle two chunks
    while True:
        i = buf.find(delimiter)
        take = i if i >= 0 else len(buf) - keep
        if take > 0:
            if hashing:
                hasher.update(buf[:take])
            size += take
            del buf[:take]
        if i >= 0:
            del buf[: len(delimiter)]
            return size, hasher.hexdigest()
        await reader.fill_or_fail()


class _Reader:
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks.__aiter__()
        self.buf = bytearray()
        self._done = False

    async def fill_or_fail(self) -> None:
        while not self._done:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                break
            if chunk:
                self.buf += chunk
                return
        raise MultipartError("the multipart body ended early")

    async def drain(self) -> None:
        while not self._done:
            try:
                await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True


def _part_headers(raw: bytes) -> tuple[str | None, str | None, str | None]:
    disposition = part_type = None
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "content-disposition":
            disposition = value.strip()
        elif key == "content-type":
            part_type = value.strip()
    if disposition is None or disposition.split(";", 1)[0].strip().lower() != "form-data":
        raise MultipartError("a part lacks Content-Disposition: form-data")
    params = _params(disposition)
    return params.get("name"), params.get("filename"), part_type


def _params(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _PARAM.finditer(header):
        quoted, bare = m.group(2), m.group(3)
        out[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    return out
