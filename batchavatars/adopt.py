"""`run --adopt`: find the manifest's items on the account and adopt exact matches into the ledger,
for when the ledger was lost or the 24-hour Idempotency-Key window has passed.

A match is by name and parent: an avatar by its name (within its character when it joins one);
a look by its name within its parent's character. Exactly one candidate is adopted; several are
reported as ambiguous and left for the user, never guessed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from .client import HeyGenClient, Page
from .errors import AuthError, ServiceError
from .ledger import Ledger
from .records import Record
from .requester import Requester
from .scheduler import ItemFailed
from .spec import ItemSpec

# A missing status is unknown, not done: "training" gets the look polled (and confirmed) before use.
_STATUS = {"completed": "succeeded", "processing": "training", "pending_consent": "awaiting_consent"}


async def _all(fetch: Callable[[str | None], Awaitable[Page]], requests: Requester) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = await requests.call(partial(fetch, token), what="adopt")
        except ItemFailed as failure:
            error = AuthError if failure.code in ("unauthorized", "forbidden") else ServiceError
            raise error(
                f"--adopt could not list the account's looks ({failure.code}: {failure.message}). "
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


async def adopt_existing(
    items: Iterable[ItemSpec],
    book: Ledger,
    client: HeyGenClient,
    requests: Requester,
    report: Callable[..., None],
    origin: str | None = "adopted",
) -> tuple[list[str], dict[str, list[str]]]:
    """Returns the adopted keys (their records are in the ledger) and the ambiguous ones with the
    ids of their candidates: those are for the caller to hold back, as creating one would be a guess too."""
    items = list(items)
    records = book.records()
    todo = [s for s in items if not (records.get(s.key) and records[s.key].look_id)]
    adopted: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    if not todo:
        return adopted, ambiguous
    looks = await _all(lambda token: client.list_looks(token=token), requests)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for look in looks:
        if look.get("status") != "failed":
            by_name.setdefault(str(look.get("name")), []).append(look)
    by_key = {s.key: s for s in items}
    group_of: dict[str, str | None] = {k: r.group_id for k, r in records.items()}
    look_group = {str(look.get("id")): look.get("group_id") for look in looks}
    taken = {r.look_id for r in records.values() if r.look_id}
    for spec in sorted(todo, key=lambda s: _depth(s, by_key)):
        if spec.parent is not None:
            want_group = group_of.get(spec.parent)
            if want_group is None:
                continue  # the parent is not on the account: neither is its child
        elif spec.kind == "look":
            want_group = look_group.get(spec.avatar_id or "")
        else:
            want_group = spec.avatar_group_id
        candidates = [
            lk
            for lk in by_name.get(spec.name, [])
            if lk.get("id") not in taken and (want_group is None or lk.get("group_id") == want_group)
        ]
        if len(candidates) > 1:
            ambiguous[spec.key] = [str(c.get("id")) for c in candidates]
            report("adopt_ambiguous", key=spec.key, candidates=ambiguous[spec.key])
            continue
        if not candidates:
            continue
        look = candidates[0]
        taken.add(str(look.get("id")))
        group_of[spec.key] = look.get("group_id")
        record = records.get(spec.key) or Record(
            key=spec.key,
            kind=spec.kind,
            type=spec.type,
            name=spec.name,
            parent=spec.parent,
            status="pending",
            spec_hash=spec.spec_hash,
        )
        record.look_id, record.group_id = look.get("id"), look.get("group_id")
        record.status = _STATUS.get(str(look.get("status")), "training")
        record.preview_image_url = look.get("preview_image_url")
        record.spec_hash = spec.spec_hash
        record.origin = origin  # "adopted": not made by this ledger, never deleted by it without --include-adopted
        record.error_code = record.error_message = record.error_source = None
        book.put(record)
        adopted.append(spec.key)
        report("adopted", key=spec.key, look_id=record.look_id, group_id=record.group_id, status=record.status)
    return adopted, ambiguous
