"""Objects written to a world file as JSON, and read back with the types they were written with.

Writing: a world is saved after every change, so each object keeps the JSON it was last saved
as (`Cached`) until any of its attributes is set again, whoever sets it; a save then encodes
only what changed since the one before and joins the rest as bytes.

Reading: a world file is the user's own file beside their ledger, but it may be truncated,
hand-edited or from another version: every read checks its type, so a bad file is refused
whole at load (BadRecord) rather than failing some request later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), check_circular=False).encode()


class Cached:
    """Mixin for a slots dataclass that declares `saved_json: bytes | None = field(default=None,
    init=False, repr=False)`: setting any other attribute forgets the saved JSON."""

    __slots__ = ()
    saved_json: bytes | None

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name != "saved_json":
            object.__setattr__(self, "saved_json", None)


C = TypeVar("C", bound=Cached)


def json_array(items: Iterable[C], record: Callable[[C], dict[str, Any]]) -> bytes:
    """The JSON array of the items' records, each encoded only if it changed since it last was."""
    parts = []
    for item in items:
        saved = item.saved_json
        if saved is None:
            saved = item.saved_json = compact(record(item))
        parts.append(saved)
    return b"[" + b",".join(parts) + b"]"


class BadRecord(ValueError):
    """A saved object is not what this sandbox writes."""


class Record:
    __slots__ = ("_raw",)

    def __init__(self, raw: object, what: str = "record") -> None:
        if not isinstance(raw, dict):
            raise BadRecord(f"a {what} is not an object")
        self._raw: dict[str, Any] = raw

    def _get(self, key: str) -> Any:
        if key not in self._raw:
            raise BadRecord(f"a record lacks {key!r}")
        return self._raw[key]

    def _wrong(self, key: str, kind: str) -> BadRecord:
        return BadRecord(f"{key!r} is not {kind}: {self._raw[key]!r}")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def maybe_text(self, key: str) -> str | None:
        return None if self._get(key) is None else self.text(key)

    def whole(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer")
        return value

    def maybe_whole(self, key: str) -> int | None:
        return None if self._get(key) is None else self.whole(key)

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, "a number")
        return float(value)

    def maybe_number(self, key: str) -> float | None:
        return None if self._get(key) is None else self.number(key)

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def texts(self, key: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self._wrong(key, "a list of strings")
        return value

    def record(self, key: str) -> Record:
        return Record(self._get(key), key)

    def records(self, key: str) -> list[Record]:
        value = self._get(key)
        if not isinstance(value, list):
            raise self._wrong(key, "a list")
        return [Record(x, key) for x in value]
