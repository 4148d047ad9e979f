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

from array import array
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

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

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


class YMap(dict[Any, Any]):
    """A mapping with positions: `line`/`col` of the mapping, and per key (in insertion order)
    the key's and the value's line and column, flat in `pos`."""

    # No per-instance __dict__. mypy does not read __slots__: the annotations declare the attributes,
    # which are set right after construction (ymap(), read_roster()).
    __slots__ = ("line", "col", "pos")
    line: int
    col: int
    pos: array[int]

    def _index(self, key: Any) -> int | None:
        for i, k in enumerate(self):
            if k == key and type(k) is type(key):
                return i
        return None

    def key_pos(self, key: Any) -> tuple[int, int]:
        i = self._index(key)
        if i is None or len(self.pos) < 4 * i + 4:
            return self.line, self.col
        return self.pos[4 * i], self.pos[4 * i + 1]

    def value_pos(self, key: Any) -> tuple[int, int]:
        i = self._index(key)
        if i is None or len(self.pos) < 4 * i + 4:
            return self.line, self.col
        return self.pos[4 * i + 2], self.pos[4 * i + 3]


class YList(list[Any]):
    """A sequence with positions: `line`/`col` of the sequence and of each item, flat in `pos`."""

    __slots__ = ("line", "col", "pos")  # as for YMap; set by ylist()
    line: int
    col: int
    pos: array[int]

    def item_pos(self, index: int) -> tuple[int, int]:
        if 0 <= index < len(self) and len(self.pos) >= 2 * index + 2:
            return self.pos[2 * index], self.pos[2 * index + 1]
        return self.line, self.col


def ymap(line: int, col: int) -> YMap:
    m = YMap()
    m.line, m.col, m.pos = line, col, array("i")
    return m


def ylist(line: int, col: int) -> YList:
    s = YList()
    s.line, s.col, s.pos = line, col, array("i")
    return s


