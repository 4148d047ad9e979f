"""Whose look is it? Two ledgers of one manifest (a folder copied to experiment, a ledger lost and
started again) send the same request under the same content-derived Idempotency-Key, and HeyGen
replays the first one's answer to the second: no second avatar, which is right, but the second
ledger must not take the look for its own, or its `prune` deletes a look the first still lists.

So the answer to a key sent for the first time is the ledger's own creation only if the look did
not exist before: not among the account's looks listed before the run sent anything, and (for a
new avatar) not in a group HeyGen made before the request left. Otherwise it is recorded as
adopted, which `prune` and `--delete-replaced` leave alone. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .records import Record

# A group made this long before our request left was not made by it (clock skew between us and
# HeyGen stays well under this; a replay of another ledger's request is usually hours older).
SKEW = 30.0


def first_sends(keys: Iterable[str], records: Mapping[str, Record]) -> bool:
    """Whether any of these items may send a key for the first time this run (no look, no key yet)."""
    return any((r := records.get(k)) is None or (r.idempotency_key is None and r.look_id is None) for k in keys)


class Owners:
    """What the account held before this run sent anything: the looks a first answer must not be."""

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._existing = frozenset(existing)

    def made_elsewhere(
        self, look: Mapping[str, Any], group: Mapping[str, Any], sent_at: str | None, *, new_group: bool
    ) -> bool:
        """The answer to a first send replays another ledger's creation (see the module's docstring)."""
        if str(look.get("id")) in self._existing:
            return True
        created = group.get("created_at")
        if not new_group or sent_at is None or not isinstance(created, int | float) or isinstance(created, bool):
            return False
        return float(created) < datetime.fromisoformat(sent_at).timestamp() - SKEW
