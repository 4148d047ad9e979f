"""Pydantic validation errors → Problems a person can act on: the node's line and column, the
item's key, a plain message and a concrete fix (with a "did you mean" for typos)."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Sequence
from typing import Any

from ._yaml import YList, YMap
from .model import (
    AVATAR_FIELDS,
    AVATAR_TYPES,
    CSV_COLUMNS,
    LOOK_FIELDS,
    MANIFEST_FIELDS,
    TEMPLATE_FIELDS,
)

_AVATAR_ONLY = {
    "photo": ("key", "type", "name", "file", "group", "avatar_group_id"),
    "digital_twin": ("key", "type", "name", "file", "group", "avatar_group_id", "consent"),
    "prompt": ("key", "type", "name", "prompt", "reference_images", "group", "avatar_group_id"),
}
FILE_KEYS = ("url", "path", "asset_id")
KEYLIKE = {"key", "group", "avatar", "for_each"}
URLLIKE = {"url", "reroute_url"}


class CsvRow(YMap):
    """A roster row as a mapping; `cols` gives the 0-based column of every header field, so a
    missing value can point at its (empty) cell; `header_line` is where the header row is."""

    __slots__ = ("cols", "header_line")
    cols: dict[str, int]
    header_line: int


def suggest(word: Any, choices: Sequence[str]) -> str | None:
    if not isinstance(word, str):
        return None
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not found:
        found = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def slug(value: str) -> str:
    s = re.sub(r"[^a-z0-9_.-]+", "-", value.lower()).strip("-_.")
    return s[:64] or "item-1"


def describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return f"the string {short(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def short(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "…")


_FILE_TAGS = frozenset(("string", "url", "path", "asset_id"))
_AFTER_KEY = {"file": _FILE_TAGS, "for_each": frozenset(("all", "keys", "filter"))}
_AFTER_ITEM = {"avatars": frozenset(AVATAR_TYPES), "reference_images": _FILE_TAGS}


class Walk:
    """Where a pydantic `loc` points in the loaded data. Union branch names in `loc` (avatar types,
    file forms, for_each forms) are skipped where they can occur."""

    __slots__ = ("line", "col", "value", "path", "missing", "container", "key_line", "key_col")

    def __init__(self, root: Any, loc: tuple[Any, ...], csv: bool = False) -> None:
        cur = root
        self.line, self.col = getattr(root, "line", 0), getattr(root, "col", 0)
        self.key_line, self.key_col = self.line, self.col
        self.path: list[Any] = []  # real keys/indices walked
        self.missing: str | None = None
        self.container: Any = root
        tags: frozenset[str] | None = None
        list_name: Any = "avatars" if csv else None
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if tags is not None and isinstance(part, str) and part in tags:
                tags = None
                continue
            tags = None
            if isinstance(cur, dict) and isinstance(part, str) and part in cur:
                self.container = cur
                if isinstance(cur, YMap):
                    self.line, self.col = cur.value_pos(part)
                    self.key_line, self.key_col = cur.key_pos(part)
                    if isinstance(cur, CsvRow):
                        self.line, self.col = cur.line, cur.cols.get(part, cur.col)
                        self.key_line, self.key_col = self.line, self.col
                if part == "type" and "for_each" in self.path:
                    tags = frozenset(("one", "many"))
                else:
                    tags = _AFTER_KEY.get(part)
                list_name = part
                cur = cur[part]
                self.path.append(part)
            elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
                self.container = cur
                if isinstance(cur, YList):
                    self.line, self.col = cur.item_pos(part)
                    self.key_line, self.key_col = self.line, self.col
                tags = _AFTER_ITEM.get(list_name) if len(self.path) <= 2 or list_name != "avatars" else None
                list_name = None
                cur = cur[part]
                self.path.append(part)
            elif last and isinstance(part, str) and isinstance(cur, dict):
                self.missing = part
                self.container = cur
                if isinstance(cur, CsvRow) and part in cur.cols:
                    self.line, self.col = cur.line, cur.cols[part]
            # else: a union branch name (e.g. "list[...]"): skip it
        self.value = cur


def field_name(path: Sequence[Any], skip: int) -> str:
    """`file.url`, `reference_images[1]`: the path inside the item (after `skip` parts)."""
    out = ""
    for part in path[skip:]:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def item_of(root: Any, walk: Walk, csv: bool) -> tuple[Any, int]:
    """The item (avatar/look/template) an error is in, and how many path parts lead to it."""
    depth = 1 if csv else 2
    if len(walk.path) >= depth:
        cur = root
        for part in walk.path[:depth]:
            cur = cur[part]
        if isinstance(cur, dict):
            return cur, depth
    return None, depth


def section_of(path: Sequence[Any], csv: bool) -> str:
    if csv:
        return "avatars"
    return path[0] if path and isinstance(path[0], str) else ""


def allowed_fields(section: str, inner: Sequence[Any], item: Any, csv: bool) -> tuple[Sequence[str], str]:
    """Fields allowed in the mapping at `inner` (real keys below the item) and what it is."""
    keys = [p for p in inner if isinstance(p, str)]
    if section == "" or (not csv and not inner and section not in ("avatars", "looks", "look_templates")):
        return MANIFEST_FIELDS, "the manifest"
    if section == "avatars":
        if keys and keys[0] in ("file", "reference_images"):
            return FILE_KEYS, "a file mapping"
        if keys and keys[0] == "consent":
            return ("reroute_url",), "`consent`"
        kind = item.get("type") if isinstance(item, dict) else None
        if csv:
            return CSV_COLUMNS, "a roster row"
        return _AVATAR_ONLY.get(kind, AVATAR_FIELDS) if isinstance(kind, str) else AVATAR_FIELDS, (
            f"a {kind} avatar" if kind in AVATAR_TYPES else "an avatar"
        )
    if section == "looks":
        return LOOK_FIELDS, "a look"
    if section == "look_templates":
        if keys and keys[0] == "for_each":
            return ("type",), "a for_each filter"
        return TEMPLATE_FIELDS, "a look template"
    return MANIFEST_FIELDS, "the manifest"
