"""`batchavatars prune`: delete the looks of items no longer in the manifest, and forget them.

Only what this ledger made is ever deleted (adopted looks only with --include-adopted), and only
with --yes; without it the command lists what it would delete. A look already gone (404) counts as
deleted. Each pruned record keeps a history row (`export --history`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial

from .api import RunSettings, api_server, ledger_path, settings
from .client import HeyGenClient
from .credentials import api_key_from_env
from .ledger import Ledger
from .manifest import Manifest, load_manifest
from .planner import build_plan
from .records import Record
from .requester import Requester
from .retry import RetryPolicy
from .scheduler import ItemFailed


@dataclass(slots=True)
class Pruned:
    """What prune found and did: records to delete, kept (adopted), deleted, failed to delete."""

    candidates: list[Record] = field(default_factory=list)
    kept: list[Record] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def candidates(manifest: Manifest, book: Ledger, *, include_adopted: bool) -> Pruned:
    found = Pruned()
    for record in build_plan(manifest.items, book.records()).prune:
        adopted = record.origin == "adopted" and not include_adopted
        (found.kept if adopted else found.candidates).append(record)
    return found


async def aprune(
    manifest: str | os.PathLike[str] | Manifest, *, yes: bool = False, include_adopted: bool = False, **changes: object
) -> Pruned:
    chosen: RunSettings = settings(**changes)
    loaded = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    book = Ledger(ledger_path(loaded, chosen.ledger, sandbox=chosen.sandbox), create=False)
    try:
        found = candidates(loaded, book, include_adopted=include_adopted)
        if not yes or not found.candidates:
            return found
        api_key = "sandbox-key" if chosen.sandbox else (chosen.api_key or api_key_from_env())
        with book.exclusive(), api_server(chosen) as url:
            async with HeyGenClient(url, api_key) as client:
                requests = Requester.alone(RetryPolicy(max_attempts=chosen.max_attempts), chosen.on_event)
                for record in found.candidates:
                    await _prune_one(book, client, requests, record, found)
    finally:
        book.close()
    return found


async def _prune_one(book: Ledger, client: HeyGenClient, requests: Requester, record: Record, found: Pruned) -> None:
    if record.look_id:
        try:
            await requests.call(partial(client.delete_look, record.look_id), what="delete", item=record.key)
        except ItemFailed as failure:
            found.failed[record.key] = f"{failure.code}: {failure.message}"
            return
        book.add_history(record, why="pruned")
        book.mark_deleted(record.look_id)
    book.remove(record.key)
    found.deleted.append(record.key)
