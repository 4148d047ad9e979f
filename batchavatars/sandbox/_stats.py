"""Counters the tests and benchmarks read through GET /_sandbox/stats."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # "METHOD /route/template" -> n
    responses: Counter[int] = field(default_factory=Counter)  # HTTP status -> n, as decided by the sandbox
    rate_limited: Counter[str] = field(default_factory=lambda: Counter(rate=0, concurrency=0, burst=0))
    faults: Counter[str] = field(default_factory=lambda: Counter({"5xx": 0, "lost_response": 0, "drop": 0, "slow": 0}))
    uploads: Counter[str] = field(
        default_factory=lambda: Counter(multipart=0, direct=0, puts_without_content_type=0)
    )  # puts_without_content_type: storage PUTs refused for sending none
    uploads_by_sha256: Counter[str] = field(default_factory=Counter)
    idempotent_replays: int = 0
    conflicts_409: int = 0  # Idempotency-Key in flight
    complete_conflicts: int = 0  # /complete answered 409 upload_not_found
    null_avatar_items: int = 0  # creations answered with "avatar_item": null
    creations_with_unready_asset: int = 0  # creates refused 400 asset_not_available (queued or processing)
    complete_with_idempotency_key: int = 0  # /complete calls carrying a key HeyGen documents none for

    def upload(self, kind: str, sha256: str) -> None:
        self.uploads[kind] += 1
        self.uploads_by_sha256[sha256] += 1
