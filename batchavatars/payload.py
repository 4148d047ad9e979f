"""What is sent for an item: the POST /v3/avatars body and its Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .spec import FileRef, ItemSpec

KEY_PREFIX = "ba2"  # bump if the derivation changes, so old keys can never replay into new meaning


def idempotency_key(spec: ItemSpec, body: Mapping[str, Any], generation: int) -> str:
    """Derived from the whole request: a retried POST replays instead of creating twice, and a key
    is only ever replayed for the very same request (HeyGen replays a key "even if the body differs
    slightly"). The body names the parent's resolved look and group ids and the asset ids of local
    files, so a look of a re-created parent, or of another manifest's parent, gets a key of its own.

    The generation moves on only after HeyGen definitively refused or failed an attempt, because a
    replay of that key would return the same failure for 24 hours.
    """
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{KEY_PREFIX}.{spec.key}.{digest[:24]}.g{generation}"


def consent_key(reroute_url: str | None, generation: int = 0) -> str:
    """Consent is asked once per group; HeyGen scopes a key by its path, which names the group,
    so the key itself only has to name what is sent, and which time it is asked: a consent revoked
    on the account (`--refresh`) moves the record's generation on, or HeyGen would replay the old
    answer for 24 hours instead of asking again. Generation 0 keeps the key it always had."""
    digest = hashlib.sha256((reroute_url or "").encode()).hexdigest()
    return f"{KEY_PREFIX}.consent.{digest[:24]}" + (f".g{generation}" if generation else "")


def file_object(ref: FileRef, assets: Mapping[str, str]) -> dict[str, str]:
    if ref.kind == "url":
        return {"type": "url", "url": ref.value}
    if ref.kind == "asset_id":
        return {"type": "asset_id", "asset_id": ref.value}
    return {"type": "asset_id", "asset_id": assets[ref.value]}  # a local path, uploaded first


def create_body(
    spec: ItemSpec, *, parent_look_id: str | None, parent_group_id: str | None, assets: Mapping[str, str]
) -> dict[str, Any]:
    """`parent_*` are the resolved ids of spec.parent (None for items without a manifest parent)."""
    if spec.kind == "look":
        body: dict[str, Any] = {
            "type": "prompt",
            "name": spec.name,
            "prompt": spec.prompt,
            "avatar_id": parent_look_id or spec.avatar_id,
        }
        if parent_group_id:
            body["avatar_group_id"] = parent_group_id  # keeps a look of a look in the root's character
        return body
    body = {"type": spec.type, "name": spec.name}
    group = parent_group_id or spec.avatar_group_id
    if group:
        body["avatar_group_id"] = group
    if spec.type == "prompt":
        body["prompt"] = spec.prompt
        if spec.reference_images:
            body["reference_images"] = [file_object(r, assets) for r in spec.reference_images]
    elif spec.file is not None:
        body["file"] = file_object(spec.file, assets)
    return body
