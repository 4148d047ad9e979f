"""Index-based paging over append-only lists, with opaque tokens bound to their filters."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from ._envelope import invalid

T = TypeVar("T")


def encode_token(index: int, filters: str) -> str:
    raw = f"{index}:{zlib.crc32(filters.encode()):08x}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, filters: str) -> int:
    """The start index a token stands for; 400 if it is garbled or was made for other filters."""
    if token is None or token == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        index_text, check = raw.split(":")
        index = int(index_text)
    except ValueError:
        raise invalid("token is not a valid paging token", "token") from None
    if index < 0 or check != f"{zlib.crc32(filters.encode()):08x}":
        raise invalid("token does not belong to this listing (filters changed?)", "token")
    return index


def page(items: Sequence[T], start: int, limit: int, keep: Callable[[T], bool]) -> tuple[list[T], int | None]:
    """Up to `limit` kept items from `start` on, and the index of the next kept one, if any."""
    out: list[T] = []
    i, n = start, len(items)
    while i < n and len(out) < limit:
        item = items[i]
        i += 1
        if keep(item):
            out.append(item)
    while i < n and not keep(items[i]):
        i += 1
    return out, (i if i < n else None)


def parse_limit(raw: str | None, page_max: int) -> int:
    if raw is None:
        return page_max
    try:
        limit = int(raw)
    except ValueError:
        raise invalid(f"limit must be an integer from 1 to {page_max}", "limit") from None
    if not 1 <= limit <= page_max:
        raise invalid(f"limit must be from 1 to {page_max}, got {limit}", "limit")
    return limit
