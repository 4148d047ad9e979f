"""A key renamed in the manifest (`omar` → `omar-b`) must not make a second avatar (a second credit,
a second consent): a new item whose request is the very request of a record that left the manifest
is a move. Pure: no I/O.

`suggest` finds what looks like one, for plan to offer; the user confirms it (`--move omar=omar-b`)
and `moved` gives the records as they are once it is made: the record under its new key, and the
records of what was made from it under their parent's new key. Nothing is sent to HeyGen for a
move: the look stays the same look.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from .errors import UsageError
from .records import Record
from .spec import ItemSpec


def same_request(spec: ItemSpec, record: Record, parent: str | None) -> bool:
    """`spec` asks for what `record` was made from, but for its key and (named `parent` there) its parent's key."""
    return dataclasses.replace(spec, key=record.key, parent=parent).spec_hash == record.spec_hash


def suggest(items: Iterable[ItemSpec], records: Mapping[str, Record]) -> dict[str, str]:
    """New key -> the vanished key whose request it repeats, where exactly one does (a parent's
    own move taken into account: `omar-office` under `omar-b` may be `omar-office` under `omar`)."""
    items = list(items)
    in_manifest = {s.key for s in items}
    vanished = [r for key, r in records.items() if key not in in_manifest]
    found: dict[str, str] = {}
    if not vanished:
        return found
    taken: set[str] = set()
    for spec in items:  # manifest order: a parent's move is known before its children's
        if spec.key in records:
            continue
        parent = found.get(spec.parent, spec.parent) if spec.parent else None
        matches = [r for r in vanished if r.key not in taken and r.parent == parent and same_request(spec, r, parent)]
        if len(matches) == 1:
            found[spec.key] = matches[0].key
            taken.add(matches[0].key)
    return found


def moved(items: Iterable[ItemSpec], records: Mapping[str, Record], moves: Mapping[str, str]) -> dict[str, Record]:
    """The records once each move (old key -> new key) is made. A move that does not fit (no such
    record, a key still in the manifest, another request) is a UsageError saying why."""
    by_key = {s.key: s for s in items}
    back = {new: old for old, new in moves.items()}
    out = dict(records)
    for old, new in moves.items():
        spec = by_key.get(new)
        _check(old, new, spec, records, still_there=old in by_key)
        assert spec is not None
        record = records[old]
        parent = back.get(spec.parent, spec.parent) if spec.parent else None
        if record.parent != parent or not same_request(spec, record, parent):
            raise UsageError(
                f"--move {old}={new}: {new} does not ask for what {old} was made from. "
                f"Fix: leave the move out; `--replace {new}` makes a new one"
            )
        del out[old]
        out[new] = _as(record, spec)
    for key, record in list(out.items()):  # made from a moved item, under its own key still
        spec, parent = by_key.get(key), record.parent
        if spec is None or parent is None or parent not in moves or key in back or spec.parent != moves[parent]:
            continue
        if same_request(spec, record, parent):
            out[key] = _as(record, spec)
    return out


def _check(old: str, new: str, spec: ItemSpec | None, records: Mapping[str, Record], *, still_there: bool) -> None:
    if still_there:
        raise UsageError(f"--move {old}={new}: {old} is still in the manifest. Fix: move only a key that left it")
    if old not in records:
        raise UsageError(f"--move {old}={new}: the ledger has no item {old}. Fix: name a key `plan` lists as prune")
    if spec is None:
        raise UsageError(f"--move {old}={new}: the manifest has no item {new}. Fix: name the item's new key")
    if new in records:
        raise UsageError(f"--move {old}={new}: {new} is in the ledger already. Fix: leave the move out")


def _as(record: Record, spec: ItemSpec) -> Record:
    return dataclasses.replace(
        record, key=spec.key, parent=spec.parent, spec_hash=spec.spec_hash, spec_fields=spec.spec_fields
    )


def parse(pairs: Iterable[str]) -> dict[str, str]:
    """`OLD=NEW` from the command line; a usage error naming the one that is not."""
    moves: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise UsageError(f"--move {pair!r} is not OLD=NEW. Fix: e.g. --move omar=omar-b")
        moves[old.strip()] = new.strip()
    return moves
