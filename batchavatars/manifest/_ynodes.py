"""The loaded data's node types (mappings and sequences that know where each part was written) and
the fast implicit typing of plain scalars."""

from __future__ import annotations

from array import array
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

TAG = "tag:yaml.org,2002:"
STR = TAG + "str"
SCALAR_TAGS = {TAG + t for t in ("str", "int", "float", "bool", "null")}


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


class ScalarResolver:
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
        if tag == STR or tag == TAG + "merge" or tag == TAG + "value":
            return value
        node = ScalarNode(tag, value)
        if tag == TAG + "null":
            return None
        if tag == TAG + "bool":
            return self.ctor.construct_yaml_bool(node)
        if tag == TAG + "int":
            return self.ctor.construct_yaml_int(node)
        if tag == TAG + "float":
            return self.ctor.construct_yaml_float(node)
        if tag == TAG + "timestamp":
            return self.ctor.construct_yaml_timestamp(node)
        return value  # pragma: no cover - no other implicit resolvers exist
