"""Wording pydantic's validation errors: one small function per error type (`_WORDING`), each
giving a plain message and a concrete fix for the node the error is about."""

from __future__ import annotations

import datetime
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import Problem
from ..spec import Location
from ._explain import (
    FILE_KEYS,
    KEYLIKE,
    URLLIKE,
    CsvRow,
    Walk,
    allowed_fields,
    describe,
    field_name,
    item_of,
    plural,
    section_of,
    short,
    slug,
    suggest,
)
from ._yaml import YMap
from .model import AVATAR_FIELDS, AVATAR_TYPES, FILE_FORMS, KEY_RULE, REFERENCE_IMAGES_MAX, common_adapter


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


class _Err:
    """One pydantic error, located: what every wording function reads. A wording function may move
    `line`/`col` to the part of the node the message is about."""

    __slots__ = (
        *("err", "ctx", "walk", "csv", "originals"),
        *("section", "item", "key", "inner", "field", "last", "value", "line", "col"),
    )

    def __init__(
        self, err: ErrorDetails, loc: tuple[Any, ...], root: Any, csv: bool, originals: dict[tuple[int, int], str]
    ) -> None:
        walk = Walk(root, loc, csv)
        self.err, self.ctx, self.walk, self.csv, self.originals = err, err.get("ctx") or {}, walk, csv, originals
        self.section = section_of(walk.path, csv)
        item, depth = item_of(root, walk, csv)
        self.item = item
        key = item.get("key") if isinstance(item, dict) and isinstance(item.get("key"), str) else None
        self.key = None if self.section == "look_templates" else key  # a template's `key` is a pattern
        self.inner = walk.path[depth:] if item is not None else walk.path[1:]
        self.field = field_name(walk.path, depth if item is not None else 0)
        self.last = next((p for p in reversed(walk.path) if isinstance(p, str)), "")
        self.value = walk.value
        self.line, self.col = walk.line, walk.col

    def point_at(self, name: str) -> None:
        """Point at field `name`'s value of the erroneous mapping (its cell, in a roster)."""
        value = self.value
        if isinstance(value, YMap) and name in value:
            self.line, self.col = value.value_pos(name)
            if isinstance(value, CsvRow):
                self.line, self.col = value.line, value.cols.get(name, value.col)


Wording = Callable[[_Err], tuple[str, str | None]]  # (message, fix)


def _one(
    err: ErrorDetails, loc: tuple[Any, ...], root: Any, file: str, csv: bool, originals: dict[tuple[int, int], str]
) -> Problem:
    e = _Err(err, loc, root, csv, originals)
    message, fix = _WORDING.get(err["type"], _other)(e)
    return Problem(message, Location(file, e.line + 1, e.col + 1), e.key, fix)


def _extra_forbidden(e: _Err) -> tuple[str, str | None]:
    bad = e.walk.path[-1] if e.walk.path else e.err["loc"][-1]
    e.line, e.col = e.walk.key_line, e.walk.key_col
    allowed, what = allowed_fields(e.section, e.inner[:-1], e.item, e.csv)
    if what == "a file mapping":
        return f"`{e.field}`: a file mapping takes exactly one of url, path, asset_id", f"remove `{bad}`"
    if e.section == "avatars" and len(e.inner) == 1 and bad in AVATAR_FIELDS:
        message, fix = _wrong_type_field(bad, e.item)
        if e.csv:
            fix = f"leave the `{bad}` cell empty on this row, or change its `type`"
        return message, fix
    if e.section == "avatars" and not e.csv and len(e.inner) == 1 and bad in ("avatar", "avatar_id"):
        return (
            f"`{bad}` is a look field, not an avatar field",
            "to add this avatar to another avatar's character use `group: <avatar key>`; "
            "for an existing HeyGen character use `avatar_group_id`; to derive a look, move it to `looks:`",
        )
    close = suggest(bad, allowed)
    return f"unknown field `{bad}` in {what}", (
        f"did you mean `{close}`?" if close else f"remove it; allowed here: {', '.join(allowed)}"
    )


