"""Finding the manifest's items on the account: `run --adopt` (after a lost ledger, or beyond the
24-hour Idempotency-Key window) and the replay-window look-up of keys sent too long ago without a
recorded answer.

A match is by name and parent: an avatar by its name (within its character when it joins one);
a look by its name within its parent's character. Exactly one candidate is adopted; several are
reported as ambiguous and left for the user, never guessed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from .apierrors import AuthFailed
from .client import HeyGenClient, Page
from .errors import AuthError, ServiceError
from .events import Reporter
from .ledger import LedgerStore
from .lifecycle import ItemBook, new_record
from .records import SENT, Record, Status
from .requester import ItemFailed, Requester
from .spec import ItemSpec

# A missing status is unknown, not done: "training" gets the look polled (and confirmed) before use.
_STATUS = {"completed": Status.SUCCEEDED, "processing": Status.TRAINING, "pending_consent": Status.AWAITING_CONSENT}


def stale_intents(records: Mapping[str, Record], *, now: float, window: float) -> list[str]:
    """Keys sent longer ago than `window` (seconds, epoch `now`) whose answer was never recorded.
    HeyGen replays a key for 24 hours only: these must be looked up on the account before anything
    is sent again, or the replay would create a second avatar. Pure: no I/O."""
    stale = []
    for record in records.values():
        if record.status not in SENT or record.look_id:
            continue
        sent = record.sent_at or record.updated_at  # a 0.1 ledger has no sent_at: its last update
        if sent and now - datetime.fromisoformat(sent).timestamp() >= window:
            stale.append(record.key)
    return stale


async def account_looks(client: HeyGenClient, requests: Requester) -> list[dict[str, Any]]:
    """Every private look of the account (50 a page), for adoption and for telling whose a look is."""
    return await _all(lambda token: client.list_looks(token=token), requests)


async def _all(fetch: Callable[[str | None], Awaitable[Page]], requests: Requester) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = await requests.call(partial(fetch, token), what="adopt")
        except ItemFailed as failure:
            error = AuthError if isinstance(failure.error, AuthFailed) else ServiceError
            raise error(
                f"could not list the account's looks ({failure.code}: {failure.message}). "
                "Fix: check the key and --base-url, then run again"
            ) from None
        items.extend(page.items)
        if not page.next_token:
            return items
        token = page.next_token


def _depth(spec: ItemSpec, by_key: dict[str, ItemSpec]) -> int:
    depth = 0
    while spec.parent is not None and spec.parent in by_key:
        spec = by_key[spec.parent]
        depth += 1
    return depth


class _Account:
    """The account's looks, indexed for matching: by name (failed ones left out), the group of
    each look, the looks some record holds already, and the group each matched key lives in."""

    def __init__(self, looks: list[dict[str, Any]], records: Mapping[str, Record]) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        for look in looks:
            if look.get("status") != "failed":
                self.by_name.setdefault(str(look.get("name")), []).append(look)
        self.look_group = {str(look.get("id")): look.get("group_id") for look in looks}
        self.taken = {r.look_id for r in records.values() if r.look_id}
        self.group_of: dict[str, str | None] = {k: r.group_id for k, r in records.items()}

    def candidates(self, spec: ItemSpec) -> list[dict[str, Any]] | None:
        """The looks that could be this item; None when its manifest parent is not on the account
        (then neither is the item)."""
        if spec.parent is not None:
            want_group = self.group_of.get(spec.parent)
            if want_group is None:
                return None
        elif spec.kind == "look":
            want_group = self.look_group.get(spec.avatar_id or "")
        else:
            want_group = spec.avatar_group_id
        return [
            look
            for look in self.by_name.get(spec.name, [])
            if look.get("id") not in self.taken and (want_group is None or look.get("group_id") == want_group)
        ]

    def take(self, spec: ItemSpec, look: dict[str, Any]) -> None:
        self.taken.add(str(look.get("id")))
        self.group_of[spec.key] = look.get("group_id")


def adopt_existing(
    items: Iterable[ItemSpec],
    ledger: LedgerStore,
    looks: list[dict[str, Any]],
    report: Reporter,
    origin: str | None = "adopted",
) -> tuple[list[str], dict[str, list[str]]]:
    """Match `items` with the account's `looks` (account_looks). Returns the adopted keys (their
    records are in the ledger) and the ambiguous ones with the ids of their candidates: those are
    for the caller to hold back, as creating one would be a guess too. `origin` "adopted": found,
    not made by this ledger; None: a key of ours found again."""
    items = list(items)
    records = ledger.records()
    todo = [s for s in items if not (records.get(s.key) and records[s.key].look_id)]
    adopted: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    if not todo:
        return adopted, ambiguous
    account = _Account(looks, records)
    book = ItemBook(ledger)
    by_key = {s.key: s for s in items}
    for spec in sorted(todo, key=lambda s: _depth(s, by_key)):
        candidates = account.candidates(spec)
        if not candidates:
            continue
        if len(candidates) > 1:
            ambiguous[spec.key] = [str(c.get("id")) for c in candidates]
            report("adopt_ambiguous", key=spec.key, candidates=ambiguous[spec.key])
            continue
        look = candidates[0]
        account.take(spec, look)
        record = records.get(spec.key)
        if record is None:
            record = new_record(spec)
            ledger.put(record)
        status = _STATUS.get(str(look.get("status")), Status.TRAINING)
        book.adopt(record, look, status, spec, origin)
        adopted.append(spec.key)
        report("adopted", key=spec.key, look_id=record.look_id, group_id=record.group_id, status=record.status)
    return adopted, ambiguous
