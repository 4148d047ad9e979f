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
_AFTER_FOR_EACH_TYPE = frozenset(("one", "many"))
_AFTER_ITEM = {"avatars": frozenset(AVATAR_TYPES), "reference_images": _FILE_TAGS}


class Walk:
    """Where a pydantic `loc` points in the loaded data. Union branch names in `loc` (avatar types,
    file forms, for_each forms) are skipped where they can occur."""

    __slots__ = ("line", "col", "value", "path", "missing", "container", "key_line", "key_col")

    def __init__(self, root: Any, loc: tuple[Any, ...], csv: bool = False) -> None:
        self.line, self.col = getattr(root, "line", 0), getattr(root, "col", 0)
        self.key_line, self.key_col = self.line, self.col
        self.path: list[Any] = []  # real keys/indices walked
        self.missing: str | None = None
        self.container: Any = root
        cur = root
        tags: frozenset[str] | None = None  # the union branch names that may come next in `loc`
        list_name: Any = "avatars" if csv else None  # the key `cur` was reached by (a roster: the avatars list)
        for i, part in enumerate(loc):
            if tags is not None and part in tags:  # a union branch name where one can occur: skip it
                tags = None
                continue
            if _has_key(cur, part):
                tags = _tags_after_key(part, self.path)
                list_name = part
                self._at_key(cur, part)
            elif _has_item(cur, part):
                tags = _tags_after_item(list_name, self.path)
                list_name = None
                self._at_item(cur, part)
            else:  # a missing field, or a union branch name (e.g. "list[...]"): nothing to step into
                tags = None
                if i == len(loc) - 1 and isinstance(cur, dict) and isinstance(part, str):
                    self._at_missing(cur, part)
                continue
            cur = cur[part]
            self.path.append(part)
        self.value = cur

    def _at_key(self, node: dict[str, Any], key: str) -> None:
        """Point at `node[key]`: its value and its key (in a roster row, both are the cell)."""
        self.container = node
        if isinstance(node, CsvRow):
            self.line, self.col = node.line, node.cols.get(key, node.col)
            self.key_line, self.key_col = self.line, self.col
        elif isinstance(node, YMap):
            self.line, self.col = node.value_pos(key)
            self.key_line, self.key_col = node.key_pos(key)

    def _at_item(self, node: list[Any], index: int) -> None:
        """Point at `node[index]` (an item has no key: the key position is the item's too)."""
        self.container = node
        if isinstance(node, YList):
            self.line, self.col = node.item_pos(index)
            self.key_line, self.key_col = self.line, self.col

    def _at_missing(self, node: dict[str, Any], key: str) -> None:
        """`loc` ends at `key`, absent from `node`: the position stays at the mapping (in a roster row,
        it moves to the key's empty cell)."""
        self.missing = key
        self.container = node
        if isinstance(node, CsvRow) and key in node.cols:
            self.line, self.col = node.line, node.cols[key]


def _has_key(node: Any, part: Any) -> bool:
    return isinstance(node, dict) and isinstance(part, str) and part in node


def _has_item(node: Any, part: Any) -> bool:
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _tags_after_key(key: str, path: Sequence[Any]) -> frozenset[str] | None:
    """The union branch names that may follow `key` in a loc (`path`: the parts walked before it)."""
    if key == "type" and "for_each" in path:
        return _AFTER_FOR_EACH_TYPE
    return _AFTER_KEY.get(key)


def _tags_after_item(list_name: Any, path: Sequence[Any]) -> frozenset[str] | None:
    """The union branch names that may follow an index into the list called `list_name`."""
    if list_name == "avatars" and len(path) > 2:
        return None  # a list called `avatars` deeper down is not the manifest's avatars
    return _AFTER_ITEM.get(list_name)


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
    field = keys[0] if keys else None  # the item's field the mapping is in (None: the item itself)
    if section == "avatars":
        return _avatar_fields(field, item, csv)
    if section == "looks":
        return LOOK_FIELDS, "a look"
    if section == "look_templates":
        if field == "for_each":
            return ("type",), "a for_each filter"
        return TEMPLATE_FIELDS, "a look template"
    return MANIFEST_FIELDS, "the manifest"


# The mappings inside an avatar, by the avatar's field they are in.
_IN_AVATAR: dict[str, tuple[Sequence[str], str]] = {
    "file": (FILE_KEYS, "a file mapping"),
    "reference_images": (FILE_KEYS, "a file mapping"),
    "consent": (("reroute_url",), "`consent`"),
}


def _avatar_fields(field: str | None, item: Any, csv: bool) -> tuple[Sequence[str], str]:
    """`allowed_fields` in an avatar: the avatar's own fields (its type's), or a nested mapping's."""
    if field in _IN_AVATAR:
        return _IN_AVATAR[field]
    if csv:
        return CSV_COLUMNS, "a roster row"
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(kind, str):
        return AVATAR_FIELDS, "an avatar"
    return _AVATAR_ONLY.get(kind, AVATAR_FIELDS), f"a {kind} avatar" if kind in AVATAR_TYPES else "an avatar"