class YamlProblem(Exception):
    """Fatal: the document cannot be read as one safe YAML mapping. Positions are 0-based."""

    def __init__(
        self, message: str, line: int | None, col: int | None, fix: str | None = None, stop: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.line, self.col, self.fix = message, line, col, fix
        self.stop = stop  # as a returned problem: the data is not worth validating further


class _Resolver:
    """YAML 1.1 implicit typing of plain scalars (what safe_load does), made fast."""

    def __init__(self) -> None:
        self.by_first = {k: list(v) for k, v in Resolver.yaml_implicit_resolvers.items()}
        self.ctor = SafeConstructor()

    def plain(self, value: str) -> Any:
        resolvers = self.by_first.get(value[:1])
        if resolvers is None:
            return value
        for tag, regexp in resolvers:
            if regexp.match(value):
                try:
                    return self.construct(tag, value)
                except (ValueError, OverflowError, TypeError):
                    return value  # looks typed but is not (2024-13-45, a 5000-digit number): keep the text
        return value

    def construct(self, tag: str, value: str) -> Any:
        if tag == _STR or tag == _TAG + "merge" or tag == _TAG + "value":
            return value
        node = ScalarNode(tag, value)
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return self.ctor.construct_yaml_bool(node)
        if tag == _TAG + "int":
            return self.ctor.construct_yaml_int(node)
        if tag == _TAG + "float":
            return self.ctor.construct_yaml_float(node)
        if tag == _TAG + "timestamp":
            return self.ctor.construct_yaml_timestamp(node)
        return value  # pragma: no cover - no other implicit resolvers exist


_RESOLVER: _Resolver | None = None


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


def load(data: bytes) -> tuple[Any, list[YamlProblem], dict[tuple[int, int], str]]:
    """Parse one YAML document from UTF-8 `data` into YMap/YList/scalars.

    Raises YamlProblem for what makes the whole document unusable (syntax errors, several
    documents, too deep, alias bombs, undefined aliases). Returns non-fatal problems (duplicate
    keys, refused tags) alongside the data; the caller decides. The third result maps the position
    of each plain scalar YAML typed as something else than a string (`yes`, `2024-01-01`) to its text.
    """
    global _RESOLVER
    if _RESOLVER is None:
        _RESOLVER = _Resolver()
    resolver = _RESOLVER
    by_first = resolver.by_first
    problems: list[YamlProblem] = []
    originals: dict[tuple[int, int], str] = {}
    anchors: dict[str, tuple[Any, int]] = {}
    # The open containers, innermost last; the innermost one's state lives in locals:
    # container, is_map, anchor, weight, pending key (nokey: expecting a key), key line/col, merges.
    saved: list[tuple[Any, ...]] = []
    nokey: Any = saved  # any unique sentinel
    container: Any = None
    is_map = False
    anchor: str | None = None
    weight = 0
    key: Any = nokey
    key_line = key_col = 0
    merges: list[tuple[Any, int, int]] | None = None
    depth = 0
    root: Any = nokey
    documents = 0
    written = 0
    aliased = 0
    parser: Any = None
    try:
        parser = _parser(data)  # the pure-Python reader already checks characters here
        get_event = parser.get_event
        while True:
            ev = get_event()
            if ev is None:
                break
            cls = ev.__class__
            if cls is ScalarEvent:
                written += 1
                value = ev.value
                tag = ev.tag
                mark = ev.start_mark
                if is_map and key is nokey:
                    # A mapping key: always its text; `<<` (plain) is a merge key.
                    if tag is not None and tag != _STR and tag != "!":
                        problems.append(
                            YamlProblem(
                                f"tag {tag.replace(_TAG, '!!')} is not allowed on a mapping key",
                                mark.line,
                                mark.column,
                                "remove the tag",
                                stop=True,
                            )
                        )
                    if value == "<<" and tag is None and ev.implicit[0]:
                        value = _Merge
                    key, key_line, key_col = value, mark.line, mark.column
                    if ev.anchor is not None:
                        anchors[ev.anchor] = (value, 1)
                    continue
                line, col = mark.line, mark.column
                if tag is None:
                    if ev.implicit[0] and value[:1] in by_first:
                        text = value
                        value = resolver.plain(value)
                        if value.__class__ is not str:
                            originals[(line, col)] = text
                elif tag == "!" or tag == _STR:
                    pass
                elif tag in _SCALAR_TAGS:
                    try:
                        value = resolver.construct(tag, value)
                    except (ValueError, TypeError, yaml.YAMLError):
                        problems.append(
                            YamlProblem(
                                f"{value!r} is not a valid {tag.removeprefix(_TAG)}",
                                line,
                                col,
                                "fix the value or remove the tag",
                                stop=True,
                            )
                        )
                        value = None
                else:
                    problems.append(_bad_tag(tag, line, col))
                    value = None
                if ev.anchor is not None:
                    anchors[ev.anchor] = (value, 1)
                add = 1
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                written += 1
                mark = ev.start_mark
                if depth >= MAX_DEPTH:
                    raise YamlProblem(
                        f"nested more than {MAX_DEPTH} levels deep",
                        mark.line,
                        mark.column,
                        "flatten the document; a manifest needs about 6 levels",
                    )
                tag = ev.tag
                new_is_map = cls is MappingStartEvent
                if tag is not None and tag != "!" and tag != (_MAP if new_is_map else _SEQ):
                    problems.append(_bad_tag(tag, mark.line, mark.column))
                if depth:
                    saved.append((container, is_map, anchor, weight, key, key_line, key_col, merges))
                depth += 1
                container = ymap(mark.line, mark.column) if new_is_map else ylist(mark.line, mark.column)
                is_map, anchor, weight, key, merges = new_is_map, ev.anchor, 1, nokey, None
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                value = container
                add = weight
                if merges is not None:
                    add += _merge(value, merges, problems)
                if anchor is not None:
                    anchors[anchor] = (value, add)
                line, col = value.line, value.col
                depth -= 1
                if depth:
                    container, is_map, anchor, weight, key, key_line, key_col, merges = saved.pop()
            elif cls is AliasEvent:
                mark = ev.start_mark
                line, col = mark.line, mark.column
                if ev.anchor not in anchors:
                    raise YamlProblem(
                        f"alias *{ev.anchor} refers to no anchor defined before it (or to the node that contains it)",
                        line,
                        col,
                        f"define &{ev.anchor} earlier",
                    )
                value, add = anchors[ev.anchor]
                aliased += add
                if aliased > ALIAS_BUDGET + 10 * written:
                    raise YamlProblem(
                        "aliases expand to too many nodes (a 'billion laughs' document?)",
                        line,
                        col,
                        "write the values out or use fewer nested aliases",
                    )
                if is_map and key is nokey and depth:
                    if not isinstance(value, str):
                        raise YamlProblem("a mapping key must be a plain string", line, col, "use a string key")
                    key, key_line, key_col = value, line, col
                    continue
            elif cls is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    mark = ev.start_mark
                    raise YamlProblem(
                        "more than one YAML document (a second '---')",
                        mark.line,
                        mark.column,
                        "keep one document per manifest file",
                    )
                continue
            else:  # stream start/end, document end
                continue

            # Attach `value` (adding `add` nodes, at line/col) to the open container.
            if not depth:
                root = value
                continue
            weight += add
            if not is_map:
                container.append(value)
                container.pos.extend((line, col))
                continue
            if key is nokey:  # a mapping or sequence used as a key
                raise YamlProblem(
                    "a mapping key must be a plain string, not a mapping or list", line, col, "use a string key"
                )
            if key is _Merge:
                if merges is None:
                    merges = []
                merges.append((value, line, col))
            elif key in container:
                first_line, _ = container.key_pos(key)
                problems.append(
                    YamlProblem(
                        f"duplicate key `{key}` in one mapping (first at line {first_line + 1})",
                        key_line,
                        key_col,
                        f"remove one of the two `{key}` entries",
                    )
                )
            else:
                container[key] = value
                container.pos.extend((key_line, key_col, line, col))
            key = nokey
    except yaml.YAMLError as exc:
        line, col = _mark(exc, data)
        message, fix = _describe(exc), "fix the YAML syntax at that position"
        if line is not None and col is not None and "\t" in _line_text(data, line)[: col + 1]:
            fix = "indent with spaces: YAML does not allow tabs for indentation"
        raise YamlProblem(message, line, col, fix) from None
    except RecursionError:  # pragma: no cover - the loop is iterative; belt and braces
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", None, None, "flatten the document") from None
    finally:
        dispose = getattr(parser, "dispose", None) if parser is not None else None
        if dispose is not None:
            dispose()
    if root is nokey:
        raise YamlProblem(
            "the manifest is empty (no YAML document in it)",
            0,
            0,
            "start from `batchavatars init`, or write `version: 1` and an `avatars:` list",
        )
    return root, problems, originals


class _MergeKey:
    def __repr__(self) -> str:
        return "'<<'"


_Merge = _MergeKey()


def _bad_tag(tag: str, line: int, col: int) -> YamlProblem:
    shown = tag.replace(_TAG, "!!")
    return YamlProblem(
        f"YAML tag {shown} is not allowed (safe loading: plain strings, numbers, booleans, "
        "null, lists and mappings only)",
        line,
        col,
        f"remove the {shown} tag",
        stop=True,
    )


def _merge(target: YMap, sources: list[tuple[Any, int, int]], problems: list[YamlProblem]) -> int:
    """Apply `<<` merge keys: explicit keys win, then earlier merged mappings win."""
    added = 0
    for value, line, col in sources:
        maps = value if isinstance(value, YList) else [value]
        for source in maps:
            if not isinstance(source, YMap):
                problems.append(
                    YamlProblem(
                        "a merge key '<<' needs a mapping or a list of mappings",
                        line,
                        col,
                        "merge an anchored mapping, e.g. `<<: *defaults`",
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
