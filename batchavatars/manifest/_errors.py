"""Pydantic validation errors → Problems a person can act on: the node's line and column, the
item's key, a plain message and a concrete fix (with a "did you mean" for typos)."""

from __future__ import annotations

import datetime
import difflib
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import Problem
from ..spec import Location
from ._yaml import YList, YMap
from .model import (
    AVATAR_FIELDS,
    AVATAR_TYPES,
    CSV_COLUMNS,
    FILE_FORMS,
    KEY_RULE,
    LOOK_FIELDS,
    MANIFEST_FIELDS,
    REFERENCE_IMAGES_MAX,
    TEMPLATE_FIELDS,
    common_adapter,
)

_AVATAR_ONLY = {
    "photo": ("key", "type", "name", "file", "group", "avatar_group_id"),
    "digital_twin": ("key", "type", "name", "file", "group", "avatar_group_id", "consent"),
    "prompt": ("key", "type", "name", "prompt", "reference_images", "group", "avatar_group_id"),
}
_FILE_KEYS = ("url", "path", "asset_id")
_KEYLIKE = {"key", "group", "avatar", "for_each"}
_URLLIKE = {"url", "reroute_url"}


class CsvRow(YMap):
    """A roster row as a mapping; `cols` gives the 0-based column of every header field, so a
    missing value can point at its (empty) cell."""

    __slots__ = ("cols",)
    cols: dict[str, int]


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
        return f"the string {_short(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _short(value: str) -> str:
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


def translate(
    errors: Sequence[ErrorDetails],
    root: Any,
    file: str,
    *,
    csv: bool = False,
    skip_loc: Callable[[tuple[Any, ...]], bool] = lambda loc: False,
    originals: dict[tuple[int, int], str] | None = None,
    limit: int | None = None,
) -> tuple[list[Problem], int]:
    """Problems for pydantic `errors` about `root` (the manifest mapping, or a list of CSV rows).
    `originals`: the source text of plain scalars YAML typed as non-strings, by position. After
    `limit` problems the rest are not worded: the second result counts them."""
    out: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    pending = deque(errors)
    while pending:
        if limit is not None and len(out) >= limit:
            return out, len(pending)
        err = pending.popleft()
        loc = tuple(err["loc"])
        if skip_loc(loc):
            continue
        if err["type"] in ("union_tag_invalid", "union_tag_not_found") and isinstance(err.get("input"), dict):
            # Without a usable `type` the rest went unchecked: check the fields all types share.
            try:
                common_adapter.validate_python(err["input"])
            except ValidationError as exc:
                pending.extendleft(
                    reversed([{**e, "loc": loc + tuple(e["loc"])} for e in exc.errors(include_url=False)])
                )
        problem = _one(err, loc, root, file, csv, originals or {})
        ident = (problem.location, problem.message)
        if ident not in seen:
            seen.add(ident)
            out.append(problem)
    return out, 0


def _item_of(root: Any, walk: Walk, csv: bool) -> tuple[Any, int]:
    """The item (avatar/look/template) an error is in, and how many path parts lead to it."""
    depth = 1 if csv else 2
    if len(walk.path) >= depth:
        cur = root
        for part in walk.path[:depth]:
            cur = cur[part]
        if isinstance(cur, dict):
            return cur, depth
    return None, depth


def _section(path: Sequence[Any], csv: bool) -> str:
    if csv:
        return "avatars"
    return path[0] if path and isinstance(path[0], str) else ""


def _allowed(section: str, inner: Sequence[Any], item: Any, csv: bool) -> tuple[Sequence[str], str]:
    """Fields allowed in the mapping at `inner` (real keys below the item) and what it is."""
    keys = [p for p in inner if isinstance(p, str)]
    if section == "" or (not csv and not inner and section not in ("avatars", "looks", "look_templates")):
        return MANIFEST_FIELDS, "the manifest"
    if section == "avatars":
        if keys and keys[0] in ("file", "reference_images"):
            return _FILE_KEYS, "a file mapping"
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