_MISSING_FIX = {
    "key": "add `key: <unique key>` (" + KEY_RULE + ")",
    "name": "add `name: <display name>`",
    "file": "add `file: <https URL or path>`",
    "prompt": "add `prompt: <what to generate>`",
    "type": "add `type: photo`, `type: digital_twin` or `type: prompt`",
    "for_each": "add `for_each: all` (or a list of avatar keys, or {type: photo})",
}


def _missing(e: _Err) -> tuple[str, str | None]:
    name = e.walk.missing or e.last
    if e.csv:
        return f"empty `{name}` cell", f"fill in the `{name}` column"
    return f"missing required field `{name}`", _MISSING_FIX.get(name, f"add `{name}`")


def _tag_not_found(e: _Err) -> tuple[str, str | None]:
    value = e.value
    if not isinstance(value, dict):
        return (
            f"an avatar must be a mapping, not {describe(value)}",
            "write the avatar as `- key: <key>` with type, name and file or prompt",
        )
    if "type" in value:
        e.point_at("type")
        return (
            f"`type` must be one of {', '.join(AVATAR_TYPES)}, not {describe(value['type'])}",
            "write the type as a plain string, e.g. `type: photo`",
        )
    return "missing required field `type`", "add `type: photo`, `type: digital_twin` or `type: prompt`"


def _tag_invalid(e: _Err) -> tuple[str, str | None]:
    tag = e.value.get("type") if isinstance(e.value, dict) else e.ctx.get("tag")
    e.point_at("type")
    if not isinstance(tag, str):
        return (
            f"`type` must be one of {', '.join(AVATAR_TYPES)}, not {describe(tag)}",
            "write one type as a plain string, e.g. `type: photo`",
        )
    close = suggest(tag, AVATAR_TYPES)
    return (
        f"unknown avatar type {tag!r}",
        f"did you mean `{close}`?" if close else f"use one of {', '.join(AVATAR_TYPES)}",
    )


def _too_long(e: _Err) -> tuple[str, str | None]:
    limit = e.ctx.get("max_length")
    value = e.value
    if isinstance(value, str):
        return (
            f"`{e.field}` is {len(value)} characters; the limit is {limit}",
            f"shorten it by {plural(len(value) - int(limit or 0), 'character')}",
        )
    n = len(value) if isinstance(value, list) else e.ctx.get("actual_length")
    fix = f"remove {n - int(limit or 0)} of them" if isinstance(n, int) else "remove some"
    if e.last == "reference_images":
        return f"`reference_images` has {n} images; HeyGen takes at most {REFERENCE_IMAGES_MAX}", fix
    return f"`{e.field}` has {n} entries; at most {limit} are allowed", fix


def _too_short(e: _Err) -> tuple[str, str | None]:
    return f"`{e.field}` is empty", f"write a value for `{e.field}` or remove the field"


_BLANK_FIX = {
    "name": "write the display name, e.g. `name: Ava Reyes`",
    "prompt": "describe what to generate, e.g. `prompt: a friendly presenter in a bright studio`",
}


def _pattern(e: _Err) -> tuple[str, str | None]:
    shown = short(str(e.value))
    if e.last in KEYLIKE or (e.section == "look_templates" and "for_each" in e.inner):
        return f"`{e.field}` {shown} is not a valid key", f"keys are {KEY_RULE}, e.g. {slug(str(e.value))!r}"
    if e.last in URLLIKE:
        return f"`{e.field}` must be an http(s) URL, not {shown}", "use a full address: https://<host>/<path>"
    if e.last in _BLANK_FIX:
        return f"`{e.field}` is blank (only spaces); HeyGen needs text here", _BLANK_FIX[e.last]
    return f"`{e.field}` {shown} has the wrong format", None  # pragma: no cover - no other patterns


def _not_string(e: _Err) -> tuple[str, str | None]:
    value = e.value
    shown = e.originals.get((e.line, e.col))
    message = f"`{e.field}` must be a string, not {describe(value)}"
    if shown is not None and not isinstance(value, str) and shown != _plain(value):
        message += f" (YAML reads {shown} that way)"
    if _is_scalar(value):
        return message, f'quote it: {e.last}: "{shown if shown is not None else _plain(value)}"'
    return message, f"write `{e.last}` as one string"


