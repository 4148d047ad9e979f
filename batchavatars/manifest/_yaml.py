"""A safe, line-tracking YAML loader built on the event stream.

Why not `yaml.safe_load`/`compose`: we need the line and column of every key and value for error
messages, and we must refuse hostile documents (deep nesting, alias bombs, foreign tags) without
recursion and without building anything huge. PyYAML's resolver is also the slow part of
`compose` (seconds for 100k items), so plain scalars are resolved here with a first-character
fast path.

The result is plain Python data made of `YMap` (a dict) and `YList` (a list) that also carry
0-based positions: of the container itself, and of every key and value in it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from ._ynodes import SCALAR_TAGS, STR, TAG, ScalarResolver, YList, YMap, ylist, ymap
from .problems import Located

__all__ = ["YList", "YMap", "load", "ylist", "ymap"]

try:  # libyaml: ~10x faster than the pure-Python parser
    from yaml._yaml import CParser as _Parser  # where it is defined; yaml.cyaml's stubs do not re-export it

    def _parser(data: bytes) -> Any:
        return _Parser(data)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _PyLoader

    def _parser(data: bytes) -> Any:
        return _PyLoader(data)


MAX_DEPTH = 32
# An alias re-uses a node; what it adds to the document is the size of that node. Refuse when
# aliases add more than this many nodes plus ten times the nodes actually written.
ALIAS_BUDGET = 1_000_000

_SEQ, _MAP = TAG + "seq", TAG + "map"


_RESOLVER: ScalarResolver | None = None


def _mark(exc: yaml.YAMLError, text: bytes) -> tuple[int | None, int | None]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line, mark.column
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        before = text[:position]
        line = before.count(b"\n")
        return line, len(before) - (before.rfind(b"\n") + 1)
    return None, None


def _line_text(data: bytes, line: int) -> str:
    lines = data.split(b"\n", line + 1)
    return lines[line].decode("utf-8", "replace") if line < len(lines) else ""


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        return "not valid YAML: " + ("; ".join(parts) if parts else "syntax error")
    if isinstance(exc, yaml.reader.ReaderError):
        return f"not valid YAML: {exc.reason}" + (
            f" (character {exc.character!r})" if isinstance(exc.character, str) else ""
        )
    return f"not valid YAML: {exc}"


def load(data: bytes) -> tuple[Any, list[Located], dict[tuple[int, int], str]]:
    """Parse one YAML document from UTF-8 `data` into YMap/YList/scalars.

    Raises Located for what makes the whole document unusable (syntax errors, several
    documents, too deep, alias bombs, undefined aliases). Returns non-fatal problems (duplicate
    keys, refused tags) alongside the data; the caller decides. The third result maps the position
    of each plain scalar YAML typed as something else than a string (`yes`, `2024-01-01`) to its text.
    """
    global _RESOLVER
    if _RESOLVER is None:
        _RESOLVER = ScalarResolver()
    builder = _Builder(_RESOLVER)
    handlers = {
        ScalarEvent: builder.scalar,
        MappingStartEvent: builder.start,
        SequenceStartEvent: builder.start,
        MappingEndEvent: builder.end,
        SequenceEndEvent: builder.end,
        AliasEvent: builder.alias,
        DocumentStartEvent: builder.document,
    }.get  # stream start/end and document end need nothing
    parser: Any = None
    try:
        parser = _parser(data)  # the pure-Python reader already checks characters here
        get_event = parser.get_event
        scalar = builder.scalar
        while (ev := get_event()) is not None:
            if ev.__class__ is ScalarEvent:  # most events: skip the lookup
                scalar(ev)
            elif (handler := handlers(ev.__class__)) is not None:
                handler(ev)
    except yaml.YAMLError as exc:
        line, col = _mark(exc, data)
        message, fix = _describe(exc), "fix the YAML syntax at that position"
        if line is not None and col is not None and "\t" in _line_text(data, line)[: col + 1]:
            fix = "indent with spaces: YAML does not allow tabs for indentation"
        raise Located(message, fix, line, col) from None
    except RecursionError:  # pragma: no cover - the loop is iterative; belt and braces
        raise Located(f"nested more than {MAX_DEPTH} levels deep", "flatten the document") from None
    finally:
        dispose = getattr(parser, "dispose", None) if parser is not None else None
        if dispose is not None:
            dispose()
    if builder.root is _NOKEY:
        raise Located(
            "the manifest is empty (no YAML document in it)",
            "start from `batchavatars init`, or write `version: 1` and an `avatars:` list",
            0,
            0,
        )
    return builder.root, builder.problems, builder.originals


_NOKEY: Any = object()  # no pending key (the open mapping expects one) / no root yet


class _Builder:
    """Builds the document from parser events, one handler per event kind. The open containers
    are a stack (`saved`); the innermost one's state lives in attributes: container, is_map,
    anchor, weight (nodes in it, for the alias budget), the pending key and its position, merges."""

    __slots__ = (
        "resolver",
        "by_first",
        "problems",
        "originals",
        "anchors",
        "saved",
        "container",
        "is_map",
        "anchor",
        "weight",
        "key",
        "key_line",
        "key_col",
        "merges",
        "depth",
        "root",
        "documents",
        "written",
        "aliased",
    )

    def __init__(self, resolver: ScalarResolver) -> None:
        self.resolver = resolver
        self.by_first = resolver.by_first
        self.problems: list[Located] = []
        self.originals: dict[tuple[int, int], str] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.saved: list[tuple[Any, ...]] = []
        self.container: Any = None
        self.is_map = False
        self.anchor: str | None = None
        self.weight = 0
        self.key: Any = _NOKEY
        self.key_line = self.key_col = 0
        self.merges: list[tuple[Any, int, int]] | None = None
        self.depth = 0
        self.root: Any = _NOKEY
        self.documents = self.written = self.aliased = 0

    # -- events ---------------------------------------------------------------------------------------

    def scalar(self, ev: Any) -> None:
        # The hot path (most events are plain scalars in a mapping): kept inline.
        self.written += 1
        value = ev.value
        mark = ev.start_mark
        if self.is_map and self.key is _NOKEY:
            if ev.tag is None and ev.anchor is None and value != "<<":
                self.key, self.key_line, self.key_col = value, mark.line, mark.column
            else:
                self._key(ev, value, mark.line, mark.column)
            return
        line, col = mark.line, mark.column
        tag = ev.tag
        if tag is None:
            if ev.implicit[0] and value[:1] in self.by_first:
                text = value
                value = self.resolver.plain(value)
                if value.__class__ is not str:
                    self.originals[(line, col)] = text
        else:
            value = self._tagged(value, tag, line, col)
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (value, 1)
        container = self.container
        key = self.key
        if self.is_map and key.__class__ is str and key not in container:
            self.weight += 1
            self.key = _NOKEY
            container[key] = value
            container.pos.extend((self.key_line, self.key_col, line, col))
        else:
            self.attach(value, 1, line, col)

    def start(self, ev: Any) -> None:
        self.written += 1
        mark = ev.start_mark
        if self.depth >= MAX_DEPTH:
            raise Located(
                f"nested more than {MAX_DEPTH} levels deep",
                "flatten the document; a manifest needs about 6 levels",
                mark.line,
                mark.column,
            )
        tag = ev.tag
        is_map = ev.__class__ is MappingStartEvent
        if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
            self.problems.append(_bad_tag(tag, mark.line, mark.column))
        if self.depth:
            self.saved.append(
                (
                    self.container,
                    self.is_map,
                    self.anchor,
                    self.weight,
                    self.key,
                    self.key_line,
                    self.key_col,
                    self.merges,
                )
            )
        self.depth += 1
        self.container = ymap(mark.line, mark.column) if is_map else ylist(mark.line, mark.column)
        self.is_map, self.anchor, self.weight, self.key, self.merges = is_map, ev.anchor, 1, _NOKEY, None

    def end(self, ev: Any) -> None:
        value = self.container
        add = self.weight
        if self.merges is not None:
            add += _merge(value, self.merges, self.problems)
        if self.anchor is not None:
            self.anchors[self.anchor] = (value, add)
        self.depth -= 1
        if self.depth:
            (
                self.container,
                self.is_map,
                self.anchor,
                self.weight,
                self.key,
                self.key_line,
                self.key_col,
                self.merges,
            ) = self.saved.pop()
        self.attach(value, add, value.line, value.col)

    def alias(self, ev: Any) -> None:
        mark = ev.start_mark
        line, col = mark.line, mark.column
        if ev.anchor not in self.anchors:
            raise Located(
                f"alias *{ev.anchor} refers to no anchor defined before it (or to the node that contains it)",
                f"define &{ev.anchor} earlier",
                line,
                col,
            )
        value, add = self.anchors[ev.anchor]
        self.aliased += add
        if self.aliased > ALIAS_BUDGET + 10 * self.written:
            raise Located(
                "aliases expand to too many nodes (a 'billion laughs' document?)",
                "write the values out or use fewer nested aliases",
                line,
                col,
            )
        if self.is_map and self.key is _NOKEY and self.depth:
            if not isinstance(value, str):
                raise Located("a mapping key must be a plain string", "use a string key", line, col)
            self.key, self.key_line, self.key_col = value, line, col
            return
        self.attach(value, add, line, col)

    def document(self, ev: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            mark = ev.start_mark
            raise Located(
                "more than one YAML document (a second '---')",
                "keep one document per manifest file",
                mark.line,
                mark.column,
            )

    # -- parts ----------------------------------------------------------------------------------------

    def _key(self, ev: ScalarEvent, value: Any, line: int, col: int) -> None:
        """A mapping key: always its text; `<<` (plain) is a merge key."""
        tag = ev.tag
        if tag is not None and tag != STR and tag != "!":
            self.problems.append(
                Located(
                    f"tag {tag.replace(TAG, '!!')} is not allowed on a mapping key", "remove the tag", line, col, True
                )
            )
        if value == "<<" and tag is None and ev.implicit[0]:
            value = _Merge
        self.key, self.key_line, self.key_col = value, line, col
        if ev.anchor is not None:
            self.anchors[ev.anchor] = (value, 1)

    def _tagged(self, value: str, tag: str, line: int, col: int) -> Any:
        """A scalar with an explicit tag: the standard scalar types only."""
        if tag == "!" or tag == STR:  # the non-specific tag and !!str keep the text as written
            return value
        if tag not in SCALAR_TAGS:
            self.problems.append(_bad_tag(tag, line, col))
            return None
        try:
            return self.resolver.construct(tag, value)
        except (ValueError, TypeError, yaml.YAMLError):
            self.problems.append(
                Located(
                    f"{value!r} is not a valid {tag.removeprefix(TAG)}",
                    "fix the value or remove the tag",
                    line,
                    col,
                    True,
                )
            )
            return None

    def attach(self, value: Any, add: int, line: int, col: int) -> None:
        """Add `value` (`add` nodes, written at line/col) to the open container."""
        if not self.depth:
            self.root = value
            return
        self.weight += add
        container = self.container
        if not self.is_map:
            container.append(value)
            container.pos.extend((line, col))
            return
        key = self.key
        if key is _NOKEY:  # a mapping or sequence used as a key
            raise Located("a mapping key must be a plain string, not a mapping or list", "use a string key", line, col)
        self.key = _NOKEY
        if key is _Merge:
            if self.merges is None:
                self.merges = []
            self.merges.append((value, line, col))
        elif key in container:
            first_line, _ = container.key_pos(key)
            self.problems.append(
                Located(
                    f"duplicate key `{key}` in one mapping (first at line {first_line + 1})",
                    f"remove one of the two `{key}` entries",
                    self.key_line,
                    self.key_col,
                )
            )
        else:
            container[key] = value
            container.pos.extend((self.key_line, self.key_col, line, col))


class _MergeKey:
    def __repr__(self) -> str:
        return "'<<'"


_Merge = _MergeKey()


def _bad_tag(tag: str, line: int, col: int) -> Located:
    shown = tag.replace(TAG, "!!")
    return Located(
        f"YAML tag {shown} is not allowed (safe loading: plain strings, numbers, booleans, "
        "null, lists and mappings only)",
        f"remove the {shown} tag",
        line,
        col,
        stop=True,
    )


def _merge(target: YMap, sources: list[tuple[Any, int, int]], problems: list[Located]) -> int:
    """Apply `<<` merge keys: explicit keys win, then earlier merged mappings win."""
    added = 0
    for value, line, col in sources:
        maps = value if isinstance(value, YList) else [value]
        for source in maps:
            if not isinstance(source, YMap):
                problems.append(
                    Located(
                        "a merge key '<<' needs a mapping or a list of mappings",
                        "merge an anchored mapping, e.g. `<<: *defaults`",
                        line,
                        col,
                    )
                )
                break
            for i, (k, v) in enumerate(source.items()):
                if k not in target:
                    target[k] = v
                    target.pos.extend(
                        source.pos[4 * i : 4 * i + 4] if len(source.pos) >= 4 * i + 4 else (line, col, line, col)
                    )
                    added += 1
    return added
