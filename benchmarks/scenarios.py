"""The benchmark scenarios: what is created, against which simulated account, and the lower bound
no runner can beat on that account.

Scenario avatars are photo avatars and looks are prompt looks, so no runner needs consent logic
(digital twins would wait on POST /v3/avatars/{group_id}/consent and a human; none here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchavatars.spec import FileRef, ItemSpec, Location

HERE = Location("benchmark", 1, 1)

# The account every timed scenario simulates: 20 req/s, 40 concurrent training jobs, 1 s of
# training, 50 ms per response.
ACCOUNT: dict[str, Any] = dict(rate_limit=20.0, max_concurrent_training=40, training_seconds=1.0, latency=0.05, seed=1)


def photo_avatar(key: str) -> ItemSpec:
    return ItemSpec(
        key=key,
        kind="avatar",
        type="photo",
        name=f"Bench {key}",
        location=HERE,
        file=FileRef("url", f"https://cdn.example.com/bench/{key}.jpg"),
    )


def look_of(key: str, parent: str) -> ItemSpec:
    """A look made from `parent`'s look (an avatar or another look): sent as type prompt."""
    return ItemSpec(
        key=key,
        kind="look",
        type="prompt",
        name=f"Bench {key}",
        location=HERE,
        parent=parent,
        prompt=f"{key}: same person, another outfit",
    )


def presenters(n: int, looks_each: int) -> list[ItemSpec]:
    """n photo avatars, each with `looks_each` looks of it."""
    items: list[ItemSpec] = []
    for i in range(n):
        items.append(photo_avatar(f"p{i}"))
        items.extend(look_of(f"p{i}-l{j}", f"p{i}") for j in range(looks_each))
    return items


def chains(n: int, depth: int) -> list[ItemSpec]:
    """n photo avatars, each the head of a chain of looks of looks `depth` looks deep."""
    items: list[ItemSpec] = []
    for i in range(n):
        parent = f"c{i}"
        items.append(photo_avatar(parent))
        for d in range(1, depth + 1):
            key = f"c{i}-d{d}"
            items.append(look_of(key, parent))
            parent = key
    return items


def half_and_half(total: int) -> list[ItemSpec]:
    """total items: total/2 avatars with one look each (50,000 + 50,000 at 100k)."""
    return presenters(total // 2, 1)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    build: Callable[[int | None], list[ItemSpec]]  # items; the argument is a size, for scaled scenarios
    sandbox: dict[str, Any]  # SandboxConfig fields
    sizes: tuple[int, ...] = ()  # scaled scenario: one row per size
    default: bool = True  # run by a plain `python -m benchmarks`
    wait_timeout: float = 900.0  # harness: seconds before a run is given up

    @property
    def rate(self) -> float:
        """The documented request limit, as a user would pass it (--rate); 0 = none."""
        return float(self.sandbox.get("rate_limit") or 0.0)

    @property
    def scaled(self) -> bool:
        return bool(self.sizes)


def lower_bound(items: list[ItemSpec], sandbox: dict[str, Any]) -> float:
    """Seconds no runner can beat on this account, the largest of three limits:

    - the request rate:      creations / rate_limit                        (polls only add to it)
    - the training cap:      creations * training_seconds / max_concurrent_training
    - the DAG's critical path: along the longest chain, each item costs one POST's latency plus
      its training (a look can only be made from a parent whose training has completed); the
      latency is counted once per POST (the poll that sees completion is not counted).
    Absent limits (None, 0) contribute 0.
    """
    creations = len(items)
    latency = float(sandbox.get("latency") or 0.0)
    training = float(sandbox.get("training_seconds", 1.0))  # SandboxConfig's default
    rate_limit = sandbox.get("rate_limit", 20.0)
    cap = sandbox.get("max_concurrent_training", 40)
    by_rate = creations / rate_limit if rate_limit else 0.0
    by_cap = creations * training / cap if cap else 0.0
    by_path = critical_path(items, latency, training)
    return max(by_rate, by_cap, by_path)


def critical_path(items: list[ItemSpec], latency: float, training: float) -> float:
    """Earliest finish of the last item with unlimited rate and training slots.

    An item is sent when its parent allows (a look: the parent's training completed; an avatar
    joining a manifest avatar's character: the parent's group id, known once its POST answered)
    and finishes latency + training later. Items come parents first (the manifest's order).
    """
    sent: dict[str, float] = {}
    finish: dict[str, float] = {}
    for spec in items:
        start = 0.0
        if spec.parent is not None and spec.parent in finish:
            start = finish[spec.parent] if spec.kind == "look" else sent[spec.parent] + latency
        sent[spec.key] = start
        finish[spec.key] = start + latency + training
    return max(finish.values(), default=0.0)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "onboarding-300",
            "100 photo avatars x 3 looks each (400 creations)",
            lambda _n: presenters(100, 3),
            dict(ACCOUNT),
        ),
        Scenario(
            "deep-chains",
            "20 photo avatars, each a chain of looks of looks 5 deep (120 creations)",
            lambda _n: chains(20, 5),
            dict(ACCOUNT),
        ),
        Scenario(
            "flaky",
            "onboarding-300 with 10% injected faults (4% 5xx, 3% lost response, 3% dropped)",
            lambda _n: presenters(100, 3),
            dict(ACCOUNT, fault_5xx=0.04, fault_lost_response=0.03, fault_drop=0.03, seed=7),
        ),
        Scenario(
            "scale-100k",
            "50% avatars + 50% looks, zero latency, no limits, instant training: overhead",
            lambda n: half_and_half(n or 100_000),
            dict(rate_limit=None, max_concurrent_training=None, training_seconds=0.0, latency=0.0, seed=1),
            sizes=(1_000, 10_000, 100_000),
            wait_timeout=3600.0,
        ),
        # For tests/test_bench.py: seconds, not minutes; not part of `python -m benchmarks`.
        Scenario(
            "tiny",
            "5 photo avatars x 1 look, 0.05 s training, no latency",
            lambda _n: presenters(5, 1),
            dict(rate_limit=50.0, max_concurrent_training=40, training_seconds=0.05, latency=0.0, seed=1),
            default=False,
            wait_timeout=120.0,
        ),
    )
}

QUICK_MAX_ITEMS = 10_000  # --quick: the scaled scenario stops here

# batchavatars-pg: batchavatars with its ledger in PostgreSQL (a server of the benchmark's own, its
# default settings: fsync on), for the cost of the shared ledger against the embedded one.
RUNNERS: tuple[str, ...] = ("batchavatars", "batchavatars-pg", "gather", "bucket")


def default_scenarios() -> list[Scenario]:
    return [s for s in SCENARIOS.values() if s.default]


__all__ = [
    "ACCOUNT",
    "QUICK_MAX_ITEMS",
    "RUNNERS",
    "SCENARIOS",
    "Scenario",
    "chains",
    "critical_path",
    "default_scenarios",
    "half_and_half",
    "lower_bound",
    "presenters",
]
