"""The simulated account's state: its config, avatars, assets, limits and counters.

All of it is touched only from the event loop, between awaits, so no locks are needed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._assets import AssetStore
from ._avatars import AvatarStore
from ._idempotency import IdempotencyStore
from ._ratelimit import TokenBucket
from ._stats import Stats
from .config import SandboxConfig

if TYPE_CHECKING:
    from ._world import WorldFile


class SandboxState:
    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config.copy_config()  # a copy: creations spend its credits
        self.clock = clock
        self.world: WorldFile | None = None  # where the world is saved, if it is (set by SandboxApp)
        self.reset()

    def reset(self) -> None:
        """Forget everything but the config; a saved world becomes a new world."""
        if self.world is not None:
            self.world.restart("reset by POST /_sandbox/reset")
        cfg = self.config
        self.rng = random.Random(cfg.seed)
        self.avatars = AvatarStore()
        self.assets = AssetStore()
        self.stats = Stats()
        self.idempotency = IdempotencyStore()
        self.bucket = TokenBucket(cfg.rate_limit, cfg.bucket_size, self.clock())
        self.fault_routes = None if cfg.fault_routes is None else frozenset(cfg.fault_routes)

    def restore(self, avatars: AvatarStore, assets: AssetStore, idempotency: IdempotencyStore) -> None:
        """Take a saved world's stores. Approvals not reached yet follow this start's
        `consent_approval_seconds`, as a change of the setting at runtime would."""
        self.avatars, self.assets, self.idempotency = avatars, assets, idempotency
        avatars.retime_approvals(self.config.consent_approval_seconds, self.clock())

    def configure(self, changes: dict[str, Any]) -> SandboxConfig:
        cfg = self.config.updated(changes)
        self.config = cfg
        if "seed" in changes:
            self.rng = random.Random(cfg.seed)
        if "rate_limit" in changes or "rate_burst" in changes:
            self.bucket.reconfigure(cfg.rate_limit, cfg.bucket_size, self.clock())
        if "consent_approval_seconds" in changes:
            self.avatars.retime_approvals(cfg.consent_approval_seconds, self.clock())
        self.fault_routes = None if cfg.fault_routes is None else frozenset(cfg.fault_routes)
        return cfg

    def snapshot(self) -> dict[str, Any]:
        stats, avatars = self.stats, self.avatars
        now = self.clock()
        return {
            "requests": dict(stats.requests),
            "requests_total": sum(stats.requests.values()),
            "responses": {str(status): n for status, n in sorted(stats.responses.items())},
            "created": {
                "looks": avatars.created_looks,
                "groups": avatars.created_groups,
                "assets": self.assets.created,
            },
            "renamed": avatars.renamed,
            "deleted": {"looks": avatars.deleted_looks, "groups": avatars.deleted_groups},
            "duplicates": avatars.duplicates,
            "rate_limited": {**stats.rate_limited, "total": sum(stats.rate_limited.values())},
            "faults": dict(stats.faults),
            "consent_requests": {
                "total": sum(avatars.consent_requests.values()),
                "by_group": dict(avatars.consent_requests),
            },
            "uploads": {**stats.uploads, "by_sha256": dict(stats.uploads_by_sha256)},
            "idempotent_replays": stats.idempotent_replays,
            "conflicts_409": stats.conflicts_409,
            "complete_conflicts": stats.complete_conflicts,
            "complete_with_idempotency_key": stats.complete_with_idempotency_key,
            "creations_with_unready_asset": stats.creations_with_unready_asset,
            "null_avatar_items": stats.null_avatar_items,
            "training_now": avatars.training.count(now),
            "training_peak": avatars.training.peak,
            "credits_remaining": self.config.credits,
        }
