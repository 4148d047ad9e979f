"""Which manifest items a run takes: --only, --exclude and --replace patterns (keys or globs).
Pure: no I/O. A pattern that matches nothing is a mistake worth stopping for (a typo in --only
would otherwise select nothing and exit 0), named with the closest keys."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence

from .errors import UsageError
from .spec import ItemSpec


def matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def check_patterns(option: str, patterns: Sequence[str], keys: Sequence[str]) -> None:
    """Exit 2 (UsageError) naming every pattern that matches no key, with the closest keys."""
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(k, p) for k in keys)]
    if not unmatched:
        return
    lines = []
    for pattern in unmatched:
        close = difflib.get_close_matches(pattern.replace("*", "").replace("?", ""), keys, n=3, cutoff=0.5)
        hint = f" (closest: {', '.join(close)})" if close else ""
        lines.append(f"{option} {pattern!r} matches no item{hint}")
    raise UsageError("; ".join(lines) + ". Fix: use keys from the manifest (`batchavatars plan` lists them)")


def descendants(key: str, children: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    stack = list(children.get(key, ()))
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(children.get(child, ()))
    return out


def select(items: Iterable[ItemSpec], only: Sequence[str], exclude: Sequence[str]) -> tuple[list[ItemSpec], list[str]]:
    """--only/--exclude by key or glob. An excluded item's descendants are excluded too (they need
    it); a parent a selected item needs is included. Both are said in the notes."""
    items = list(items)
    keys = [s.key for s in items]
    check_patterns("--only", only, keys)
    check_patterns("--exclude", exclude, keys)
    by_key = {s.key: s for s in items}
    notes: list[str] = []
    excluded = _excluded(items, exclude, _children(items, by_key), notes)
    chosen = {s.key for s in items if (not only or matches(s.key, only)) and s.key not in excluded}
    _add_parents(chosen, by_key, notes)
    return [s for s in items if s.key in chosen], sorted(set(notes))


def _children(items: Sequence[ItemSpec], by_key: dict[str, ItemSpec]) -> dict[str, list[str]]:
    """Parent key → the keys of the items made from it (parents outside the manifest left out)."""
    children: dict[str, list[str]] = {}
    for spec in items:
        if spec.parent is not None and spec.parent in by_key:
            children.setdefault(spec.parent, []).append(spec.key)
    return children


def _excluded(
    items: Sequence[ItemSpec], exclude: Sequence[str], children: dict[str, list[str]], notes: list[str]
) -> set[str]:
    """The keys --exclude matches, and their descendants (noted in `notes`): they need what is excluded."""
    excluded = {s.key for s in items if matches(s.key, exclude)}
    for key in sorted(excluded):
        below = [k for k in descendants(key, children) if k not in excluded]
        if below:
            notes.append(f"{', '.join(sorted(below))} excluded too: made from {key}")
            excluded.update(below)
    return excluded


def _add_parents(chosen: set[str], by_key: dict[str, ItemSpec], notes: list[str]) -> None:
    """Add to `chosen` every parent a chosen item needs, up the chain, each noted in `notes` (naming
    the first item in manifest order that needs it, so the same input gives the same notes)."""
    for key in [k for k in by_key if k in chosen]:
        spec = by_key[key]
        while spec.parent is not None and spec.parent in by_key:
            parent = spec.parent
            if parent not in chosen:
                chosen.add(parent)
                notes.append(f"{parent} included: {spec.key} needs it")
            spec = by_key[parent]