def _not_list(e: _Err) -> tuple[str, str | None]:
    return f"`{e.field or e.last}` must be a list, not {describe(e.value)}", (
        "write it as a YAML list (`- <entry>` lines, or [a, b])"
        if e.value is not None
        else f"add list entries under `{e.last}` or remove it"
    )


_ENTRY_OF = {"avatars": "an avatar", "looks": "a look", "look_templates": "a look template"}


def _not_mapping(e: _Err) -> tuple[str, str | None]:
    what = _ENTRY_OF.get(e.section, "")
    if e.item is None and len(e.walk.path) == 2 and what:
        return (
            f"each entry of `{e.section}` must be a mapping ({what}), not {describe(e.value)}",
            f"write {what} as `- key: <key>` followed by its fields",
        )
    fix = {"consent": "write `consent: {reroute_url: https://<host>/<page>}`"}.get(
        e.last, "write `field: value` pairs under it"
    )
    return f"`{e.field or e.last}` must be a mapping, not {describe(e.value)}", fix


def _file_form(e: _Err) -> tuple[str, str | None]:
    value = e.value
    if not isinstance(value, dict):
        return (
            f"`{e.field}` must be {FILE_FORMS}, not {describe(value)}",
            "write `file: https://<host>/<file>` or `file: ./photos/me.jpg`",
        )
    close = suggest(next(iter(value), None), FILE_KEYS)
    return f"`{e.field}` is a mapping without url, path or asset_id", (
        f"did you mean `{close}`?"
        if close
        else "write `{url: https://<host>/<file>}`, `{path: ./<file>}` or `{asset_id: <id>}`"
    )


def _for_each(e: _Err) -> tuple[str, str | None]:
    message = (
        f"`for_each` must be `all`, a list of avatar keys or a filter like {{type: photo}}, not {describe(e.value)}"
    )
    if e.err["type"] == "literal_error":
        return message, "did you mean `all`?" if suggest(e.value, ["all"]) else "write `for_each: all`"
    return message, "write `for_each: all`"


def _literal(e: _Err) -> tuple[str, str | None]:
    if e.last == "for_each":
        return _for_each(e)
    expected = e.ctx.get("expected", "")
    close = suggest(e.value, re.findall(r"'([^']*)'", expected))
    return f"`{e.field}` must be {expected}, not {describe(e.value)}", (
        f"did you mean `{close}`?" if close else f"use {expected}"
    )


def _model_rule(e: _Err) -> tuple[str, str | None]:
    """A rule of a model_validator (`exclusive`, `no_parent`): its message and fix are in the error."""
    target = e.ctx.get("field")
    value = e.value
    if target and isinstance(value, YMap) and target in value:
        e.line, e.col = value.key_pos(target)
        if isinstance(value, CsvRow):
            e.line, e.col = value.line, value.cols.get(target, value.col)
    return e.err["msg"], e.ctx.get("fix")


def _other(e: _Err) -> tuple[str, str | None]:
    return f"`{e.field or e.last}`: {e.err.get('msg', 'invalid value')}", None


# Pydantic error type → how to word it (anything else: _other).
_WORDING: dict[str, Wording] = {
    "extra_forbidden": _extra_forbidden,
    "missing": _missing,
    "union_tag_not_found": _tag_not_found,
    "union_tag_invalid": _tag_invalid,
    "string_too_long": _too_long,
    "too_long": _too_long,
    "string_too_short": _too_short,
    "string_pattern_mismatch": _pattern,
    "string_type": _not_string,
    "string_sub_type": _not_string,
    "string_unicode": _not_string,
    "list_type": _not_list,
    "tuple_type": _not_list,
    "dict_type": _not_mapping,
    "model_type": _not_mapping,
    "model_attributes_type": _not_mapping,
    "file_form": _file_form,
    "for_each_form": _for_each,
    "literal_error": _literal,
    "exclusive": _model_rule,
    "no_parent": _model_rule,
}


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
