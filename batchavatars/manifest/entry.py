"""An item on its way from validated model to ItemSpec, with what is needed to point at its fields."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..spec import Location
from ._yaml import YMap
from .problems import Problems


class Entry:
    """One avatar or look: its model, the raw mapping it came from (positions), its file and the
    folder its relative paths start at (the manifest's, or the roster's for roster rows)."""

    __slots__ = ("key", "kind", "model", "raw", "file", "base", "line", "col", "template", "avatar")

    def __init__(
        self,
        key: str,
        kind: str,
        model: Any,
        raw: Any,
        file: str,
        base: str,
        line: int,
        col: int,
        template: Any = None,
        avatar: Entry | None = None,
    ) -> None:
        self.key, self.kind, self.model, self.raw = key, kind, model, raw
        self.file, self.base, self.line, self.col = file, base, line, col
        self.template, self.avatar = template, avatar  # for template-made looks

    def location(self) -> Location:
        return Location(self.file, self.line + 1, self.col + 1)

    def at(self, name: str, *, key: bool = False) -> Location:
        """Where field `name` (its value, or its key) was written; the item's start if absent."""
        raw = self.raw
        if isinstance(raw, YMap) and name in raw:
            line, col = raw.key_pos(name) if key else raw.value_pos(name)
            return Location(self.file, line + 1, col + 1)
        return self.location()


def salvage(raw: Any, adapter: Any, problems: Problems, avatar: bool = False) -> list[tuple[int, Any]]:
    """The valid entries of a list that failed validation (its errors were already reported); the
    keys of the invalid ones are remembered so that references to them are not reported again."""
    if not isinstance(raw, list):
        return []
    good = []
    for index, item in enumerate(raw):
        try:
            good.append((index, adapter.validate_python(item)))
        except ValidationError:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                problems.invalid_keys.add(item["key"])
                if avatar:
                    problems.invalid_avatar_keys.add(item["key"])
    return good