def _one(
    err: ErrorDetails, loc: tuple[Any, ...], root: Any, file: str, csv: bool, originals: dict[tuple[int, int], str]
) -> Problem:
    walk = Walk(root, loc, csv)
    etype = err["type"]
    ctx = err.get("ctx") or {}
    section = _section(walk.path, csv)
    item, depth = _item_of(root, walk, csv)
    key = item.get("key") if isinstance(item, dict) and isinstance(item.get("key"), str) else None
    if section == "look_templates":
        key = None  # a template's `key` is a pattern, not an item key
    inner = walk.path[depth:] if item is not None else walk.path[1:]
    field = field_name(walk.path, depth if item is not None else 0)
    last = next((p for p in reversed(walk.path) if isinstance(p, str)), "")
    value = walk.value
    line, col = walk.line, walk.col
    fix: str | None = None

    if etype == "extra_forbidden":
        bad = walk.path[-1] if walk.path else loc[-1]
        line, col = walk.key_line, walk.key_col
        allowed, what = _allowed(section, inner[:-1], item, csv)
        message = f"unknown field `{bad}` in {what}"
        if what == "a file mapping":
            message = f"`{field}`: a file mapping takes exactly one of url, path, asset_id"
            fix = f"remove `{bad}`"
        elif section == "avatars" and len(inner) == 1 and bad in AVATAR_FIELDS:
            message, fix = _wrong_type_field(bad, item)
            if csv:
                fix = f"leave the `{bad}` cell empty on this row, or change its `type`"
        elif section == "avatars" and not csv and len(inner) == 1 and bad in ("avatar", "avatar_id"):
            message = f"`{bad}` is a look field, not an avatar field"
            fix = (
                "to add this avatar to another avatar's character use `group: <avatar key>`; "
                "for an existing HeyGen character use `avatar_group_id`; to derive a look, move it to `looks:`"
            )
        else:
            close = suggest(bad, allowed)
            fix = f"did you mean `{close}`?" if close else f"remove it; allowed here: {', '.join(allowed)}"
    elif etype == "missing":
        name = walk.missing or last
        message = f"missing required field `{name}`"
        fix = {
            "key": "add `key: <unique key>` (" + KEY_RULE + ")",
            "name": "add `name: <display name>`",
            "file": "add `file: <https URL or path>`",
            "prompt": "add `prompt: <what to generate>`",
            "type": "add `type: photo`, `type: digital_twin` or `type: prompt`",
            "for_each": "add `for_each: all` (or a list of avatar keys, or {type: photo})",
        }.get(name, f"add `{name}`")
        if csv:
            message = f"empty `{name}` cell"
            fix = f"fill in the `{name}` column"
    elif etype == "union_tag_not_found":
        message, fix = "missing required field `type`", "add `type: photo`, `type: digital_twin` or `type: prompt`"
        if not isinstance(value, dict):
            message = f"an avatar must be a mapping, not {describe(value)}"
            fix = "write the avatar as `- key: <key>` with type, name and file or prompt"
        elif "type" in value:
            message = f"`type` must be one of {', '.join(AVATAR_TYPES)}, not {describe(value['type'])}"
            fix = "write the type as a plain string, e.g. `type: photo`"
            if isinstance(value, YMap):
                line, col = value.value_pos("type")
            elif isinstance(value, CsvRow):  # pragma: no cover - CSV cells are strings
                line, col = value.line, value.cols.get("type", 0)
    elif etype == "union_tag_invalid":
        tag = value.get("type") if isinstance(value, dict) else ctx.get("tag")
        message = f"unknown avatar type {tag!r}"
        close = suggest(tag, AVATAR_TYPES)
        fix = f"did you mean `{close}`?" if close else f"use one of {', '.join(AVATAR_TYPES)}"
        if not isinstance(tag, str):
            message = f"`type` must be one of {', '.join(AVATAR_TYPES)}, not {describe(tag)}"
            fix = "write one type as a plain string, e.g. `type: photo`"
        if isinstance(value, YMap) and "type" in value:
            line, col = value.value_pos("type")
            if isinstance(value, CsvRow):
                line, col = value.line, value.cols.get("type", value.col)
        field = "type"
    elif etype in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        if isinstance(value, str):
            message = f"`{field}` is {len(value)} characters; the limit is {limit}"
            fix = f"shorten it by {plural(len(value) - int(limit or 0), 'character')}"
        else:
            n = len(value) if isinstance(value, list) else ctx.get("actual_length")
            message = f"`{field}` has {n} entries; at most {limit} are allowed"
            fix = f"remove {n - int(limit or 0)} of them" if isinstance(n, int) else "remove some"
            if last == "reference_images":
                message = f"`reference_images` has {n} images; HeyGen takes at most {REFERENCE_IMAGES_MAX}"
    elif etype == "string_too_short":
        message = f"`{field}` is empty"
        fix = f"write a value for `{field}` or remove the field"
    elif etype == "string_pattern_mismatch":
        if last in _KEYLIKE or (section == "look_templates" and "for_each" in inner):
            message = f"`{field}` {_short(str(value))} is not a valid key"
            fix = f"keys are {KEY_RULE}, e.g. {slug(str(value))!r}"
        elif last in _URLLIKE:
            message = f"`{field}` must be an http(s) URL, not {_short(str(value))}"
            fix = "use a full address: https://<host>/<path>"
        else:  # pragma: no cover - no other patterns
            message = f"`{field}` {_short(str(value))} has the wrong format"
    elif etype in ("string_type", "string_sub_type", "string_unicode"):
        shown = originals.get((line, col))
        message = f"`{field}` must be a string, not {describe(value)}"
        if shown is not None and not isinstance(value, str) and shown != _plain(value):
            message += f" (YAML reads {shown} that way)"
        fix = (
            f'quote it: {last}: "{shown if shown is not None else _plain(value)}"'
            if _is_scalar(value)
            else f"write `{last}` as one string"
        )
    elif etype in ("list_type", "tuple_type"):
        message = f"`{field or last}` must be a list, not {describe(value)}"
        fix = (
            "write it as a YAML list (`- <entry>` lines, or [a, b])"
            if value is not None
            else f"add list entries under `{last}` or remove it"
        )
    elif etype in ("dict_type", "model_type", "model_attributes_type"):
        what = {"avatars": "an avatar", "looks": "a look", "look_templates": "a look template"}.get(section, "")
        if item is None and len(walk.path) == 2 and what:
            message = f"each entry of `{section}` must be a mapping ({what}), not {describe(value)}"
            fix = f"write {what} as `- key: <key>` followed by its fields"
        else:
            message = f"`{field or last}` must be a mapping, not {describe(value)}"
            fix = {"consent": "write `consent: {reroute_url: https://<host>/<page>}`"}.get(
                last, "write `field: value` pairs under it"
            )
    elif etype == "file_form":
        if isinstance(value, dict):
            message = f"`{field}` is a mapping without url, path or asset_id"
            bad = next(iter(value), None)
            close = suggest(bad, _FILE_KEYS)
            fix = (
                f"did you mean `{close}`?"
                if close
                else "write `{url: https://<host>/<file>}`, `{path: ./<file>}` or `{asset_id: <id>}`"
            )
        else:
            message = f"`{field}` must be {FILE_FORMS}, not {describe(value)}"
            fix = "write `file: https://<host>/<file>` or `file: ./photos/me.jpg`"
    elif etype == "for_each_form":
        message = (
            f"`for_each` must be `all`, a list of avatar keys or a filter like {{type: photo}}, not {describe(value)}"
        )
        fix = "write `for_each: all`"
    elif etype == "literal_error" and last == "for_each":
        message = (
            f"`for_each` must be `all`, a list of avatar keys or a filter like {{type: photo}}, not {describe(value)}"
        )
        fix = "did you mean `all`?" if suggest(value, ["all"]) else "write `for_each: all`"
    elif etype == "literal_error":
        expected = ctx.get("expected", "")
        message = f"`{field}` must be {expected}, not {describe(value)}"
        choices = re.findall(r"'([^']*)'", expected)
        close = suggest(value, choices)
        fix = f"did you mean `{close}`?" if close else f"use {expected}"
    elif etype in ("exclusive", "no_parent"):
        message = err["msg"]
        fix = ctx.get("fix")
        target = ctx.get("field")
        if target and isinstance(value, YMap) and target in value:
            line, col = value.key_pos(target)
            if isinstance(value, CsvRow):
                line, col = value.line, value.cols.get(target, value.col)
    else:
        message = f"`{field or last}`: {err.get('msg', 'invalid value')}"
    return Problem(message, Location(file, line + 1, col + 1), key, fix)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, datetime.date))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _wrong_type_field(bad: str, item: Any) -> tuple[str, str]:
    kind = item.get("type") if isinstance(item, dict) else None
    if bad == "file":
        return (
            f"`file` is not used by a {kind} avatar",
            "remove `file`; a prompt avatar takes `prompt` and optional `reference_images`, "
            "or set `type: photo`/`type: digital_twin`",
        )
    if bad == "consent":
        return (
            f"`consent` is only for digital_twin avatars, not {kind}",
            "remove `consent` (only digital twins record consent)",
        )
    if bad == "prompt":
        return (
            f"`prompt` is not used by a {kind} avatar",
            "remove `prompt`, or set `type: prompt`; to restyle this avatar add a look under `looks:`",
        )
    if bad == "reference_images":
        return (
            f"`reference_images` is only for prompt avatars, not {kind}",
            "remove `reference_images`, or set `type: prompt`",
        )
    return f"`{bad}` is not allowed on a {kind} avatar", f"remove `{bad}`"  # pragma: no cover
